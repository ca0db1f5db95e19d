"""GET /api/presence/course/:id served from the course's presence snapshot
(presence/snapshots.py): the same answer as the database read, no query once built, and
never staler than the frames a member's socket has heard; refusals take the DRF path."""

import time
import uuid

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.test import AsyncClient

from collab.accounts.revocation import generation_publish
from collab.core.throttling import UserRedisThrottle
from collab.courses import services as course_services
from collab.realtime import leases
from presence import services, snapshots
from tests.conftest import access_token_for
from tests.core.test_errors import assert_error_shape
from tests.factories import CourseFactory, EnrollmentFactory, UserFactory
from tests.presence.conftest import go_online

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _frames_at_once(settings):
    # Every presence change is sent (and drops the snapshot) as soon as it commits.
    settings.PRESENCE_BROADCAST_WINDOW = 0


def url(course, **query):
    suffix = "&".join(f"{key}={value}" for key, value in query.items())
    return f"/api/presence/course/{course.id}" + (f"?{suffix}" if suffix else "")


@pytest.mark.parametrize("query", [{}, {"limit": 3}, {"limit": 500}])
@pytest.mark.parametrize("viewer", ["student", "instructor"])
def test_the_snapshot_answers_exactly_as_the_database_read(request, api, settings, class_online, course, viewer, query):
    client = api(request.getfixturevalue(viewer))
    settings.PRESENCE_SNAPSHOT_TTL = 0
    from_database = client.get(url(course, **query))
    settings.PRESENCE_SNAPSHOT_TTL = 10
    built = client.get(url(course, **query))
    served = client.get(url(course, **query))
    assert from_database.status_code == built.status_code == served.status_code == 200
    assert from_database.json() == built.json() == served.json()
    body = served.json()
    assert body["count"] == 7
    own = [item for item in body["users"] if item["userId"] == str(request.getfixturevalue(viewer).id)]
    assert all(item.get("connected") is True for item in own)  # the viewer's own item is their self view
    assert sum("connected" in item for item in body["users"]) == len(own)


def test_a_built_snapshot_answers_without_a_query(api, class_online, course, student, django_assert_num_queries):
    # Login caches the token generation the revocation check compares with; a token
    # minted in the test must do the same, or every read takes the database path.
    generation_publish(user_id=student.id, generation=student.token_generation)
    client = api(student)
    client.get(url(course))
    with django_assert_num_queries(0):
        assert client.get(url(course)).json()["count"] == 7


def test_a_token_whose_generation_redis_lost_is_fast_again_after_one_read(
    api, class_online, course, student, django_assert_num_queries
):
    """Redis loses the cached generations when it restarts (and a token minted by a
    script never had one): the DRF path's revocation check caches it again, so only
    the first read pays the database (the bench's presence read: 18 req/s before)."""
    from collab.accounts.revocation import generation_key
    from collab.core.redis_client import sync_redis

    async_to_sync(snapshots.snapshot_get)(course.id)  # built, as after any earlier read
    sync_redis().delete(generation_key(student.id))
    client = api(student)
    client.get(url(course))  # the DRF path: authenticates with the user row
    with django_assert_num_queries(0):
        assert client.get(url(course)).json()["count"] == 7


def test_a_status_change_is_in_the_next_read(api, class_online, course, student):
    client = api(student)
    assert client.get(url(course)).json()["count"] == 7
    services.presence_update(user=class_online[1], status="busy")
    items = {item["userId"]: item for item in client.get(url(course)).json()["users"]}
    assert items[str(class_online[1].id)]["status"] == "busy"


def test_going_offline_or_invisible_leaves_the_next_read(api, class_online, course, student):
    client = api(student)
    client.get(url(course))
    leases.lease_release(user_id=class_online[2].id, lease_id="ws:test")
    services.presence_sync(user_id=class_online[2].id)
    services.presence_update(user=class_online[3], status="offline")
    body = client.get(url(course)).json()
    assert body["count"] == 5
    assert {str(class_online[2].id), str(class_online[3].id)}.isdisjoint(item["userId"] for item in body["users"])


def test_a_lease_lapsed_before_the_sweep_is_not_shown(api, course, student, instructor):
    go_online(instructor)
    leases.lease_touch(user_id=student.id, lease_id="ws:dying", now=time.time() - leases.lease_ttl() + 1)
    services.presence_sync(user_id=student.id)
    client = api(instructor)
    assert client.get(url(course)).json()["count"] == 2
    time.sleep(1.2)  # the student's lease lapses; no sweep, no frame
    body = client.get(url(course)).json()
    assert [item["userId"] for item in body["users"]] == [str(instructor.id)]
    assert body["count"] == 1


