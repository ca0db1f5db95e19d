"""Office-hours insight: when students wait longest, and who serves them.

Everything is aggregated by PostgreSQL in ONE query (plus one small read of the staff
members' names): the entries of the range are read once (the ORM builds that part,
with the same filters and membership expressions as everywhere else; the index
officehours_q_instr_joined on (instructor, joined_queue_at) covers it), and
`GROUP BY GROUPING SETS ((), (day), (day of week, hour), (staff))` computes every
table with COUNT ... FILTER and PERCENTILE_CONT over seconds.
bench/officehours_stats.py seeds 20,000 entries and times it. SQLite (the `make run`
default) has neither GROUPING SETS nor PERCENTILE_CONT: there the counts come from
grouped ORM queries and the percentiles from the grouped durations (a development
fallback, never production).

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
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import ExtractHour, ExtractWeekDay, TruncDate

from collab.accounts.models import User
from collab.courses.membership import student_in_courses
from officehours.models import EntryStatus, OfficeHoursQueue
from officehours.schedule import zone

BUSIEST_SHOWN = 5
MAX_RANGE_DAYS = 366


SERVED = Q(admitted_at__isnull=False, status__in=[EntryStatus.ADMITTED, EntryStatus.COMPLETED])
DONE = Q(status=EntryStatus.COMPLETED, admitted_at__isnull=False, completed_at__isnull=False)
GAVE_UP = Q(status__in=[EntryStatus.LEFT, EntryStatus.REMOVED], admitted_at__isnull=True)


def _minutes(value) -> float | None:
    """Minutes with one decimal from a timedelta or a number of seconds."""
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    return round(seconds / 60, 1)


def _bucket_aggregates() -> dict:
    return {
        "joined": Count("id"),
        "served": Count("id", filter=SERVED),
        "left_or_removed": Count("id", filter=GAVE_UP),
    }


# The one PostgreSQL query. `{entries}` is the ORM's SELECT of the range's entries (its
# parameters come first); the statuses are bound as parameters too.
PG_STATS_SQL = """
WITH e AS ({entries}),
l AS (
    SELECT
        (e.joined_queue_at AT TIME ZONE %s) AS local_at,
        e.completed_by_id AS staff_id,
        (e.admitted_at IS NOT NULL AND e.status IN (%s, %s)) AS served,
        (e.admitted_at IS NULL AND e.status IN (%s, %s)) AS gave_up,
        (e.status = %s AND e.admitted_at IS NOT NULL AND e.completed_at IS NOT NULL) AS done,
        EXTRACT(EPOCH FROM (e.admitted_at - e.joined_queue_at))::float8 AS wait_s,
        EXTRACT(EPOCH FROM (e.completed_at - e.admitted_at))::float8 AS service_s
    FROM e
),
b AS (
    SELECT
        l.*,
        local_at::date AS day,
        EXTRACT(DOW FROM local_at)::int AS dow,
        EXTRACT(HOUR FROM local_at)::int AS hour
    FROM l
)
SELECT
    GROUPING(day) AS no_day,
    GROUPING(dow, hour) AS no_hour,
    GROUPING(staff_id) AS no_staff,
    day,
    dow,
    hour,
    staff_id,
    COUNT(*) AS joined,
    COUNT(*) FILTER (WHERE served) AS served,
    COUNT(*) FILTER (WHERE gave_up) AS left_or_removed,
    COUNT(*) FILTER (WHERE done) AS completed,
    PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY wait_s) FILTER (WHERE served) AS median_wait,
    PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY wait_s) FILTER (WHERE served) AS p90_wait,
    PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY service_s) FILTER (WHERE done) AS median_service
