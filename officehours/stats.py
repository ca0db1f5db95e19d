"""Office-hours insight: when students wait longest, and who serves them.

Everything is aggregated by PostgreSQL (GROUP BY with COUNT and PERCENTILE_CONT over
intervals): four queries for a term, whatever its size, on the index
officehours_q_instr_joined (instructor, joined_queue_at) that covers the columns read.
bench/officehours_stats.py seeds 20,000 entries and times it. SQLite (the `make run`
default) has no PERCENTILE_CONT: there the counts still come from the database and the
percentiles from the grouped durations (a development fallback, never production).

Definitions (times are the entry's; days and hours in the requested time zone):
- joined: entries that joined the queue in the bucket;
- served: of those, entries admitted by staff (status admitted or completed);
- wait: joinedQueueAt -> admittedAt of served entries (median, 90th percentile);
- time with staff: admittedAt -> completedAt of completed entries (median);
- leftOrRemoved: entries that left or were removed before being admitted;
- per staff member (by who completed the entry): completed, median time with them.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta

from django.db import connection
from django.db.models import Aggregate, Count, DurationField, ExpressionWrapper, F, Q, QuerySet
from django.db.models.functions import ExtractHour, ExtractWeekDay, TruncDate

from collab.courses.membership import student_in_courses
from officehours.models import EntryStatus, OfficeHoursQueue
from officehours.schedule import zone

BUSIEST_SHOWN = 5
MAX_RANGE_DAYS = 366


class Percentile(Aggregate):
    """PostgreSQL's ordered-set aggregate PERCENTILE_CONT(p) WITHIN GROUP (ORDER BY x)."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(percentile)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    allow_distinct = False

    def __init__(self, expression, percentile: float, **extra):
        if not 0 <= percentile <= 1:
            raise ValueError("percentile must be within 0..1")
        super().__init__(expression, percentile=float(percentile), **extra)


WAIT = ExpressionWrapper(F("admitted_at") - F("joined_queue_at"), output_field=DurationField())
SERVICE = ExpressionWrapper(F("completed_at") - F("admitted_at"), output_field=DurationField())
SERVED = Q(admitted_at__isnull=False, status__in=[EntryStatus.ADMITTED, EntryStatus.COMPLETED])
DONE = Q(status=EntryStatus.COMPLETED, admitted_at__isnull=False, completed_at__isnull=False)
GAVE_UP = Q(status__in=[EntryStatus.LEFT, EntryStatus.REMOVED], admitted_at__isnull=True)


def _minutes(value) -> float | None:
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value) / 1_000_000
    return round(seconds / 60, 1)


def _bucket_aggregates() -> dict:
    counts = {
        "joined": Count("id"),
        "served": Count("id", filter=SERVED),
        "left_or_removed": Count("id", filter=GAVE_UP),
    }
    if connection.vendor != "postgresql":
        return counts
    return {
        **counts,
        "median_wait": Percentile(WAIT, 0.5, filter=SERVED, output_field=DurationField()),
        "p90_wait": Percentile(WAIT, 0.9, filter=SERVED, output_field=DurationField()),
        "median_service": Percentile(SERVICE, 0.5, filter=DONE, output_field=DurationField()),
    }


def _fallback_percentiles(entries: QuerySet, keys: list[str], rows: list[dict]) -> None:
    """SQLite only: the percentiles of each group from its durations."""
    waits: dict[tuple, list[float]] = {}
    services: dict[tuple, list[float]] = {}
    for row in entries.filter(SERVED).values(*keys, "joined_queue_at", "admitted_at", "completed_at", "status"):
        key = tuple(row[k] for k in keys)
        waits.setdefault(key, []).append((row["admitted_at"] - row["joined_queue_at"]).total_seconds())
        if row["status"] == EntryStatus.COMPLETED and row["completed_at"]:
            services.setdefault(key, []).append((row["completed_at"] - row["admitted_at"]).total_seconds())
    for row in rows:
        key = tuple(row[k] for k in keys)
        row["median_wait"] = _pct(waits.get(key), 0.5)
        row["p90_wait"] = _pct(waits.get(key), 0.9)
        row["median_service"] = _pct(services.get(key), 0.5)


