"""The office-hours stats as CSV (`?format=csv` or `Accept: text/csv`), on the report
rules the attendance report uses too (collab.core.renderers.CsvRenderer): one row per
bucket, a `section` column telling which table it belongs to."""

from __future__ import annotations

from collections.abc import Iterable

from collab.core.renderers import CsvRenderer


def _bucket(section: str, row: dict, *, day=None, week_day=None, hour=None) -> list:
    return [
        section,
        day,
        week_day,
        hour,
        None,
        None,
        row["joined"],
        row["served"],
        row["left_or_removed"],
        None,
        row["median_wait_minutes"],
        row["p90_wait_minutes"],
        row["median_service_minutes"],
    ]


class StatsCsvRenderer(CsvRenderer):
    columns = (
        "section",
        "date",
        "dayOfWeek",
        "hour",
        "staffId",
        "staffName",
        "joined",
        "served",
        "leftOrRemoved",
        "completed",
        "medianWaitMinutes",
        "p90WaitMinutes",
        "medianServiceMinutes",
    )

    def rows(self, data) -> Iterable[list]:
        yield _bucket("total", data["totals"])
        for row in data["by_day"]:
            yield _bucket("day", row, day=row["date"])
        for row in data["by_hour"]:
            yield _bucket("hour", row, week_day=row["day_of_week"], hour=row["hour"])
        for row in data["busiest_hours"]:
            yield _bucket("busiest", row, week_day=row["day_of_week"], hour=row["hour"])
        for row in data["by_staff"]:
            yield [
                "staff",
                None,
                None,
                None,
                row["staff"]["id"],
                row["staff"]["name"],
                None,
                None,
                None,
                row["completed"],
                None,
                None,
                row["median_service_minutes"],
            ]