FROM b
GROUP BY GROUPING SETS ((), (day), (dow, hour), (staff_id))
"""


def pg_stats_query(entries: QuerySet, tz_name: str) -> tuple[str, list]:
    """The SQL and parameters of the one PostgreSQL statistics query (bench/ explains it).
    The range is read with only the columns needed, unordered and without joins."""
    inner, inner_params = (
        entries.order_by()
        .values("joined_queue_at", "admitted_at", "completed_at", "status", "completed_by_id")
        .query.sql_with_params()
    )
    params = [
        *inner_params,
        tz_name,
        EntryStatus.ADMITTED,
        EntryStatus.COMPLETED,
        EntryStatus.LEFT,
        EntryStatus.REMOVED,
        EntryStatus.COMPLETED,
    ]
    return PG_STATS_SQL.format(entries=inner), params


def _pg_stats(entries: QuerySet, tz_name: str) -> tuple[dict, list[dict], list[dict], list[dict]]:
    sql, params = pg_stats_query(entries, tz_name)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        columns = [col[0] for col in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    totals = {"joined": 0, "served": 0, "left_or_removed": 0}
    by_day, by_hour, by_staff = [], [], []
    for row in rows:
        if row["no_day"] and row["no_hour"] and row["no_staff"]:
            totals = row
        elif not row["no_day"]:
            by_day.append({"date": row["day"], **_bucket(row)})
        elif not row["no_hour"]:
            # PostgreSQL's DOW counts 0 = Sunday, like the API (and JavaScript).
            by_hour.append({"day_of_week": row["dow"], "hour": row["hour"], **_bucket(row)})
        elif row["staff_id"] is not None and row["completed"]:
            by_staff.append(
                {
                    "staff": {"id": row["staff_id"], "name": ""},
                    "completed": row["completed"],
                    "median_service_minutes": _minutes(row["median_service"]),
                }
            )
    # A handful of staff: their names in one small query rather than a join over the range.
    names = dict(User.objects.filter(id__in=[b["staff"]["id"] for b in by_staff]).values_list("id", "name"))
    for bucket in by_staff:
        bucket["staff"]["name"] = names.get(bucket["staff"]["id"], "")
    by_staff.sort(key=lambda b: (-b["completed"], b["staff"]["name"], str(b["staff"]["id"])))
    by_day.sort(key=lambda b: b["date"])
    by_hour.sort(key=lambda b: (b["day_of_week"], b["hour"]))
    return totals, by_day, by_hour, by_staff


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
    if connection.vendor == "postgresql":
        totals, by_day, by_hour, by_staff = _pg_stats(entries, tz_name)
    else:
        totals, by_day, by_hour, by_staff = _orm_stats(entries, tz)
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
        "by_staff": by_staff,
    }


def _orm_stats(entries: QuerySet, tz) -> tuple[dict, list[dict], list[dict], list[dict]]:
    """The development fallback (SQLite): grouped ORM queries, percentiles in Python."""
    located = entries.annotate(
        day=TruncDate("joined_queue_at", tzinfo=tz),
        week_day=ExtractWeekDay("joined_queue_at", tzinfo=tz),
        hour=ExtractHour("joined_queue_at", tzinfo=tz),
    )
    totals = located.aggregate(**_bucket_aggregates())
    _fallback_percentiles(located, [], [totals])
    by_day = [{"date": row["day"], **_bucket(row)} for row in _grouped(located, ["day"])]
    by_hour = [
        # Django's week_day counts 1 = Sunday; the API counts like JavaScript (0 = Sunday).
        {"day_of_week": row["week_day"] - 1, "hour": row["hour"], **_bucket(row)}
        for row in _grouped(located, ["week_day", "hour"])
    ]
    return totals, by_day, by_hour, _orm_by_staff(entries)


def _orm_by_staff(entries: QuerySet) -> list[dict]:
    done = entries.filter(DONE, completed_by__isnull=False)
    rows = list(
        done.values("completed_by_id", "completed_by__name")
        .annotate(completed=Count("id"))
        .order_by("-completed", "completed_by__name", "completed_by_id")
    )
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
