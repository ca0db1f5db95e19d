"""The office-hours stats as CSV (`?format=csv` or `Accept: text/csv`), with the rules
of the attendance report (collab.core.csvcells): one row per bucket, a `section`
column telling which table it belongs to."""

from __future__ import annotations

import csv
import io

from rest_framework.renderers import BaseRenderer

from collab.core.csvcells import csv_iso, csv_safe

CSV_COLUMNS = [
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
]


def _cell(value) -> object:
    return "" if value is None else value


class StatsCsvRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)

        def bucket(section: str, row: dict, *, day="", week_day="", hour="") -> list:
            return [
                section,
                day,
                week_day,
                hour,
                "",
                "",
                row["joined"],
                row["served"],
                row["left_or_removed"],
                "",
                _cell(row["median_wait_minutes"]),
                _cell(row["p90_wait_minutes"]),
                _cell(row["median_service_minutes"]),
            ]

        writer.writerow(bucket("total", data["totals"]))
        for row in data["by_day"]:
            writer.writerow(bucket("day", row, day=csv_iso(row["date"])))
        for row in data["by_hour"]:
            writer.writerow(bucket("hour", row, week_day=row["day_of_week"], hour=row["hour"]))
        for row in data["busiest_hours"]:
            writer.writerow(bucket("busiest", row, week_day=row["day_of_week"], hour=row["hour"]))
        for row in data["by_staff"]:
            writer.writerow(
                [
                    "staff",
                    "",
                    "",
                    "",
                    row["staff"]["id"],
                    csv_safe(row["staff"]["name"]),
                    "",
                    "",
                    "",
                    row["completed"],
                    "",
                    "",
                    _cell(row["median_service_minutes"]),
                ]
            )
        return out.getvalue().encode("utf-8")
