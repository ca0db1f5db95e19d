"""Presence REST routes: visibility, role x action matrix, bad input, query counts."""

import uuid

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from collab.accounts.models import User
from collab.courses.models import Enrollment, EnrollmentRole
from collab.realtime import leases
from presence.models import UserPresence
from tests.factories import CourseFactory, EnrollmentFactory, UserFactory

pytestmark = pytest.mark.django_db


def _writes(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]


@pytest.fixture
def live_student(course, student):
    """`student` with a live lease (as if connected)."""
    leases.lease_touch(user_id=student.id, lease_id="ws:test")
    return student


# -- who sees whom ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("viewer", "expected"),
    [("student", 200), ("instructor", 200), ("admin_user", 200), ("other_student", 404), ("other_instructor", 404)],
)
def test_single_lookup_visibility_matrix(request, api, live_student, viewer, expected):
    user = request.getfixturevalue(viewer)
    response = api(user).get(f"/api/presence/user/{live_student.id}")
    assert response.status_code == expected, response.content
    if expected == 200:
        body = response.json()
        assert body["userId"] == str(live_student.id)
        assert body["name"] == live_student.name
        assert body["status"] == "online"
        assert ("connected" in body) == (viewer == "student")
    else:
        assert response.json()["error"]["code"] == "user_not_found"


