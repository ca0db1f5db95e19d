"""REST: a session's attendance report, as JSON and CSV: its content, errors staying JSON,
an empty format refused, and OPTIONS and HEAD answering without the CSV renderer."""

from __future__ import annotations

import csv
import io

import pytest

from liveSessions import services
from tests.factories import EnrollmentFactory, UserFactory
from tests.liveSessions.conftest import BASE

pytestmark = pytest.mark.django_db


# -- attendance report ---------------------------------------------------------------------


def test_attendance_report_json_and_csv(api, live, instructor, student, course):
    other = UserFactory(name="=HYPERLINK(evil)")
    EnrollmentFactory(course=course, user=other)
    services.attendance_join(actor=student, session_id=live.id)
    services.attendance_join(actor=other, session_id=live.id)
    services.attendance_leave(actor=other, session_id=live.id)
    services.live_session_end(actor=instructor, session_id=live.id)

    data = api(instructor).get(f"{BASE}/{live.id}/attendance").json()
    assert data["sessionId"] == str(live.id)
    rows = {row["userId"]: row for row in data["attendees"]}
    assert set(rows) == {str(student.id), str(other.id)}
    assert rows[str(student.id)]["joins"] == 1
    assert len(rows[str(student.id)]["intervals"]) == 1
    assert rows[str(student.id)]["attendanceSeconds"] >= 0

    response = api(instructor).get(f"{BASE}/{live.id}/attendance?format=csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment; filename=")
    assert ".csv" in response["Content-Disposition"]
    table = list(csv.reader(io.StringIO(response.content.decode())))
    assert table[0][:3] == ["userId", "name", "firstJoinedAt"]
    assert {row[0] for row in table[1:]} == {str(student.id), str(other.id)}
    assert "'=HYPERLINK(evil)" in {row[1] for row in table[1:]}


def test_attendance_csv_errors_stay_json(api, live, student):
    response = api(student).get(f"{BASE}/{live.id}/attendance?format=csv")
    assert response.status_code == 403
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "not_session_owner"
    anonymous = api(None).get(f"{BASE}/{live.id}/attendance?format=csv")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"]


def test_attendance_refuses_an_empty_format(api, live, instructor):
    """issue 15: `?format=` was read as absent; the schema enumerates json and csv."""
    response = api(instructor).get(f"{BASE}/{live.id}/attendance?format=")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["fields"] == {"format": ["May not be empty; leave the parameter out instead."]}


def test_options_and_head_on_the_csv_report_answer_without_the_csv_renderer(api, live, instructor):
    """issue 15: OPTIONS …/attendance?format=csv was a 500 (KeyError in the CSV renderer)."""
    options = api(instructor).options(f"{BASE}/{live.id}/attendance?format=csv")
    assert options.status_code == 200 and options["Content-Type"].startswith("application/json")
    assert "GET" in options["Allow"]
    head = api(instructor).head(f"{BASE}/{live.id}/attendance?format=csv")
    assert head.status_code == 200 and head["Content-Type"].startswith("text/csv") and head.content == b""
    refused = api(UserFactory()).get(f"{BASE}/{live.id}/attendance?format=csv")
    assert refused.status_code in (403, 404) and refused.json()["error"]["code"]