def test_an_unenrolled_student_is_refused_at_once(api, class_online, course, student, instructor):
    client = api(student)
    assert client.get(url(course)).status_code == 200
    course_services.enrollment_delete(actor=instructor, course=course, user_id=student.id)
    assert_error_shape(client.get(url(course)), 404, "course_not_found")


def test_a_new_member_reads_at_once_and_is_listed(api, class_online, course, instructor):
    assert api(instructor).get(url(course)).json()["count"] == 7
    newcomer = UserFactory()
    go_online(newcomer)
    course_services.enrollment_create(actor=instructor, course=course, user_id=newcomer.id)
    assert api(newcomer).get(url(course)).status_code == 200
    assert str(newcomer.id) in {item["userId"] for item in api(instructor).get(url(course)).json()["users"]}


def test_a_deactivated_member_is_refused_and_disappears(api, class_online, course, student, instructor):
    client = api(student)
    client.get(url(course))
    student.is_active = False
    student.save()
    assert_error_shape(client.get(url(course)), 401)
    assert str(student.id) not in {item["userId"] for item in api(instructor).get(url(course)).json()["users"]}


def test_a_renamed_member_shows_the_new_name(api, class_online, course, instructor):
    client = api(instructor)
    client.get(url(course))
    class_online[4].name = "Renamed Classmate"
    class_online[4].save()
    names = {item["userId"]: item["name"] for item in client.get(url(course)).json()["users"]}
    assert names[str(class_online[4].id)] == "Renamed Classmate"


def test_a_snapshot_built_before_a_change_is_never_served(class_online, course):
    stale = snapshots.snapshot_build(course.id)
    assert stale is not None
    snapshots.snapshot_drop(course.id)  # a change committed while it was being built
    assert async_read(course.id) is None
    assert snapshots.snapshot_build(course.id)["gen"] == stale["gen"] + 1
    assert async_read(course.id)["gen"] == stale["gen"] + 1


def async_read(course_id):
    return async_to_sync(snapshots.snapshot_read)(course_id)


# -- refusals take the DRF path ----------------------------------------------------------


@pytest.mark.parametrize(
    ("viewer", "status", "code"),
    [
        ("anonymous", 401, "not_authenticated"),
        ("garbage", 401, None),
        ("other_student", 404, "course_not_found"),
        ("other_instructor", 404, "course_not_found"),
    ],
)
def test_refusals_match_the_rest_of_the_api(request, api, class_online, course, student, viewer, status, code):
    api(student).get(url(course))  # a snapshot exists
    if viewer == "anonymous":
        client = api(None)
    elif viewer == "garbage":
        client = api(None)
        client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    else:
        client = api(request.getfixturevalue(viewer))
    assert_error_shape(client.get(url(course)), status, code)


def test_an_admin_outside_the_course_reads_through_the_database(api, class_online, course, admin_user, student):
    expected = api(student).get(url(course)).json()
    body = api(admin_user).get(url(course)).json()
    assert body["count"] == expected["count"]
    assert [item["userId"] for item in body["users"]] == [item["userId"] for item in expected["users"]]


@pytest.mark.parametrize("limit", ["0", "501", "ten", "", "%2B5"])
def test_a_bad_limit_is_400(api, class_online, course, student, limit):
    api(student).get(url(course))
    assert_error_shape(api(student).get(url(course, limit=limit)), 400, "invalid")


def test_an_unknown_course_is_404(api, student):
    response = api(student).get(f"/api/presence/course/{uuid.uuid4()}")
    assert_error_shape(response, 404, "course_not_found")


def test_the_snapshot_path_counts_toward_the_users_rate(api, class_online, course, student, monkeypatch):
    monkeypatch.setitem(UserRedisThrottle.THROTTLE_RATES, "user", "3/min")
    client = api(student)
    assert [client.get(url(course)).status_code for _ in range(3)] == [200, 200, 200]
    assert_error_shape(client.get(url(course)), 429, "throttled")


async def test_served_on_the_event_loop_under_asgi(class_online, course, student):
    token = await sync_to_async(access_token_for)(student)
    client = AsyncClient()
    first = await client.get(url(course), headers={"Authorization": f"Bearer {token}"})
    second = await client.get(url(course), headers={"Authorization": f"Bearer {token}"})
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert first.json()["count"] == 7


def test_another_course_has_its_own_snapshot(api, class_online, course, student):
    other_course = CourseFactory()
    EnrollmentFactory(course=other_course, user=student)
    assert api(student).get(url(course)).json()["count"] == 7
    assert api(student).get(url(other_course)).json()["count"] == 1  # the student only
