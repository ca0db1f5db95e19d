"""The insight endpoint: figures computed by PostgreSQL from known entries, the CSV, who
may read it and bad input."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from collab.courses.models import EnrollmentRole
from officehours.models import EntryStatus, OfficeHoursQueue
from tests.factories import CourseFactory, EnrollmentFactory, UserFactory

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


def _entry(instructor, student, *, joined, wait=None, service=None, status=None, by=None):
    admitted = joined + timedelta(minutes=wait) if wait is not None else None
    completed = admitted + timedelta(minutes=service) if service is not None else None
    if status is None:
        status = EntryStatus.COMPLETED if completed else EntryStatus.ADMITTED if admitted else EntryStatus.WAITING
    return OfficeHoursQueue(
        instructor=instructor,
        student=student,
        question="q",
        status=status,
        joined_queue_at=joined,
        admitted_at=admitted,
        completed_at=completed,
        ended_at=joined + timedelta(minutes=1) if status in (EntryStatus.LEFT, EntryStatus.REMOVED) else None,
        admitted_by=by if admitted else None,
        completed_by=by if completed else None,
    )


@pytest.fixture
def term(instructor, course, student):
    """Monday 9h: four served by the instructor (waits 10/20/30/40, service 4/6/8/10), one
    left. Tuesday 14h: two served by the TA (waits 5/15, service 12/20), one removed.
    The TA assists in `course`; the Tuesday students are in another course."""
    ta = UserFactory(name="Tara TA")
    EnrollmentFactory(course=course, user=ta, role=EnrollmentRole.TA)
    other = CourseFactory(instructor=instructor)
    outsider_students = [UserFactory() for _ in range(3)]
    for learner in outsider_students:
        EnrollmentFactory(course=other, user=learner)
    mine = [student] + [UserFactory() for _ in range(4)]
    for learner in mine[1:]:
        EnrollmentFactory(course=course, user=learner)
    entries = [
        _entry(instructor, mine[i], joined=MONDAY + timedelta(minutes=i), wait=w, service=s, by=instructor)
        for i, (w, s) in enumerate([(10, 4), (20, 6), (30, 8), (40, 10)])
    ]
    entries.append(_entry(instructor, mine[4], joined=MONDAY + timedelta(minutes=5), status=EntryStatus.LEFT))
    tuesday = MONDAY + timedelta(days=1, hours=5)
    entries += [
        _entry(instructor, outsider_students[0], joined=tuesday, wait=5, service=12, by=ta),
        _entry(instructor, outsider_students[1], joined=tuesday, wait=15, service=20, by=ta),
        _entry(instructor, outsider_students[2], joined=tuesday, status=EntryStatus.REMOVED),
    ]
    OfficeHoursQueue.objects.bulk_create(entries)
    return {"instructor": instructor, "ta": ta}


def _url(instructor, **params):
    query = "&".join(f"{k}={v}" for k, v in {"from": "2026-03-01", "to": "2026-03-07", **params}.items())
    return f"/api/office-hours/queue/{instructor.id}/stats?{query}"


def test_stats_figures_come_from_the_database(api, term):
    instructor, ta = term["instructor"], term["ta"]
    response = api(instructor).get(_url(instructor))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["from"] == "2026-03-01" and body["to"] == "2026-03-07" and body["timezone"] == "UTC"
    assert body["totals"]["joined"] == 8 and body["totals"]["served"] == 6
    assert body["totals"]["leftOrRemoved"] == 2
    monday, tuesday = body["byDay"]
    assert monday == {
        "date": "2026-03-02",
        "joined": 5,
        "served": 4,
        "leftOrRemoved": 1,
        "medianWaitMinutes": 25.0,
        "p90WaitMinutes": 37.0,  # PERCENTILE_CONT(0.9) of 10, 20, 30, 40
        "medianServiceMinutes": 7.0,
    }
    assert tuesday["date"] == "2026-03-03" and tuesday["medianWaitMinutes"] == 10.0
    assert tuesday["medianServiceMinutes"] == 16.0 and tuesday["leftOrRemoved"] == 1
    hours = {(row["dayOfWeek"], row["hour"]): row for row in body["byHour"]}
    assert set(hours) == {(1, 9), (2, 14)}
    assert [(row["dayOfWeek"], row["hour"]) for row in body["busiestHours"]] == [(1, 9), (2, 14)]
    by_staff = {row["staff"]["name"]: row for row in body["byStaff"]}
    assert by_staff[instructor.name]["completed"] == 4 and by_staff[instructor.name]["medianServiceMinutes"] == 7.0
    assert by_staff["Tara TA"]["completed"] == 2 and by_staff["Tara TA"]["medianServiceMinutes"] == 16.0

    # A TA's figures cover their course's students only (the Monday ones).
    mine = api(ta).get(_url(instructor)).json()
    assert mine["totals"]["joined"] == 5 and [d["date"] for d in mine["byDay"]] == ["2026-03-02"]

    # Another zone moves the hours (and days) of the week.
    tokyo = api(instructor).get(_url(instructor, tz="Asia/Tokyo")).json()
    assert {(row["dayOfWeek"], row["hour"]) for row in tokyo["byHour"]} == {(1, 18), (2, 23)}


def test_stats_csv_uses_the_report_rules(api, term):
    instructor = term["instructor"]
    instructor.name = "=HYPERLINK(1)"
    instructor.save()
    response = api(instructor).get(_url(instructor, format="csv"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    sections = [row["section"] for row in rows]
    assert sections.count("day") == 2 and sections.count("staff") == 2 and sections[0] == "total"
    day = next(row for row in rows if row["section"] == "day")
    assert day["date"] == "2026-03-02" and day["medianWaitMinutes"] == "25.0"
    staff_names = {row["staffName"] for row in rows if row["section"] == "staff"}
    assert "'=HYPERLINK(1)" in staff_names


def test_stats_refusals(api, term, student, other_instructor):
    instructor = term["instructor"]
    assert api(student).get(_url(instructor)).status_code == 403
    assert api(other_instructor).get(_url(instructor)).status_code == 403
    assert api(None).get(_url(instructor)).status_code == 401
    response = api(student).get(_url(instructor, format="csv"))
    assert response.status_code == 403 and response.json()["error"]["code"] == "not_queue_instructor"
    owner = api(instructor)
    for params, field in [
        ({"from": "2026-03-09"}, "from"),
        ({"from": "March"}, "from"),
        ({"from": "2025-01-01"}, "from"),
        ({"tz": "Mars/Olympus"}, "tz"),
        # issue 15 (negative_data_rejection): an empty value was read as absent.
        ({"to": ""}, "to"),
        ({"from": ""}, "from"),
        ({"tz": ""}, "tz"),
        ({"format": ""}, "format"),
        # Dates are YYYY-MM-DD within the API's years, no other ISO 8601 spelling.
        ({"from": "20260301"}, "from"),
        ({"from": "2026-W09-1"}, "from"),
        # Year 1 minus the default 27 days left what Python's date can hold (OverflowError).
        ({"from": "0001-01-01", "to": "0001-01-05"}, "from"),
        ({"to": "9999-12-31"}, "to"),
    ]:
        response = owner.get(_url(instructor, **params))
        assert response.status_code == 400, params
        assert response.json()["error"]["code"] == "invalid", params
        assert field in response.json()["error"]["fields"], params
    assert owner.get(f"/api/office-hours/queue/{student.id}/stats").status_code == 404


def test_stats_empty_range_has_nulls_not_errors(api, instructor, course):
    body = api(instructor).get(f"/api/office-hours/queue/{instructor.id}/stats").json()
    assert body["totals"] == {
        "joined": 0,
        "served": 0,
        "leftOrRemoved": 0,
        "medianWaitMinutes": None,
        "p90WaitMinutes": None,
        "medianServiceMinutes": None,
    }
    assert body["byDay"] == [] and body["byStaff"] == [] and body["busiestHours"] == []
