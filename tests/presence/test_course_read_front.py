"""GET /api/presence/course/:id answered in front of Django's ASGI handler
(collab.core.asgi_fast.front, presence.course_read): byte for byte the DRF view's
answer, headers included, and every refusal still DRF's own.

Requests go through the real ASGI stack in-process (front_app over Django's handler);
which path answered is told by whether Django's handler was called at all."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
import time_machine
from corsheaders.conf import conf as cors_conf
from rest_framework.test import APIClient

from collab.accounts.revocation import generation_key, generation_publish
from collab.core.redis_client import sync_redis
from collab.core.throttling import UserRedisThrottle, counter_key, user_throttle_key
from tests.accounts.test_signout import login, logout
from tests.asgi_stack import FrontStack
from tests.conftest import access_token_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _frames_at_once(settings):
    settings.PRESENCE_BROADCAST_WINDOW = 0


@pytest.fixture
def stack():
    return FrontStack()


def path(course) -> str:
    return f"/api/presence/course/{course.id}"


def bearer(token: str, **more: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **more}


def error(body: bytes) -> dict:
    import json

    return json.loads(body)["error"]


def forget_generation(user) -> None:
    """As after a Redis restart: the next read takes the DRF path (which caches it again)."""
    sync_redis().delete(generation_key(user.id))


# -- the same answer -----------------------------------------------------------------------


def _extra_headers() -> list[dict[str, str]]:
    allowed = list(cors_conf.CORS_ALLOWED_ORIGINS)[:1]
    return [
        {},
        *({"Origin": origin} for origin in allowed),
        {"Origin": "http://elsewhere.example"},
        {"X-Forwarded-Proto": "https"},
        {"Accept": "application/json"},
    ]


@pytest.mark.parametrize("query", ["", "limit=3", "limit=500"])
@pytest.mark.parametrize("extra", _extra_headers(), ids=lambda extra: "-".join(extra.values()) or "plain")
def test_the_front_answer_is_drfs_byte_for_byte(stack, class_online, course, student, query, extra):
    token = access_token_for(student)
    headers = bearer(token, **extra)
    forget_generation(student)
    by_drf = stack.get(path(course), headers, query)
    by_front = stack.get(path(course), headers, query)
    assert by_drf[3] == "django" and by_front[3] == "front"
    assert by_drf[0] == by_front[0] == 200
    assert by_front[1] == by_drf[1]  # every header, in order
    assert by_front[2] == by_drf[2]


def test_no_query_once_built(stack, class_online, course, student, django_assert_num_queries):
    generation_publish(user_id=student.id, generation=student.token_generation)
    token = access_token_for(student)
    stack.get(path(course), bearer(token))
    with django_assert_num_queries(0):
        status, _, _, answered = stack.get(path(course), bearer(token))
    assert (status, answered) == (200, "front")


def test_a_change_is_in_the_next_front_answer(stack, class_online, course, student):
    generation_publish(user_id=student.id, generation=student.token_generation)
    token = access_token_for(student)
    assert b'"count":7' in stack.get(path(course), bearer(token))[2]
    from presence import services

    services.presence_update(user=class_online[1], status="busy")
    status, _, body, answered = stack.get(path(course), bearer(token))
    assert (status, answered) == (200, "front")
    assert b'"status":"busy"' in body


# -- refusals are DRF's ----------------------------------------------------------------------


def test_a_signed_out_session_is_refused(stack, class_online, course, student):
    pair = login(student)
    assert stack.get(path(course), bearer(pair["access"]))[3] == "front"
    logout(pair)
    status, _, body, answered = stack.get(path(course), bearer(pair["access"]))
    assert (status, answered) == (401, "django")
    assert error(body)["code"] == "token_revoked"


def test_a_token_of_an_older_generation_is_refused(stack, class_online, course, student):
    pair = login(student)
    assert stack.get(path(course), bearer(pair["access"]))[3] == "front"
    from collab.accounts.revocation import user_generation_advance

    user_generation_advance(user=student)  # log out everywhere
    status, _, body, answered = stack.get(path(course), bearer(pair["access"]))
    assert (status, answered) == (401, "django")
    assert error(body)["code"] == "token_revoked"


@pytest.mark.parametrize(
    "authorization",
    ["Bearer not-a-token", "bearer {token}", "Bearer {token} extra", "Token {token}", "Bearer"],
)
def test_a_bad_token_gets_drfs_401(stack, class_online, course, student, authorization):
    token = access_token_for(student)
    generation_publish(user_id=student.id, generation=student.token_generation)
    header = authorization.format(token=token)
    status, _, body, answered = stack.get(path(course), {"Authorization": header})
    assert (status, answered) == (401, "django")
    by_drf = APIClient().get(path(course), HTTP_AUTHORIZATION=header)  # the DRF view under WSGI
    assert by_drf.status_code == 401
    assert body == by_drf.content


@pytest.mark.parametrize("viewer", ["other_student", "other_instructor"])
def test_a_non_member_gets_drfs_404_and_is_counted_once(request, stack, class_online, course, viewer):
    user = request.getfixturevalue(viewer)
    generation_publish(user_id=user.id, generation=user.token_generation)
    with time_machine.travel(time.time() // 60 * 60 + 1, tick=False):
        token = access_token_for(user)
        status, _, body, answered = stack.get(path(course), bearer(token))
        assert (status, answered) == (404, "django")
        assert error(body)["code"] == "course_not_found"
        assert _count(user) == 1


def _count(user) -> int:
    key = counter_key(user_throttle_key(user.id), 60, time.time())
    return int(sync_redis().get(key) or 0)


def test_over_the_rate_drf_answers_429_from_the_one_count(stack, class_online, course, student, monkeypatch):
    monkeypatch.setitem(UserRedisThrottle.THROTTLE_RATES, "user", "3/min")
    generation_publish(user_id=student.id, generation=student.token_generation)
    with time_machine.travel(time.time() // 60 * 60 + 20, tick=False):
        token = access_token_for(student)
        answers = [stack.get(path(course), bearer(token)) for _ in range(4)]
        assert [(status, answered) for status, _, _, answered in answers] == [(200, "front")] * 3 + [(429, "django")]
        _, headers, body, _ = answers[3]
        assert error(body)["code"] == "throttled"
        retry_after = dict(headers)[b"Retry-After"]
        assert retry_after == b"40"  # 40 s left in the minute's window, as DRF computes it
        assert "40 seconds" in error(body)["message"]
        assert _count(student) == 4  # the refused request counted once, not twice


def test_with_redis_down_drf_answers_503_never_500(stack, class_online, course, student, settings):
    generation_publish(user_id=student.id, generation=student.token_generation)
    token = access_token_for(student)
    assert stack.get(path(course), bearer(token))[3] == "front"
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens there
    status, headers, body, answered = stack.get(path(course), bearer(token))
    assert (status, answered) == (503, "django")
    assert error(body)["code"] == "service_unavailable"
    assert int(dict(headers)[b"Retry-After"]) > 0


@pytest.mark.parametrize(
    ("query", "headers", "status"),
    [
        ("limit=0", {}, 400),
        ("limit=501", {}, 400),
        ("limit=05", {}, None),
        ("format=xml", {}, 406),
        ("", {"Accept": "text/html"}, None),
        ("", {"Accept": "application/json; indent=4"}, 200),
        ("", {"Host": "not-allowed.example"}, 400),
        ("", {"Authorization": "Bearer {token}", "authorization": "Bearer {token}"}, 401),
    ],
)
def test_what_the_front_does_not_take_django_answers(stack, class_online, course, student, query, headers, status):
    generation_publish(user_id=student.id, generation=student.token_generation)
    token = access_token_for(student)
    stack.get(path(course), bearer(token))  # built and parsed: the front would answer
    headers = {name: value.format(token=token) for name, value in headers.items()}
    answered = stack.get(path(course), {**bearer(token), **headers}, query)
    assert answered[3] == "django"
    if status is not None:
        assert answered[0] == status


def test_an_uppercase_course_id_is_djangos_404(stack, class_online, course, student):
    generation_publish(user_id=student.id, generation=student.token_generation)
    status, _, _, answered = stack.get(path(course).upper().replace("/API/PRESENCE/COURSE/", "/api/presence/course/"))
    assert (status, answered) == (404, "django")


def test_the_front_pattern_is_the_drf_views_route(course):
    import re

    from django.urls import resolve

    from presence import course_read
    from presence.views import CourseOnlineView

    assert re.fullmatch(course_read.PATH, path(course))
    assert resolve(path(course)).func.cls is CourseOnlineView
    assert not re.fullmatch(course_read.PATH, path(course) + "/")
    assert not re.fullmatch(course_read.PATH, f"/api/presence/course/{uuid.uuid4()}x")


async def test_an_aging_snapshot_is_replaced_ahead_while_it_still_serves(class_online, course, student, settings):
    """Past REFRESH_AHEAD of its lifetime a read starts the rebuild and is answered from
    the snapshot it holds, which is still within its lifetime: no read waits for a build."""
    from asgiref.sync import sync_to_async

    from presence import course_read, snapshots

    settings.PRESENCE_SNAPSHOT_TTL = 10
    await sync_to_async(generation_publish)(user_id=student.id, generation=student.token_generation)
    token = await sync_to_async(access_token_for)(student)

    async def read():
        return await course_read.course_online_answer(
            authorization=f"Bearer {token}", accept=None, query_string="", course_id=str(course.id), notes={}
        )

    assert await read() is not None  # built
    assert await read() is not None  # parsed and held
    held = snapshots.snapshot_parsed(course.id)
    assert not snapshots._building
    with time_machine.travel(held["builtAt"] + 7.5, tick=False):
        body = await read()
        assert body is not None and b'"count":7' in body  # answered at once, from the held snapshot
        builds = list(snapshots._building.values())
        assert len(builds) == 1
        await asyncio.gather(*builds)
        assert sync_redis().get(snapshots.stamp_key(course.id)) != held["stamp"]
        assert await read() is not None
        assert snapshots.snapshot_parsed(course.id)["stamp"] != held["stamp"]
        assert not snapshots._building  # the new snapshot is fresh: no further build
