"""REST: a session's own routes: create (the camel-case shape, no capacity, bad input, an
unknown course), end with or without a recording URL, an unknown session, and join's answer."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from liveSessions.models import LiveSession
from tests.liveSessions.conftest import BASE, S, _create_body

pytestmark = pytest.mark.django_db


# -- create and shapes -------------------------------------------------------------------


def test_create_returns_the_session_in_camel_case(api, instructor, course):
    body = _create_body(courseId=str(course.id), materials=[{"title": "Slides", "url": "https://x.example/s.pdf"}])
    response = api(instructor).post(BASE, body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["courseId"] == str(course.id)
    assert data["status"] == "scheduled"
    assert data["capacity"] == 25
    assert data["duration"] == 50
    assert data["activeAttendees"] == 0
    assert data["materials"] == [{"title": "Slides", "url": "https://x.example/s.pdf"}]
    assert data["instructor"]["id"] == str(instructor.id)
    assert data["recordingUrl"] is None
    assert LiveSession.objects.get(id=data["id"]).course_id == course.id


def test_create_without_capacity_has_no_limit(api, instructor):
    body = _create_body()
    del body["capacity"]
    response = api(instructor).post(BASE, body, format="json")
    assert response.status_code == 201
    assert response.json()["capacity"] is None and response.json()["courseId"] is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"scheduledAt": "2001-01-01T00:00:00Z"}, "scheduledAt"),
        ({"scheduledAt": "not a date"}, "scheduledAt"),
        # issue 15: the planned end of 9999-12-31 overflowed (OverflowError, a 500).
        ({"scheduledAt": "9999-12-31T23:59:59Z"}, "scheduledAt"),
        ({"scheduledAt": "2099-12-31T00:00:00Z"}, "scheduledAt"),
        ({"scheduledAt": (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S+16:00")}, "scheduledAt"),
        ({"scheduledAt": (timezone.now() + timedelta(days=1)).replace(tzinfo=None).isoformat()}, "scheduledAt"),
        ({"scheduledAt": (timezone.now() + timedelta(days=731)).isoformat()}, "scheduledAt"),
        ({"duration": 0}, "duration"),
        ({"duration": 1441}, "duration"),
        ({"capacity": -1}, "capacity"),
        ({"capacity": 0}, "capacity"),
        ({"capacity": 10001}, "capacity"),
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"courseId": "nope"}, "courseId"),
        # issue 15 (negative_data_rejection): DRF coerced these to what the schema forbids.
        ({"courseId": False}, "courseId"),
        ({"courseId": 1}, "courseId"),
        ({"duration": "60"}, "duration"),
        ({"duration": 60.5}, "duration"),
        ({"duration": True}, "duration"),
        ({"capacity": "25"}, "capacity"),
        ({"materials": [{"title": "a", "url": 5}]}, "materials"),
        ({"materials": [{"title": "a", "url": "javascript:alert(1)"}]}, "materials"),
        ({"materials": [{"title": "a", "url": "ftp://x.example/a"}]}, "materials"),
        ({"materials": "slides"}, "materials"),
    ],
)
def test_bad_create_input_is_400_with_the_field(api, instructor, change, field):
    response = api(instructor).post(BASE, _create_body(**change), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]


def test_create_for_an_unknown_course_is_404(api, instructor):
    response = api(instructor).post(BASE, _create_body(courseId=str(uuid.uuid4())), format="json")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "course_not_found" and error["fields"] == {"courseId": ["Course not found."]}


@pytest.mark.parametrize("url", ["not-a-url", "javascript:alert(1)", "ftp://files.example/rec"])
def test_end_refuses_a_bad_recording_url(api, live, instructor, url):
    response = api(instructor).post(f"{BASE}/{live.id}/end", {"recordingUrl": url}, format="json")
    assert response.status_code == 400
    assert "recordingUrl" in response.json()["error"]["fields"]
    live.refresh_from_db()
    assert live.status == S.LIVE


def test_end_with_recording_url(api, live, instructor):
    response = api(instructor).post(f"{BASE}/{live.id}/end", {"recordingUrl": "https://rec.example/v"}, format="json")
    assert response.status_code == 200
    assert response.json()["recordingUrl"] == "https://rec.example/v"
    assert response.json()["status"] == "ended"


@pytest.mark.parametrize(
    "path", ["/{id}", "/{id}/join", "/{id}/leave", "/{id}/attendees", "/{id}/messages", "/{id}/attendance"]
)
def test_unknown_session_is_404(api, student, path):
    url = BASE + path.format(id=uuid.uuid4())
    response = api(student).post(url) if path.endswith(("join", "leave")) else api(student).get(url)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "session_not_found"


def test_join_answers_state_and_is_idempotent(api, live, student):
    first = api(student).post(f"{BASE}/{live.id}/join").json()
    second = api(student).post(f"{BASE}/{live.id}/join").json()
    assert first["present"] and not first["alreadyPresent"]
    assert second["alreadyPresent"] and second["activeAttendees"] == 1
    detail = api(student).get(f"{BASE}/{live.id}").json()
    assert detail["activeAttendees"] == 1
    left = api(student).post(f"{BASE}/{live.id}/leave").json()
    assert left["present"] is False and left["activeAttendees"] == 0
