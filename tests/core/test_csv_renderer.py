"""The one CSV base every report downloads with (collab.core.renderers.CsvRenderer):
its cell rules, and that both reports (attendance, office-hours insight) stand on it."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime

from collab.core.renderers import CsvRenderer
from liveSessions.renderers import AttendanceCsvRenderer
from officehours.renderers import StatsCsvRenderer


class _Report(CsvRenderer):
    columns = ("text", "number", "when", "day", "flag", "missing", "id")

    def rows(self, data):
        yield from data


def _table(renderer, data) -> list[list[str]]:
    body = renderer.render(data)
    assert isinstance(body, bytes)
    return list(csv.reader(io.StringIO(body.decode("utf-8"))))


def test_cells_follow_one_rule_set():
    an_id = uuid.uuid4()
    table = _table(
        _Report(),
        [
            ["=HYPERLINK(1)", -3, datetime(2026, 1, 5, 9, 30, tzinfo=UTC), date(2026, 1, 5), True, None, an_id],
            ["+1", 2.5, None, None, False, None, None],
            ["@cmd", 0, None, None, None, None, None],
            ["-2", 0, None, None, None, None, None],
            ["\tx", 0, None, None, None, None, None],
            ['Zoë, "quoted"\nnext line', 0, None, None, None, None, None],
        ],
    )
    assert table[0] == list(_Report.columns)
    assert table[1] == ["'=HYPERLINK(1)", "-3", "2026-01-05T09:30:00+00:00", "2026-01-05", "yes", "", str(an_id)]
    assert table[2][:5] == ["'+1", "2.5", "", "", "no"]
    # Every text cell is made formula-safe; numbers (even negative ones) are left alone.
    assert [row[0] for row in table[3:6]] == ["'@cmd", "'-2", "'\tx"]
    assert table[6][0] == 'Zoë, "quoted"\nnext line'


def test_both_reports_use_the_base_and_its_rules():
    for renderer in (AttendanceCsvRenderer, StatsCsvRenderer):
        assert issubclass(renderer, CsvRenderer)
        assert renderer.render is CsvRenderer.render
        assert (renderer.media_type, renderer.format, renderer.charset) == ("text/csv", "csv", "utf-8")
    empty = {"joined": 0, "served": 0, "left_or_removed": 0}
    empty |= {"median_wait_minutes": None, "p90_wait_minutes": None, "median_service_minutes": None}
    stats = {
        "totals": empty,
        "by_day": [],
        "by_hour": [],
        "busiest_hours": [],
        "by_staff": [{"staff": {"id": "s1", "name": "=cmd"}, "completed": 1, "median_service_minutes": 4.5}],
    }
    table = _table(StatsCsvRenderer(), stats)
    assert table[1] == ["total", "", "", "", "", "", "0", "0", "0", "", "", "", ""]
    assert table[2][4:6] == ["s1", "'=cmd"]
    attendance = {
        "attendees": [
            {
                "user_id": None,
                "name": "@evil",
                "first_joined_at": None,
                "last_left_at": None,
                "present": True,
                "joins": 0,
                "attendance_seconds": 90,
                "intervals": [],
            }
        ]
    }
    row = _table(AttendanceCsvRenderer(), attendance)[1]
    assert row == ["", "'@evil", "", "", "yes", "0", "90", "1.5", ""]
