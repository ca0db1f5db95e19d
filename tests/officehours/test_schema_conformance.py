"""Office-hours responses match the served schema: cases schemathesis found (issue 15),
each kept as a regression test of this app."""

from __future__ import annotations

import pytest

from officehours import services
from tests.officehours.conftest import join
from tests.openapi import assert_documented

pytestmark = pytest.mark.django_db

BASE = "/api/office-hours"
SLOT = {"dayOfWeek": 1, "startTime": "09:00", "endTime": "10:30"}


@pytest.mark.parametrize(
    "start",
    [
        "14:53:41-14:14",  # an offset DRF's TimeField dropped without a word
        "09:00+02:00",
        "09:00Z",
        "07:14:47.37114",  # fractions came back as "07:14:47.371140", which no schema format describes
        "9:00",
        "24:00",
        "",
        900,
    ],
)
def test_a_slot_time_is_a_wall_clock_time_without_offset_or_fraction(api, instructor, start):
    response = api(instructor).post(BASE, {**SLOT, "startTime": start}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["fields"]["startTime"] == ["Use HH:MM or HH:MM:SS (24-hour, no time zone)."]
    assert_documented("post", "/api/office-hours", response)


def test_slot_times_are_read_as_hh_mm_ss(api, instructor):
    created = api(instructor).post(BASE, {**SLOT, "startTime": "09:05:30"}, format="json")
    assert created.status_code == 201, created.content
    assert (created.json()["startTime"], created.json()["endTime"]) == ("09:05:30", "10:30:00")


def test_a_slot_without_a_link_matches_the_schema(api, instructor, course, student):
    """meetingUrl "" was documented as a `uri` only (DRF builds a read-only model field
    without allow_blank)."""
    created = api(instructor).post(BASE, SLOT, format="json")
    assert created.status_code == 201 and created.json()["meetingUrl"] == ""
    assert_documented("post", "/api/office-hours", created)
    patched = api(instructor).patch(f"{BASE}/{created.json()['id']}", {"location": "B-12"}, format="json")
    assert patched.status_code == 200
    assert_documented("patch", "/api/office-hours/{office_hours_id}", patched)
    for user in (instructor, student):
        schedule = api(user).get(f"{BASE}/instructor/{instructor.id}")
        assert schedule.status_code == 200 and schedule.json()["slots"][0]["meetingUrl"] == ""
        assert_documented("get", "/api/office-hours/instructor/{instructor_id}", schedule)


def test_both_views_of_the_queue_match_the_schema(api, instructor, course, student):
    """The `viewer` discriminator's mapping was keyed "None": "instructor" matched nothing."""
    services.queue_open(actor=instructor, instructor_id=instructor.id)
    join(student, instructor)
    for user, viewer in ((instructor, "instructor"), (student, "student")):
        response = api(user).get(f"{BASE}/queue/{instructor.id}")
        assert response.status_code == 200 and response.json()["viewer"] == viewer
        assert_documented("get", "/api/office-hours/queue/{instructor_id}", response)
