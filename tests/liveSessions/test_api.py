"""REST: who may do what on live sessions (the role x action matrix of every route, for a
course session and an open one), refusals by the session's state, and the schema
documenting every route."""

from __future__ import annotations

import pytest

from collab.courses.models import EnrollmentRole
from liveSessions import services
from liveSessions.models import SessionMessage
from tests.factories import EnrollmentFactory, UserFactory
from tests.liveSessions.conftest import BASE, S, _create_body
from tests.liveSessions.factories import live_session

pytestmark = pytest.mark.django_db


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
