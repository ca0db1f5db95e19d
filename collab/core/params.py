"""Query-parameter parsing shared by list endpoints (bounded numbers, bounded date-times,
opaque keyset cursors). Every parameter is parsed and range-checked here, before a
query is built: a value the database or Python's datetime cannot hold is a 400
`invalid` naming the parameter, never a 500."""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime

from collab.core.errors import InvalidInput

# The date-times the API accepts, in queries and bodies: wide enough for every real
# class, narrow enough that adding a duration or a time zone never leaves what Python
# and PostgreSQL can hold (year 9999 + 1 hour was an OverflowError).
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
# Real UTC offsets run from -12:00 to +14:00; PostgreSQL refuses beyond ±15:59.
MAX_UTC_OFFSET = timedelta(hours=14)


def _params(request):
    return getattr(request, "query_params", request.GET)


def _refuse(name: str, message: str) -> InvalidInput:
    return InvalidInput(f"{name}: {message}", fields={name: [message]})


def uuid_param(request, name: str) -> uuid.UUID | None:
    """An optional UUID query parameter; None when absent, 400 `invalid` naming it when malformed."""
    raw = _params(request).get(name)
    if raw in (None, ""):
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise _refuse(name, "Must be a UUID.")


def limit_param(request, *, default: int = 50, maximum: int = 100, minimum: int = 1, name: str = "limit") -> int:
    """A bounded integer query parameter (`?limit=` unless `name` says otherwise), from a
    DRF request or a plain Django one (async views)."""
    raw = _params(request).get(name)
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


def bounded_datetime(value: datetime, *, name: str) -> datetime:
    """`value` (aware) as UTC, if it lies in [EARLIEST, LATEST) with a real UTC offset;
    InvalidInput naming `name` otherwise."""
    offset = value.utcoffset()
    if offset is None:
        raise _refuse(name, "Must be an ISO 8601 date-time with a time zone.")
    if abs(offset) > MAX_UTC_OFFSET:
        raise _refuse(name, "The UTC offset must be between -14:00 and +14:00.")
    try:
        in_range = EARLIEST <= value < LATEST
    except OverflowError:  # e.g. year 1 at +14:00: before year 1 in UTC
        in_range = False
    if not in_range:
        raise _refuse(name, f"Must be from {EARLIEST.year} up to {LATEST.year} (UTC).")
    return value.astimezone(UTC)


def datetime_param(request, name: str) -> datetime | None:
    """An ISO 8601 date-time query parameter with a time zone (a `+` sent unescaped
    arrives as a space), bounded by `bounded_datetime`; None when absent."""
    raw = _params(request).get(name)
    if raw in (None, ""):
        return None
    try:
        value = parse_datetime(raw.replace(" ", "+"))
    except ValueError:  # well-formed but impossible, e.g. month 13 or offset +99:00
        value = None
    if value is None or value.tzinfo is None:
        raise _refuse(name, "Must be an ISO 8601 date-time with a time zone.")
    return bounded_datetime(value, name=name)


# -- keyset cursors ----------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """A position in a list ordered newest first by (time, id): the last item seen."""

    time: datetime
    id: uuid.UUID

    def encode(self) -> str:
        raw = orjson.dumps([self.time.astimezone(UTC).isoformat(), str(self.id)])
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def after_item(cls, item, *, time_field: str) -> Cursor:
        return cls(getattr(item, time_field), item.id)


def cursor_param(request, name: str = "cursor") -> Cursor | None:
    """The opaque cursor a previous page returned (`nextCursor`); None when absent.
    Anything that is not one is a 400 `invalid` naming the parameter."""
    raw = _params(request).get(name)
    if raw in (None, ""):
        return None
    try:
        if len(raw) > 200:
            raise ValueError
        decoded = orjson.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        time_text, id_text = decoded
        time = datetime.fromisoformat(time_text)
        cursor = Cursor(bounded_datetime(time, name=name), uuid.UUID(id_text))
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError, InvalidInput):
        raise _refuse(name, "Not a cursor this API returned; start from the first page.") from None
    return cursor


def keyset_page(queryset: QuerySet, *, time_field: str, cursor: Cursor | None, limit: int) -> tuple[list, str | None]:
    """Up to `limit` items of `queryset`, newest first by (`time_field`, id), strictly
    after `cursor`; and the cursor of the next page (None on the last page). Items that
    share a time are ordered by id, so none is skipped or repeated across pages."""
    if cursor is not None:
        queryset = queryset.filter(
            Q(**{f"{time_field}__lt": cursor.time}) | Q(**{time_field: cursor.time, "id__lt": cursor.id})
        )
    items = list(queryset.order_by(f"-{time_field}", "-id")[: limit + 1])
    if len(items) <= limit:
        return items, None
    items = items[:limit]
    return items, Cursor.after_item(items[-1], time_field=time_field).encode()


# -- the same parameters in the OpenAPI schema -------------------------------------------

NEXT_CURSOR_HEADER = "X-Next-Cursor"


def cursor_schema_parameters(*, what: str = "items") -> list:
    """OpenAPI parameters of a keyset-paged list: `cursor` and `before`."""
    from drf_spectacular.types import OpenApiTypes
    from drf_spectacular.utils import OpenApiParameter

    return [
        OpenApiParameter(
            "cursor",
            OpenApiTypes.STR,
            description=f"Opaque: the nextCursor of the previous page. Pages are newest first over (time, id), "
            f"so {what} sharing a time are neither skipped nor repeated.",
        ),
        OpenApiParameter(
            "before",
            OpenApiTypes.DATETIME,
            description=f"Only {what} strictly older than this ISO 8601 time "
            f"(with a zone, {EARLIEST.year}..{LATEST.year}).",
        ),
    ]
