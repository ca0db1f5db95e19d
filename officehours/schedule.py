"""Clock arithmetic for weekly slots: which slot occurrence (if any) contains a moment.

Slots are wall-clock times in their own IANA time zone; the day counts like JavaScript
(0 = Sunday), while Python's `weekday()` has 0 = Monday, hence `js_day`.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from officehours.models import OfficeHours


@lru_cache(maxsize=512)
def zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    # Some systems list their local-time and template files too; they are not zone names.
    return frozenset(zoneinfo.available_timezones()) - {"localtime", "posixrules", "Factory"}


def is_valid_timezone(name: str) -> bool:
    """An IANA zone name known to the tz database (not a file path, not "localtime")."""
    return bool(name) and name in _known_zones()


def js_day(moment: datetime) -> int:
    """0 = Sunday ... 6 = Saturday."""
    return (moment.weekday() + 1) % 7


@dataclass(frozen=True)
class Occurrence:
    slot: OfficeHours
    starts_at: datetime  # UTC
    ends_at: datetime  # UTC


def occurrence_at(slot: OfficeHours, now: datetime) -> Occurrence | None:
    """The occurrence of `slot` that contains `now`, if any (start inclusive, end exclusive)."""
    tz = zone(slot.timezone)
    local = now.astimezone(tz)
    if js_day(local) != slot.day_of_week:
        return None
    if not (slot.start_time <= local.time().replace(tzinfo=None) < slot.end_time):
        return None
    starts = datetime.combine(local.date(), slot.start_time, tzinfo=tz).astimezone(UTC)
    ends = datetime.combine(local.date(), slot.end_time, tzinfo=tz).astimezone(UTC)
    return Occurrence(slot=slot, starts_at=starts, ends_at=ends)


def current_occurrences(slots: Iterable[OfficeHours], now: datetime) -> list[Occurrence]:
    found = [occ for slot in slots if slot.is_active and (occ := occurrence_at(slot, now)) is not None]
    return sorted(found, key=lambda occ: (occ.starts_at, str(occ.slot.id)))


def scheduled_open(occurrences: list[Occurrence], manually_closed_at: datetime | None) -> bool:
    """Open by the clock: a slot is in progress that started after the last close by hand
    (closing by hand closes the queue until the next slot)."""
    return any(manually_closed_at is None or occ.starts_at > manually_closed_at for occ in occurrences)
