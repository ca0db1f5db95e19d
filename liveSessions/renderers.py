"""The attendance report as CSV (`?format=csv` or `Accept: text/csv`), on the shared
report rules (collab.core.renderers.CsvRenderer)."""

from __future__ import annotations

from collections.abc import Iterable

from collab.core.csvcells import csv_iso
from collab.core.renderers import CsvRenderer


class AttendanceCsvRenderer(CsvRenderer):
    columns = (
        "userId",
        "name",
        "firstJoinedAt",
        "lastLeftAt",
        "present",
        "joins",
        "attendanceSeconds",
        "attendanceMinutes",
        "timeline",
    )

    def rows(self, data) -> Iterable[list]:
        for row in data["attendees"]:
            yield [
                row["user_id"],
                row["name"],
                row["first_joined_at"],
                row["last_left_at"],
                row["present"],
                row["joins"],
                row["attendance_seconds"],
                round(row["attendance_seconds"] / 60, 1),
                # joinedAt/leftAt of every interval, "; "-separated (an open one ends in "/").
                "; ".join(f"{csv_iso(i['joined_at'])}/{csv_iso(i['left_at'])}" for i in row["intervals"]),
            ]
