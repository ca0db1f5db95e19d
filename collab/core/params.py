"""Query-parameter parsing shared by list endpoints (bounded numbers, bounded date-times,
dates, UUIDs, choices, opaque keyset cursors), and the one rule for UUIDs sent as text.

Every query parameter is parsed and range-checked here, before a query is built: a value
the database or Python's datetime cannot hold is a 400 `invalid` naming the parameter,
never a 500. A parameter that is present but empty (`?before=`) is refused the same way,
not read as absent: the OpenAPI schema types every parameter (a date-time, a UUID, an
integer …), and "" is none of them; a client leaves the parameter out instead."""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

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

MSG_EMPTY = "May not be empty; leave the parameter out instead."
MSG_NOT_UUID = "Must be a UUID string (8-4-4-4-12 hexadecimal digits)."

# A UUID as the API writes it (RFC 4122 text, hex digits in either case). Python's
# uuid.UUID() also takes braces, "urn:uuid:", no hyphens and (DRF) integers and
# booleans; none of those is the string format the schema documents.
_UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_INTEGER_TEXT = re.compile(r"-?[0-9]{1,18}")
_DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def strict_uuid(value: object) -> uuid.UUID:
    """`value` as a UUID if it is a string in canonical form (8-4-4-4-12 hex digits, any
    case); ValueError otherwise: never a number, a boolean or another spelling. The rule
    of every UUID the API reads: bodies, socket frames and query parameters."""
    if isinstance(value, str) and _UUID_TEXT.fullmatch(value):
        return uuid.UUID(value)
    raise ValueError(MSG_NOT_UUID)


def _params(request):
    return getattr(request, "query_params", request.GET)


def _refuse(name: str, message: str) -> InvalidInput:
    return InvalidInput.for_fields({name: [message]})


def query_value(request, name: str) -> str | None:
    """The raw text of query parameter `name`; None when absent, 400 `invalid` naming it
    when present but empty."""
    raw = _params(request).get(name)
    if raw is None:
        return None
    if raw == "":
        raise _refuse(name, MSG_EMPTY)
    return raw


def uuid_param(request, name: str) -> uuid.UUID | None:
    """An optional UUID query parameter (`strict_uuid`); None when absent, 400 `invalid`
    naming it when empty or malformed."""
    raw = query_value(request, name)
    if raw is None:
        return None
    try:
        return strict_uuid(raw)
    except ValueError:
        raise _refuse(name, MSG_NOT_UUID) from None


def limit_param(request, *, default: int = 50, maximum: int = 100, minimum: int = 1, name: str = "limit") -> int:
    """A bounded integer query parameter (`?limit=` unless `name` says otherwise), from a
    DRF request or a plain Django one (async views): decimal digits with an optional
    minus, in [minimum, maximum]; `default` when absent, 400 `invalid` naming it otherwise."""
    raw = query_value(request, name)
    if raw is None:
        return default
    value = int(raw) if _INTEGER_TEXT.fullmatch(raw) else None
    if value is None or not minimum <= value <= maximum:
        raise InvalidInput.for_fields({name: [f"Must be an integer from {minimum} to {maximum}."]})
    return value


def choice_param(request, name: str, choices: Iterable[str]) -> str | None:
    """An optional query parameter that is one of `choices`; None when absent, 400
    `invalid` naming it otherwise."""
    raw = query_value(request, name)
    if raw is None:
        return None
    allowed = list(choices)
    if raw not in allowed:
        raise _refuse(name, f"Must be one of: {', '.join(allowed)}.")
    return raw


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
    raw = query_value(request, name)
    if raw is None:
        return None
    try:
        value = parse_datetime(raw.replace(" ", "+"))
    except ValueError:  # well-formed but impossible, e.g. month 13 or offset +99:00
        value = None
    if value is None or value.tzinfo is None:
        raise _refuse(name, "Must be an ISO 8601 date-time with a time zone.")
    return bounded_datetime(value, name=name)


def date_param(request, name: str) -> date | None:
    """A calendar date query parameter, `YYYY-MM-DD` (no other ISO 8601 spelling), from
    EARLIEST's year up to LATEST's (so a day before or after it still exists); None when
    absent, 400 `invalid` naming it otherwise."""
    raw = query_value(request, name)
    if raw is None:
        return None
    try:
        value = date.fromisoformat(raw) if _DATE_TEXT.fullmatch(raw) else None
    except ValueError:  # e.g. 2024-02-30
        value = None
    if value is None:
        raise _refuse(name, "Must be a date (YYYY-MM-DD).")
    if not EARLIEST.date() <= value < LATEST.date():
        raise _refuse(name, f"Must be from {EARLIEST.year} up to {LATEST.year}.")
    return value


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
    raw = query_value(request, name)
    if raw is None:
        return None
    try:
        if len(raw) > 200:
            raise ValueError
        decoded = orjson.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        time_text, id_text = decoded
        time = datetime.fromisoformat(time_text)
        cursor = Cursor(bounded_datetime(time, name=name), strict_uuid(id_text))
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
            {"type": "string", "minLength": 1},
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


def limit_schema_parameter(
    *, default: int, maximum: int, minimum: int = 1, name: str = "limit", what: str = "How many"
):
    """The OpenAPI parameter `limit_param` reads, its bounds and default in the schema."""
    from drf_spectacular.utils import OpenApiParameter

    return OpenApiParameter(
        name,
        {"type": "integer", "minimum": minimum, "maximum": maximum, "default": default},
        description=f"{what}: {minimum}..{maximum}, default {default}.",
    )
