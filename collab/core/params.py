"""Query-parameter parsing shared by list endpoints (bounded lists, cursors)."""

from __future__ import annotations

from datetime import datetime

from django.utils.dateparse import parse_datetime

from collab.core.errors import InvalidInput


def limit_param(request, *, default: int = 50, maximum: int = 100, minimum: int = 1, name: str = "limit") -> int:
    """A bounded integer query parameter (`?limit=` unless `name` says otherwise), from a
    DRF request or a plain Django one (async views)."""
    raw = getattr(request, "query_params", request.GET).get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not minimum <= value <= maximum:
        raise InvalidInput(
            f"{name} must be an integer from {minimum} to {maximum}.",
            fields={name: [f"Must be an integer from {minimum} to {maximum}."]},
        )
    return value


def datetime_param(request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    value = parse_datetime(raw.replace(" ", "+"))
    if value is None or value.tzinfo is None:
        raise InvalidInput(
            f"{name} must be an ISO 8601 date-time with a time zone.",
            fields={name: ["Must be an ISO 8601 date-time with a time zone."]},
        )
    return value
