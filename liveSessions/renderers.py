"""The attendance report as CSV (`?format=csv` or `Accept: text/csv`)."""

from __future__ import annotations

import csv
import io

from rest_framework.renderers import BaseRenderer

from collab.core.csvcells import csv_iso, csv_safe

CSV_COLUMNS = [
    "userId",
    "name",
    "firstJoinedAt",
    "lastLeftAt",
    "present",
    "joins",
    "attendanceSeconds",
    "attendanceMinutes",
    "timeline",
]


_iso = csv_iso
_safe = csv_safe


class AttendanceCsvRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for row in data["attendees"]:
            timeline = "; ".join(f"{_iso(i['joined_at'])}/{_iso(i['left_at'])}" for i in row["intervals"])
            writer.writerow(
                [
                    row["user_id"] or "",
                    _safe(row["name"]),
                    _iso(row["first_joined_at"]),
                    _iso(row["last_left_at"]),
                    "yes" if row["present"] else "no",
                    row["joins"],
                    row["attendance_seconds"],
                    round(row["attendance_seconds"] / 60, 1),
                    timeline,
                ]
            )
        return out.getvalue().encode("utf-8")