def _pct(values: list[float] | None, p: float) -> timedelta | None:
    if not values:
        return None
    ordered = sorted(values)
    # Linear interpolation between closest ranks, as PERCENTILE_CONT.
    rank = p * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return timedelta(seconds=ordered[low] + (ordered[high] - ordered[low]) * (rank - low))


def _bucket(row: dict) -> dict:
    return {
        "joined": row["joined"],
        "served": row["served"],
        "left_or_removed": row["left_or_removed"],
        "median_wait_minutes": _minutes(row.get("median_wait")),
        "p90_wait_minutes": _minutes(row.get("p90_wait")),
        "median_service_minutes": _minutes(row.get("median_service")),
    }


def _grouped(entries: QuerySet, keys: list[str]) -> list[dict]:
    rows = list(entries.values(*keys).annotate(**_bucket_aggregates()).order_by(*keys))
    if connection.vendor != "postgresql":
        _fallback_percentiles(entries, keys, rows)
    return rows


def queue_stats(
    *, instructor_id: uuid.UUID, start: date, end: date, tz_name: str, scope: list[uuid.UUID] | None = None
) -> dict:
    """Insight for the queue of `instructor_id` over the days [start, end] (inclusive, in
    `tz_name`). `scope` (a TA's courses): only the entries of those courses' students.

    Returns {instructor_id, from, to, timezone, totals, by_day: [...], by_hour: [...],
    busiest_hours: [...], by_staff: [...]}; durations in minutes (one decimal), null
    where a bucket has nothing to measure. by_hour: dayOfWeek 0 = Sunday ... 6, hour 0..23."""
    tz = zone(tz_name)
    since = datetime.combine(start, time(0), tzinfo=tz)
    until = datetime.combine(end + timedelta(days=1), time(0), tzinfo=tz)
    entries = OfficeHoursQueue.objects.filter(
        instructor_id=instructor_id, joined_queue_at__gte=since, joined_queue_at__lt=until
    )
    if scope is not None:
        entries = entries.filter(student_in_courses(scope))
    located = entries.annotate(
        day=TruncDate("joined_queue_at", tzinfo=tz),
        week_day=ExtractWeekDay("joined_queue_at", tzinfo=tz),
        hour=ExtractHour("joined_queue_at", tzinfo=tz),
    )
    totals = located.aggregate(**_bucket_aggregates())
    if connection.vendor != "postgresql":
        total_row = [totals]
        _fallback_percentiles(located, [], total_row)
    by_day = [{"date": row["day"], **_bucket(row)} for row in _grouped(located, ["day"])]
    by_hour = [
        # Django's week_day counts 1 = Sunday; the API counts like JavaScript (0 = Sunday).
        {"day_of_week": row["week_day"] - 1, "hour": row["hour"], **_bucket(row)}
        for row in _grouped(located, ["week_day", "hour"])
    ]
    busiest = sorted(
        by_hour, key=lambda b: (-b["joined"], -(b["median_wait_minutes"] or 0), b["day_of_week"], b["hour"])
    )
    return {
        "instructor_id": instructor_id,
        "from": start,
        "to": end,
        "timezone": tz_name,
        "totals": _bucket(totals),
        "by_day": by_day,
        "by_hour": by_hour,
        "busiest_hours": busiest[:BUSIEST_SHOWN],
        "by_staff": _by_staff(entries),
    }


def _by_staff(entries: QuerySet) -> list[dict]:
    done = entries.filter(DONE, completed_by__isnull=False)
    aggregates = {"completed": Count("id")}
    if connection.vendor == "postgresql":
        aggregates["median_service"] = Percentile(SERVICE, 0.5, output_field=DurationField())
    rows = list(
        done.values("completed_by_id", "completed_by__name")
        .annotate(**aggregates)
        .order_by("-completed", "completed_by__name", "completed_by_id")
    )
    if connection.vendor != "postgresql":
        services: dict = {}
        for staff_id, admitted, completed in done.values_list("completed_by_id", "admitted_at", "completed_at"):
            services.setdefault(staff_id, []).append((completed - admitted).total_seconds())
        for row in rows:
            row["median_service"] = _pct(services.get(row["completed_by_id"]), 0.5)
    return [
        {
            "staff": {"id": row["completed_by_id"], "name": row["completed_by__name"]},
            "completed": row["completed"],
            "median_service_minutes": _minutes(row["median_service"]),
        }
        for row in rows
    ]
