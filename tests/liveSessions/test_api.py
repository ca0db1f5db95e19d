"""REST: the role x action matrix of every route, bad input, lists, the CSV report."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collab.courses.models import EnrollmentRole
from liveSessions import services
from liveSessions.models import LiveSession, SessionMessage, SessionStatus
from tests.factories import CourseFactory, EnrollmentFactory, UserFactory
from tests.liveSessions.factories import live_session

pytestmark = pytest.mark.django_db

S = SessionStatus
BASE = "/api/live-sessions"
ROLES = ["owner", "other_instructor", "enrolled", "outsider", "admin", "anonymous", "ta"]


@pytest.fixture
def actors(instructor, other_instructor, student, other_student, admin_user, course):
    ta = UserFactory(name="Course TA")
    EnrollmentFactory(course=course, user=ta, role=EnrollmentRole.TA)
    return {
        "ta": ta,
        "owner": instructor,
        "other_instructor": other_instructor,
        "enrolled": student,
        "outsider": other_student,
        "admin": admin_user,
        "anonymous": None,
    }


def _create_body(**extra):
    return {
        "title": "Week 2",
        "description": "Loops",
        "scheduledAt": (timezone.now() + timedelta(days=1)).isoformat(),
        "duration": 50,
        "capacity": 25,
        **extra,
    }


# action -> (method, path template, status the session starts in)
ACTIONS = {
    "detail": ("get", "/{id}", S.SCHEDULED),
    "course_list": ("get", "/course/{course}", S.SCHEDULED),
    "my_sessions": ("get", "/instructor/my-sessions", S.SCHEDULED),
    "create": ("post", "", None),
    "start": ("post", "/{id}/start", S.SCHEDULED),
    "end": ("post", "/{id}/end", S.LIVE),
    "cancel": ("post", "/{id}/cancel", S.SCHEDULED),
    "join": ("post", "/{id}/join", S.LIVE),
    "leave": ("post", "/{id}/leave", S.LIVE),
    "attendees": ("get", "/{id}/attendees", S.LIVE),
    "messages": ("get", "/{id}/messages", S.LIVE),
    "attendance": ("get", "/{id}/attendance", S.LIVE),
    "delete_message": ("delete", "/{id}/messages/{message}", S.LIVE),
}

# Course session: expected status per role, in ROLES order. `ta`: a TA of the course
# (course staff: attendance and chat moderation; never the session's lifecycle).
COURSE_MATRIX = {
    "detail": [200, 404, 200, 404, 200, 401, 200],
    "course_list": [200, 404, 200, 404, 200, 401, 200],
    "my_sessions": [200, 200, 403, 403, 403, 401, 403],
    "create": [201, 403, 403, 403, 403, 401, 403],
    "start": [200, 404, 403, 404, 403, 401, 403],
    "end": [200, 404, 403, 404, 403, 401, 403],
    "cancel": [200, 404, 403, 404, 403, 401, 403],
    "join": [200, 404, 200, 404, 200, 401, 200],
    "leave": [200, 404, 200, 404, 200, 401, 200],
    "attendees": [200, 404, 200, 404, 200, 401, 200],
    "messages": [200, 404, 200, 404, 200, 401, 200],
    "attendance": [200, 404, 403, 404, 200, 401, 200],
    "delete_message": [204, 404, 403, 404, 204, 401, 204],
}

# Open session (no course), owned by `instructor`: every signed-in user may join. A TA
# of some course is nobody special here.
OPEN_MATRIX = {
    "detail": [200, 200, 200, 200, 200, 401, 200],
    "create": [201, 201, 403, 403, 403, 401, 403],
    "start": [200, 403, 403, 403, 403, 401, 403],
    "end": [200, 403, 403, 403, 403, 401, 403],
    "cancel": [200, 403, 403, 403, 403, 401, 403],
    "join": [200, 200, 200, 200, 200, 401, 200],
    "leave": [200, 200, 200, 200, 200, 401, 200],
    "attendees": [200, 200, 200, 200, 200, 401, 200],
    "messages": [200, 200, 200, 200, 200, 401, 200],
    "attendance": [200, 403, 403, 403, 200, 401, 403],
    "delete_message": [204, 403, 403, 403, 204, 401, 403],
}


def _cases(matrix):
    return [(action, role, code) for action, codes in matrix.items() for role, code in zip(ROLES, codes, strict=True)]


def _call(api, actors, action, role, *, course, open_session: bool):
    method, template, start_status = ACTIONS[action]
    user = actors[role]
    session = None
    if start_status is not None:
        session = live_session(None if open_session else course, instructor=actors["owner"], status=start_status)
    if action == "leave" and user is not None:
        try:
            services.attendance_join(actor=user, session_id=session.id)
        except Exception:
            pass
    message = None
    if action == "delete_message":
        message = SessionMessage.objects.create(session=session, author=actors["enrolled"], body="spam")
    path = BASE + template.format(
        id=session.id if session else "", course=course.id, message=getattr(message, "id", "")
    )
    body = _create_body() if action == "create" else {}
    if action == "create" and not open_session:
        body["courseId"] = str(course.id)
    if method == "delete":
        response = api(user).delete(path)
        message.refresh_from_db()
        assert (message.deleted_at is not None) == (response.status_code == 204)
        return response
    return getattr(api(user), method)(path, body, format="json") if method == "post" else api(user).get(path)


@pytest.mark.parametrize(("action", "role", "expected"), _cases(COURSE_MATRIX))
def test_course_session_matrix(api, actors, course, action, role, expected):
    response = _call(api, actors, action, role, course=course, open_session=False)
    assert response.status_code == expected, response.content
    if expected >= 400:
        assert response.json()["error"]["code"]


@pytest.mark.parametrize(("action", "role", "expected"), _cases(OPEN_MATRIX))
def test_open_session_matrix(api, actors, course, action, role, expected):
    response = _call(api, actors, action, role, course=course, open_session=True)
    assert response.status_code == expected, response.content


# -- state refusals through REST -------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "status", "code"),
    [
        ("start", S.LIVE, "session_not_scheduled"),
        ("start", S.ENDED, "session_not_scheduled"),
        ("start", S.CANCELLED, "session_not_scheduled"),
        ("end", S.SCHEDULED, "session_not_live"),
        ("end", S.ENDED, "session_not_live"),
        ("end", S.CANCELLED, "session_not_live"),
        ("cancel", S.LIVE, "session_not_scheduled"),
        ("cancel", S.ENDED, "session_not_scheduled"),
        ("cancel", S.CANCELLED, "session_not_scheduled"),
        ("join", S.ENDED, "session_ended"),
        ("join", S.CANCELLED, "session_cancelled"),
        ("leave", S.LIVE, "not_attending"),
    ],
)
def test_wrong_state_is_409(api, make_session, instructor, action, status, code):
    session = make_session(status)
    response = api(instructor).post(f"{BASE}/{session.id}/{action}")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == code


def test_full_session_is_409(api, make_session, student, other_student, course):
    EnrollmentFactory(course=course, user=other_student)
    session = make_session(S.LIVE, capacity=1)
    assert api(student).post(f"{BASE}/{session.id}/join").status_code == 200
    response = api(other_student).post(f"{BASE}/{session.id}/join")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "session_full"


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


# -- lists -------------------------------------------------------------------------------


def test_course_list_is_upcoming_soonest_first(api, course, student, make_session):
    now = timezone.now()
    later = make_session(scheduled_at=now + timedelta(days=2))
    sooner = make_session(scheduled_at=now + timedelta(hours=2))
    running = make_session(S.LIVE)
    make_session(S.ENDED)
    make_session(S.CANCELLED)
    live_session(CourseFactory(), status=S.SCHEDULED)  # another course
    data = api(student).get(f"{BASE}/course/{course.id}").json()
    assert [item["id"] for item in data] == [str(running.id), str(sooner.id), str(later.id)]


def test_my_sessions_filters_by_status(api, instructor, make_session):
    scheduled = make_session()
    ended = make_session(S.ENDED)
    everything = api(instructor).get(f"{BASE}/instructor/my-sessions").json()
    assert {item["id"] for item in everything} == {str(scheduled.id), str(ended.id)}
    only_ended = api(instructor).get(f"{BASE}/instructor/my-sessions?status=ended").json()
    assert [item["id"] for item in only_ended] == [str(ended.id)]
    assert api(instructor).get(f"{BASE}/instructor/my-sessions?status=bogus").status_code == 400
    assert api(instructor).get(f"{BASE}/instructor/my-sessions?limit=0").status_code == 400
    # issue 15 (negative_data_rejection): `?status=` was read as absent (every session).
    for query in ["status=", "limit=", "status=ENDED"]:
        response = api(instructor).get(f"{BASE}/instructor/my-sessions?{query}")
        assert response.status_code == 400, query
        assert list(response.json()["error"]["fields"]) == [query.split("=")[0]]
    assert len(api(instructor).get(f"{BASE}/instructor/my-sessions?limit=1").json()) == 1


def test_lists_do_not_grow_queries_with_rows(api, instructor, course, make_session, django_assert_max_num_queries):
    for _ in range(12):
        session = make_session(S.LIVE)
        for _ in range(2):
            user = UserFactory()
            EnrollmentFactory(course=course, user=user)
            services.attendance_join(actor=user, session_id=session.id)
    client = api(instructor)
    with django_assert_max_num_queries(4):
        assert len(client.get(f"{BASE}/course/{course.id}").json()) == 12
    with django_assert_max_num_queries(3):
        data = client.get(f"{BASE}/instructor/my-sessions").json()
    assert {item["activeAttendees"] for item in data} == {2}


def test_attendees_show_who_is_present_first(api, live, course, instructor, student, django_assert_max_num_queries):
    gone = UserFactory(name="Aaron Gone")
    EnrollmentFactory(course=course, user=gone)
    services.attendance_join(actor=gone, session_id=live.id)
    services.attendance_leave(actor=gone, session_id=live.id)
    services.attendance_join(actor=student, session_id=live.id)
    services.attendance_join(actor=instructor, session_id=live.id)
    with django_assert_max_num_queries(5):
        data = api(student).get(f"{BASE}/{live.id}/attendees").json()
    assert data["activeAttendees"] == 1
    names = [(a["name"], a["present"], a["isHost"]) for a in data["attendees"]]
    assert names[-1] == ("Aaron Gone", False, False)
    assert (instructor.name, True, True) in names and (student.name, True, False) in names
    assert all("email" not in a for a in data["attendees"])


def test_messages_history_newest_first_with_cursor(api, live, student):
    sent = [services.session_message_send(actor=student, session_id=live.id, message=f"m{i}") for i in range(5)]
    page = api(student).get(f"{BASE}/{live.id}/messages?limit=2").json()
    assert [m["message"] for m in page["messages"]] == ["m4", "m3"]
    assert page["messages"][0]["userId"] == str(student.id)
    cursor = page["nextCursor"]
    older = api(student).get(f"{BASE}/{live.id}/messages", {"limit": 2, "cursor": cursor}).json()
    assert [m["message"] for m in older["messages"]] == ["m2", "m1"]
    last = api(student).get(f"{BASE}/{live.id}/messages", {"limit": 2, "cursor": older["nextCursor"]}).json()
    assert [m["message"] for m in last["messages"]] == ["m0"] and last["nextCursor"] is None
    assert api(student).get(f"{BASE}/{live.id}/messages?limit=1000").status_code == 400
    assert api(student).get(f"{BASE}/{live.id}/messages?before=yesterday").status_code == 400
    assert len(sent) == 5


def test_the_host_deletes_a_chat_message_and_the_room_sees_it(
    api, live, instructor, student, other_student, admin_user, django_capture_on_commit_callbacks
):
    from collab.realtime.testing import capture_broadcasts
    from liveSessions.models import SessionMessage

    message = services.session_message_send(actor=student, session_id=live.id, message="rude")
    path = f"{BASE}/{live.id}/messages/{message.id}"
    # Refusals first: nothing changes and nothing is broadcast.
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        assert api(None).delete(path).status_code == 401
        refused = api(student).delete(path)
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "not_session_owner")
        outsider = api(other_student).delete(path)
        assert (outsider.status_code, outsider.json()["error"]["code"]) == (404, "session_not_found")
        missing = api(instructor).delete(f"{BASE}/{live.id}/messages/{uuid.uuid4()}")
        assert (missing.status_code, missing.json()["error"]["code"]) == (404, "message_not_found")
        elsewhere = live_session(live.course, status=S.LIVE)
        wrong_session = api(instructor).delete(f"{BASE}/{elsewhere.id}/messages/{message.id}")
        assert wrong_session.json()["error"]["code"] == "message_not_found"
    assert sent == []
    assert SessionMessage.objects.get(id=message.id).deleted_at is None

    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        assert api(instructor).delete(path).status_code == 204
    assert [(b.event, b.room) for b in sent] == [("session-message-deleted", f"session-{live.id}")]
    assert api(student).get(f"{BASE}/{live.id}/messages").json()["messages"] == []
    again = api(admin_user).delete(path)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "message_already_deleted")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ties=st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=12), limit=st.integers(1, 8))
def test_history_pages_through_messages_sharing_a_timestamp_exactly_once(api, live, student, ties, limit):
    """issue 15: 200 messages, four sharing a timestamp, paged by 7 with before= returned 198."""
    SessionMessage.objects.filter(session=live).delete()
    now = timezone.now()
    made = [
        SessionMessage.objects.create(session=live, author=student, body="m", sent_at=now - timedelta(seconds=i)).id
        for i, count in enumerate(ties)
        for _ in range(count)
    ]
    client, seen, query = api(student), [], {"limit": limit}
    for _ in range(len(made) + 1):
        page = client.get(f"{BASE}/{live.id}/messages", query).json()
        seen += [m["id"] for m in page["messages"]]
        if page["nextCursor"] is None:
            break
        query = {"limit": limit, "cursor": page["nextCursor"]}
    assert sorted(seen) == sorted(str(i) for i in made) and len(seen) == len(set(seen))


@pytest.mark.parametrize(
    "query",
    [
        "before=2020-01-01T00:00:00%2B16:00",  # issue 15: PostgreSQL refuses the offset (was a 500)
        "before=2020-01-01T00:00:00-15:00",
        "before=9999-12-31T23:59:59-14:00",
        "before=0001-01-01T00:00:00%2B14:00",
        "before=2020-13-01T00:00:00Z",
        "before=2020-01-01T00:00:00",
        "cursor=not-a-cursor",
        "cursor=WyJ4IiwieSJd",
        # issue 15 (negative_data_rejection): an empty value was read as absent.
        "before=",
        "cursor=",
        "limit=",
    ],
)
def test_messages_refuse_out_of_range_query_params_before_the_database(api, live, student, query):
    response = api(student).get(f"{BASE}/{live.id}/messages?{query}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and list(error["fields"]) == [query.split("=")[0]]


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


def test_schema_documents_every_route(api, admin_user):
    response = api(admin_user).get("/api/schema?format=json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in [
        "/api/live-sessions",
        "/api/live-sessions/{session_id}",
        "/api/live-sessions/course/{course_id}",
        "/api/live-sessions/instructor/my-sessions",
        "/api/live-sessions/{session_id}/start",
        "/api/live-sessions/{session_id}/end",
        "/api/live-sessions/{session_id}/cancel",
        "/api/live-sessions/{session_id}/join",
        "/api/live-sessions/{session_id}/leave",
        "/api/live-sessions/{session_id}/attendees",
        "/api/live-sessions/{session_id}/messages",
        "/api/live-sessions/{session_id}/messages/{message_id}",
        "/api/live-sessions/{session_id}/attendance",
    ]:
        assert path in paths, path


def test_options_and_head_on_the_csv_report_answer_without_the_csv_renderer(api, live, instructor):
    """issue 15: OPTIONS …/attendance?format=csv was a 500 (KeyError in the CSV renderer)."""
    options = api(instructor).options(f"{BASE}/{live.id}/attendance?format=csv")
    assert options.status_code == 200 and options["Content-Type"].startswith("application/json")
    assert "GET" in options["Allow"]
    head = api(instructor).head(f"{BASE}/{live.id}/attendance?format=csv")
    assert head.status_code == 200 and head["Content-Type"].startswith("text/csv") and head.content == b""
    refused = api(UserFactory()).get(f"{BASE}/{live.id}/attendance?format=csv")
    assert refused.status_code in (403, 404) and refused.json()["error"]["code"]
