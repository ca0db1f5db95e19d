"""POST /api/auth/ws-ticket answered in front of Django's ASGI handler
(collab.core.asgi_fast.front, collab.accounts.ticket_front): the DRF view's answer, headers
included, but for the ticket itself; every refusal still DRF's own, counted once."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import time_machine
from asgiref.sync import async_to_sync

from collab.accounts.revocation import generation_key
from collab.core.asgi_fast.front import front_app
from collab.core.redis_client import sync_redis
from collab.core.throttling import ScopedRedisThrottle, counter_key, user_throttle_key
from collab.realtime.consumer import CLOSE_UNAUTHENTICATED
from collab.realtime.tickets import _key as ticket_key
from tests.accounts.test_signout import login, logout
from tests.accounts.test_ws_ticket_fast import opens
from tests.asgi_stack import FrontStack

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/auth/ws-ticket"


@pytest.fixture
def stack():
    return FrontStack()


@pytest.fixture
def one_window():
    """The counters' windows are fixed minutes: the clock stands still inside one."""
    with time_machine.travel(time.time() // 60 * 60 + 1, tick=False):
        yield


def bearer(token: str, **more: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **more}


def error(body: bytes) -> dict:
    return json.loads(body)["error"]


def header(raw: list, name: str) -> str | None:
    return next((value.decode() for key, value in raw if key.decode().lower() == name), None)


def test_the_front_answer_is_drfs_but_for_the_ticket(stack, user, session):
    sync_redis().delete(generation_key(user.id))  # the first request takes DRF's path
    by_drf = stack.post(URL, bearer(session["access"], Origin="http://elsewhere.example"))
    by_front = stack.post(URL, bearer(session["access"], Origin="http://elsewhere.example"))
    assert (by_drf[3], by_front[3]) == ("django", "front")
    assert by_drf[0] == by_front[0] == 200
    assert by_front[1] == by_drf[1]  # every header, in order (the tickets have one length)
    tickets = [json.loads(answer[2])["ticket"] for answer in (by_drf, by_front)]
    assert tickets[0] != tickets[1]
    assert by_front[2].replace(tickets[1].encode(), b"T") == by_drf[2].replace(tickets[0].encode(), b"T")
    assert json.loads(by_front[2])["expiresIn"] == 30
    stored = json.loads(sync_redis().get(ticket_key(tickets[1])))
    assert stored == json.loads(sync_redis().get(ticket_key(tickets[0])))
    assert stored["user"] == str(user.id) and stored["sid"]
    assert 0 < sync_redis().ttl(ticket_key(tickets[1])) <= 30
    assert opens(tickets[1]) is None
    assert opens(tickets[1]) == CLOSE_UNAUTHENTICATED  # single use


def test_no_query_on_the_front(stack, session, django_assert_num_queries):
    with django_assert_num_queries(0):
        status, _, _, answered = stack.post(URL, bearer(session["access"]))
    assert (status, answered) == (200, "front")


@pytest.mark.parametrize(
    ("request_args", "why"),
    [
        ({"body": b'{"x": 1}'}, "a body"),
        ({"query": "format=json"}, "a query string"),
        ({"extra": {"Accept": "application/json; indent=4"}}, "a media parameter"),
    ],
    ids=["body", "query", "accept-parameter"],
)
def test_what_the_front_does_not_take_reaches_django_untouched(stack, session, request_args, why):
    headers = bearer(session["access"], **request_args.get("extra", {}))
    status, _, answer, answered = stack.post(
        URL, headers, query=request_args.get("query", ""), body=request_args.get("body", b"")
    )
    assert answered == "django", why
    assert b"".join(stack.django_bodies) == request_args.get("body", b"")  # the body read once, replayed whole
    assert status == 200 and json.loads(answer)["ticket"]


def test_get_is_django_s_405(stack, session):
    status, _, answer, answered = stack.get(URL, bearer(session["access"]))
    assert (status, answered) == (405, "django")
    assert error(answer)["code"] == "method_not_allowed"


def test_a_signed_out_session_is_refused_by_drf(stack, session):
    assert stack.post(URL, bearer(session["access"]))[3] == "front"
    assert logout(session) == 204
    status, _, answer, answered = stack.post(URL, bearer(session["access"]))
    assert (status, answered) == (401, "django")
    assert error(answer)["code"] == "token_revoked"


def test_a_token_of_an_older_generation_is_refused_by_drf(stack, user, session):
    from collab.accounts.revocation import user_generation_advance

    assert stack.post(URL, bearer(session["access"]))[3] == "front"
    user_generation_advance(user=user)  # log out everywhere
    status, _, answer, answered = stack.post(URL, bearer(session["access"]))
    assert (status, answered) == (401, "django")
    assert error(answer)["code"] == "token_revoked"


@pytest.mark.parametrize("authorization", ["Bearer not-a-token", "bearer {access}", "Token {access}", None])
def test_a_missing_or_bad_token_gets_drfs_401(stack, session, authorization):
    headers = {"Authorization": authorization.format(**session)} if authorization else {}
    status, _, _, answered = stack.post(URL, headers)
    assert (status, answered) == (401, "django")


@pytest.mark.parametrize("rate", ["ws-ticket", "user"])
def test_over_a_rate_drf_answers_429_and_each_request_is_counted_once(stack, user, monkeypatch, one_window, rate):
    session = login(user)  # inside the window: the token is not issued in its future
    monkeypatch.setitem(ScopedRedisThrottle.THROTTLE_RATES, rate, "3/min")
    answers = [stack.post(URL, bearer(session["access"])) for _ in range(4)]
    assert [(status, answered) for status, _, _, answered in answers] == [(200, "front")] * 3 + [(429, "django")]
    assert 0 < int(header(answers[3][1], "retry-after")) <= 60
    assert error(answers[3][2])["code"] == "throttled"
    scope_key = user_throttle_key(user.id, "ws-ticket")
    user_key = user_throttle_key(user.id)
    now = time.time()
    # Each ticket request once on each counter, the refused one included; never twice.
    assert int(sync_redis().get(counter_key(scope_key, 60, now))) == 4
    assert int(sync_redis().get(counter_key(user_key, 60, now))) == 4


def test_with_redis_down_django_answers_503_never_500(stack, session, settings):
    assert stack.post(URL, bearer(session["access"]))[3] == "front"
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens there
    status, headers, answer, answered = stack.post(URL, bearer(session["access"]))
    assert (status, answered) == (503, "django")
    assert error(answer)["code"] == "service_unavailable"
    assert int(header(headers, "retry-after")) > 0


def test_a_body_is_not_read_further_than_its_first_bytes_before_django_takes_it():
    """A POST with a body is Django's: the front stops reading at its first bytes (a
    large or endless upload is not buffered in memory here), and Django reads the rest."""
    served: list[int] = []

    async def receive():
        served.append(len(served))
        if len(served) > 1000:
            raise AssertionError("the front read the whole body before handing it to Django")
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}

    taken: list[int] = []

    async def django(scope, receive, send):
        taken.append(len(served))
        first = await receive()
        assert first["body"] == b"x" * 1024

    scope = {
        "type": "http",
        "method": "POST",
        "path": URL,
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"authorization", b"Bearer x")],
    }
    async_to_sync(asyncio.wait_for)(front_app(django)(scope, receive, lambda message: None), 5)
    assert taken == [1]