def test_unknown_user_is_404_like_an_invisible_one(api, student):
    response = api(student).get(f"/api/presence/user/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "user_not_found"


@pytest.mark.parametrize(
    ("viewer", "sees_student"),
    [("student", True), ("instructor", True), ("admin_user", True), ("other_student", False)],
)
def test_online_list_only_shows_visible_users(request, api, live_student, viewer, sees_student):
    stranger = UserFactory()
    leases.lease_touch(user_id=stranger.id, lease_id="ws:x")
    user = request.getfixturevalue(viewer)
    body = api(user).get("/api/presence/online").json()
    ids = {item["userId"] for item in body["users"]}
    assert (str(live_student.id) in ids) is sees_student
    assert (str(stranger.id) in ids) is (viewer == "admin_user")
    assert body["count"] == len(body["users"])


def test_online_list_derives_status_from_leases_not_from_rows(api, course, student, instructor):
    # A row that still says "announced online" but no live lease: reads say offline.
    UserPresence.objects.create(user=student, announced_status="online", status="away")
    assert api(instructor).get(f"/api/presence/user/{student.id}").json()["status"] == "offline"
    assert api(instructor).get("/api/presence/online").json()["count"] == 0
    leases.lease_touch(user_id=student.id, lease_id="http")
    assert api(instructor).get(f"/api/presence/user/{student.id}").json()["status"] == "away"
    # A lease that lapsed counts as gone, before any sweep.
    leases.lease_release(user_id=student.id, lease_id="http")
    leases.lease_touch(user_id=student.id, lease_id="http", now=1.0)
    assert api(instructor).get(f"/api/presence/user/{student.id}").json()["status"] == "offline"


def test_online_limit_and_count(api, admin_user):
    users = [UserFactory() for _ in range(5)]
    for user in users:
        leases.lease_touch(user_id=user.id, lease_id="ws:x")
    body = api(admin_user).get("/api/presence/online?limit=2").json()
    assert len(body["users"]) == 2
    assert body["count"] == 5
    names = [item["name"] for item in body["users"]]
    assert names == sorted(names)


def test_course_online_members_only(api, course, live_student, instructor, other_student, admin_user):
    outsider = UserFactory()
    leases.lease_touch(user_id=outsider.id, lease_id="ws:x")
    for viewer in (instructor, live_student, admin_user):
        body = api(viewer).get(f"/api/presence/course/{course.id}").json()
        assert body["courseId"] == str(course.id)
        assert [item["userId"] for item in body["users"]] == [str(live_student.id)]
        assert body["count"] == 1
    response = api(other_student).get(f"/api/presence/course/{course.id}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "course_not_found"
    assert api(instructor).get(f"/api/presence/course/{uuid.uuid4()}").status_code == 404


def test_bulk_omits_invisible_and_unknown_users_keeps_order(api, course, live_student, instructor, other_student):
    ids = [str(other_student.id), str(instructor.id), str(uuid.uuid4()), str(live_student.id), str(instructor.id)]
    body = api(instructor).post("/api/presence/bulk", {"userIds": ids}, format="json").json()
    assert [item["userId"] for item in body["users"]] == [str(instructor.id), str(live_student.id)]
    statuses = {item["userId"]: item["status"] for item in body["users"]}
    assert statuses[str(live_student.id)] == "online"
    assert statuses[str(instructor.id)] == "online"  # self view: own choice, with connected
    assert body["users"][0]["connected"] is False


# -- writes -------------------------------------------------------------------------------------


def test_put_status_and_activity(api, course, live_student, instructor):
    response = api(live_student).put("/api/presence/status", {"status": "busy", "activity": "Exam"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "busy"
    assert response.json()["activity"] == "Exam"
    assert response.json()["connected"] is True
    activity = {"activity": "Viewing Course: JavaScript"}
    response = api(live_student).put("/api/presence/activity", activity, format="json")
    assert response.status_code == 200
    seen = api(instructor).get(f"/api/presence/user/{live_student.id}").json()
    assert seen["status"] == "busy"
    assert seen["activity"] == "Viewing Course: JavaScript"


def test_rest_heartbeat_holds_an_http_lease(api, course, student, instructor, settings):
    assert api(instructor).get(f"/api/presence/user/{student.id}").json()["status"] == "offline"
    response = api(student).post("/api/presence/heartbeat")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["expiresIn"] == settings.PRESENCE_OFFLINE_AFTER
    assert body["connected"] is True
    assert body["lastSeenAt"] is not None
    assert api(instructor).get(f"/api/presence/user/{student.id}").json()["status"] == "online"
    assert leases.live_expiries([student.id])


def test_hundred_heartbeats_cause_at_most_one_database_write(api, course, student):
    client = api(student)
    client.get("/api/presence/online")  # warm up: the token's first use writes nothing of ours
    with CaptureQueriesContext(connection) as queries:
        for _ in range(100):
            assert client.post("/api/presence/heartbeat").status_code == 200
    writes = _writes(queries.captured_queries)
    # The first heartbeat turns the user live: one INSERT of the row, with lastSeenAt.
    assert len(writes) == 1, writes
    assert writes[0].lstrip().upper().startswith("INSERT")
    row = UserPresence.objects.get(user=student)
    assert row.last_seen_at is not None


def test_hundred_heartbeats_on_an_existing_row_write_once(api, course, student):
    UserPresence.objects.create(user=student)
    client = api(student)
    client.get("/api/presence/online")
    with CaptureQueriesContext(connection) as queries:
        for _ in range(100):
            assert client.post("/api/presence/heartbeat").status_code == 200
    writes = _writes(queries.captured_queries)
    assert len(writes) == 1, writes


def test_heartbeats_write_again_after_the_interval(course, student, settings):
    from presence import services

    settings.PRESENCE_WRITE_MIN_INTERVAL = 1
    services.presence_heartbeat(user_id=student.id)
    first = UserPresence.objects.get(user=student).last_seen_at
    assert services.presence_touch_last_seen(user_id=student.id) is False
    leases.sync_redis().delete(leases.seen_key(student.id))  # the interval elapsed
    assert services.presence_touch_last_seen(user_id=student.id) is True
    assert UserPresence.objects.get(user=student).last_seen_at > first


def test_bulk_of_500_ids_in_at_most_3_queries(api, course, student, django_assert_max_num_queries):
    users = User.objects.bulk_create([User(email=f"bulk{i}@example.com", name=f"Bulk {i:03}") for i in range(499)])
    Enrollment.objects.bulk_create([Enrollment(course=course, user=user) for user in users])
    UserPresence.objects.bulk_create([UserPresence(user=user, activity="x") for user in users[:250]])
    for user in users[:100]:
        leases.lease_touch(user_id=user.id, lease_id="ws:x")
    ids = [str(user.id) for user in users] + [str(student.id)]
    client = api(student)
    client.get("/api/presence/online")
    with django_assert_max_num_queries(3):
        response = client.post("/api/presence/bulk", {"userIds": ids}, format="json")
    assert response.status_code == 200
    body = response.json()["users"]
    assert len(body) == 500
    assert sum(item["status"] == "online" for item in body) == 101  # 100 others + self's choice
    assert body[0]["activity"] == "x"


def test_online_lists_in_bounded_queries(api, course, student, django_assert_max_num_queries):
    for _ in range(30):
        user = UserFactory()
        EnrollmentFactory(course=course, user=user)
        UserPresence.objects.create(user=user, status="away")
        leases.lease_touch(user_id=user.id, lease_id="ws:x")
    client = api(student)
    client.get("/api/presence/online")
    with django_assert_max_num_queries(3):
        assert client.get("/api/presence/online").json()["count"] == 30
    with django_assert_max_num_queries(5):
        assert client.get(f"/api/presence/course/{course.id}").json()["count"] == 30


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("put", "/api/presence/status", {"status": "sleeping"}, "status"),
        ("put", "/api/presence/status", {}, "status"),
        ("put", "/api/presence/status", {"status": "away", "activity": "x" * 201}, "activity"),
        ("put", "/api/presence/activity", {"activity": "x" * 201}, "activity"),
        ("put", "/api/presence/activity", {}, "activity"),
        ("post", "/api/presence/bulk", {"userIds": ["not-a-uuid"]}, "userIds"),
        ("post", "/api/presence/bulk", {"userIds": "nope"}, "userIds"),
        ("post", "/api/presence/bulk", {}, "userIds"),
        ("post", "/api/presence/bulk", {"userIds": [str(uuid.uuid4()) for _ in range(501)]}, "userIds"),
        ("get", "/api/presence/online?limit=0", None, "limit"),
        ("get", "/api/presence/online?limit=501", None, "limit"),
        ("get", "/api/presence/online?limit=abc", None, "limit"),
        ("get", "/api/presence/online?limit=", None, "limit"),
        ("put", "/api/presence/status", {"status": "away", "activity": 5}, "activity"),
        ("put", "/api/presence/status", {"status": True}, "status"),
    ],
)
def test_bad_input_is_400_with_field_errors(api, student, method, path, body, field):
    client = api(student)
    response = getattr(client, method)(path, body, format="json") if body is not None else client.get(path)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"]


BULK_ID = "0b94422a-5f63-4fa4-8084-519342c80a7f"


@pytest.mark.parametrize(
    "user_id",
    [
        False,  # issue 15 (schemathesis, negative_data_rejection): DRF read it as UUID 0 and answered 200
        True,
        0,
        1,
        1.5,
        None,
        ["nested"],
        BULK_ID.replace("-", ""),
        "{" + BULK_ID + "}",
        "urn:uuid:" + BULK_ID,
    ],
)
def test_bulk_refuses_an_id_that_is_not_a_uuid_string(api, course, student, user_id):
    response = api(student).post("/api/presence/bulk", {"userIds": [str(student.id), user_id]}, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert list(error["fields"]) == ["userIds"]
    assert list(error["fields"]["userIds"]) == ["1"]  # the item refused, by index


def test_bulk_reads_ids_in_either_case(api, course, live_student, instructor):
    body = api(instructor).post("/api/presence/bulk", {"userIds": [str(live_student.id).upper()]}, format="json")
    assert [item["userId"] for item in body.json()["users"]] == [str(live_student.id)]


def test_activity_of_exactly_200_chars_is_fine(api, student):
    response = api(student).put("/api/presence/activity", {"activity": "x" * 200}, format="json")
    assert response.status_code == 200


def test_non_uuid_path_is_404(api, student):
    assert api(student).get("/api/presence/user/not-a-uuid").status_code == 404


# -- role x action matrix -------------------------------------------------------------------------

ACTIONS = {
    "online": ("get", "/api/presence/online", None),
    "course": ("get", "/api/presence/course/{course}", None),
    "user": ("get", "/api/presence/user/{student}", None),
    "bulk": ("post", "/api/presence/bulk", {"userIds": ["{student}"]}),
    "status": ("put", "/api/presence/status", {"status": "away"}),
    "activity": ("put", "/api/presence/activity", {"activity": "Reading"}),
    "heartbeat": ("post", "/api/presence/heartbeat", {}),
}

# anonymous: 401 everywhere; strangers: 404 for the course and the user, 200 otherwise.
MATRIX = {
    "anonymous": dict.fromkeys(ACTIONS, 401),
    "student": dict.fromkeys(ACTIONS, 200),
    "instructor": dict.fromkeys(ACTIONS, 200),
    "admin_user": dict.fromkeys(ACTIONS, 200),
    "other_student": {**dict.fromkeys(ACTIONS, 200), "course": 404, "user": 404},
    "other_instructor": {**dict.fromkeys(ACTIONS, 200), "course": 404, "user": 404},
}


@pytest.mark.parametrize("role", list(MATRIX))
@pytest.mark.parametrize("action", list(ACTIONS))
def test_role_action_matrix(request, api, course, student, role, action):
    user = None if role == "anonymous" else request.getfixturevalue(role)
    method, path, body = ACTIONS[action]
    path = path.format(course=course.id, student=student.id)
    if body and "userIds" in body:
        body = {"userIds": [str(student.id)]}
    client = api(user)
    response = getattr(client, method)(path, body, format="json") if method != "get" else client.get(path)
    assert response.status_code == MATRIX[role][action], response.content
    if response.status_code >= 400:
        assert "code" in response.json()["error"]


def test_stranger_bulk_gets_nothing(api, course, student, other_student):
    body = api(other_student).post("/api/presence/bulk", {"userIds": [str(student.id)]}, format="json").json()
    assert body == {"users": []}


def test_course_mate_through_another_course(api, student):
    other_course = CourseFactory()
    EnrollmentFactory(course=other_course, user=student)
    mate = UserFactory()
    EnrollmentFactory(course=other_course, user=mate)
    assert api(mate).get(f"/api/presence/user/{student.id}").status_code == 200


def test_course_list_marks_the_course_staff(api, course, instructor, student):
    """Students see which staff (the instructor, TAs) are online, on both read paths."""
    ta = UserFactory(name="Tia TA")
    EnrollmentFactory(course=course, user=ta, role=EnrollmentRole.TA)
    for user in (instructor, ta, student):
        leases.lease_touch(user_id=user.id, lease_id="ws:x")
    for path in ("snapshot", "database"):
        with override_settings(PRESENCE_SNAPSHOT_TTL=10 if path == "snapshot" else 0):
            users = api(student).get(f"/api/presence/course/{course.id}").json()["users"]
        staff = {item["userId"]: item["staff"] for item in users}
        assert staff == {str(instructor.id): True, str(ta.id): True, str(student.id): False}, path


# -- the course list's OpenAPI entry says what the route answers ------------------------------


def test_the_course_online_list_is_documented_in_full_and_its_refusals_are_the_ones_named(
    client, api, course, student, other_student
):
    operation = client.get("/api/schema?format=json").json()["paths"]["/api/presence/course/{course_id}"]["get"]
    assert "presence-changed" in operation["description"] and "staff" in operation["description"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert set(parameters) == {"course_id", "limit"}
    assert all(p.get("description") for p in parameters.values()), parameters
    responses = operation["responses"]
    assert {"200", "400", "401", "404", "429", "503"} <= set(responses)
    assert all(r.get("description") for r in responses.values()), responses
    # Each refusal's code, as answered, is the one its description names.
    answers = {
        "400": api(student).get(f"/api/presence/course/{course.id}?limit=0"),
        "401": api(None).get(f"/api/presence/course/{course.id}"),
        "404": api(other_student).get(f"/api/presence/course/{course.id}"),
    }
    answers["404 unknown"] = api(student).get(f"/api/presence/course/{uuid.uuid4()}")
    for status, response in answers.items():
        status = status.split()[0]
        assert response.status_code == int(status), (status, response.content)
        assert response.json()["error"]["code"] in responses[status]["description"], status
