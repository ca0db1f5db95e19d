"""POST /api/auth/ws-ticket on the event loop (collab/accounts/views.py, piece `async_front`):
a token Redis vouches for, within both rates, gets the DRF path's body without a query;
every refusal is still DRF's, and both paths count on one budget.

Which path answered is told by the queries: the DRF path reads the user row, the fast
path reads none. A token minted in a test has no generation cached in Redis (a REST
login caches it), so its first request takes the DRF path, which caches it."""

from __future__ import annotations

import json
import time

import pytest
import time_machine
from asgiref.sync import async_to_sync, sync_to_async
from django.test import AsyncClient
from django.test.utils import CaptureQueriesContext

from collab.accounts.models import User
from collab.accounts.revocation import generation_key
from collab.core.redis_client import sync_redis
from collab.core.throttling import ScopedRedisThrottle, UserRedisThrottle
from collab.realtime.consumer import CLOSE_UNAUTHENTICATED
from collab.realtime.tickets import _key as ticket_key
from tests.accounts.test_api import assert_error
from tests.accounts.test_signout import bearer, login, logout
from tests.conftest import ws_connect
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/auth/ws-ticket"


def ticket(access: str, **headers):
    """(response, path) of a ticket request; path is "fast" when no query ran."""
    from django.db import connection

    with CaptureQueriesContext(connection) as queries:
        response = bearer(access).post(URL, **headers)
    return response, "fast" if not queries else "drf"


def forget_generation(user) -> None:
    """As after a Redis restart: the next request takes the DRF path."""
    sync_redis().delete(generation_key(user.id))


async def _opens(ticket_value: str) -> int | None:
    """None when a socket opens with the ticket, else the close code of the refusal."""
    communicator = await ws_connect(None, path=f"/ws/?ticket={ticket_value}", connect=False)
    try:
        connected, code = await communicator.connect(timeout=5)
        return None if connected else code
    finally:
        await communicator.disconnect()


opens = async_to_sync(_opens)


# -- the answer --------------------------------------------------------------------------


def test_both_paths_give_the_same_body_and_each_ticket_opens_a_socket(user, session):
    forget_generation(user)
    slow, slow_path = ticket(session["access"])
    fast, fast_path = ticket(session["access"])
    assert (slow_path, fast_path) == ("drf", "fast")
    assert slow.status_code == fast.status_code == 200
    assert slow["Content-Type"] == fast["Content-Type"] == "application/json"
    slow_body, fast_body = slow.json(), fast.json()
    assert set(fast_body) == {"ticket", "expiresIn"} and fast_body["expiresIn"] == 30
    assert fast_body["ticket"] != slow_body["ticket"]
    # Byte for byte, but for the ticket itself.
    assert fast.content.replace(fast_body["ticket"].encode(), b"T") == slow.content.replace(
        slow_body["ticket"].encode(), b"T"
    )
    stored = json.loads(sync_redis().get(ticket_key(fast_body["ticket"])))
    assert stored == json.loads(sync_redis().get(ticket_key(slow_body["ticket"])))
    assert stored["user"] == str(user.id) and stored["sid"]
    assert opens(fast_body["ticket"]) is None
    assert opens(slow_body["ticket"]) is None
    assert opens(fast_body["ticket"]) == CLOSE_UNAUTHENTICATED  # single use, whichever path


def test_a_media_parameter_in_accept_takes_the_drf_path(session):
    response, path = ticket(session["access"], HTTP_ACCEPT="application/json; indent=4")
    assert (response.status_code, path) == (200, "drf")
    assert b"\n    " in response.content  # DRF honoured the indent


async def test_served_on_the_event_loop_under_asgi(user):
    access = (await sync_to_async(login)(user))["access"]
    client = AsyncClient()
    first = await client.post(URL, headers={"Authorization": f"Bearer {access}"})
    assert first.status_code == 200, first.content
    assert await _opens(first.json()["ticket"]) is None


# -- refusals through the fronted view ---------------------------------------------------


@pytest.mark.parametrize(
    ("authorization", "code"),
    [(None, "not_authenticated"), ("Bearer not-a-token", "token_not_valid"), ("bearer {access}", "not_authenticated")],
    ids=["none", "garbage", "lowercase-scheme"],
)
def test_a_missing_or_bad_token_is_401(session, authorization, code):
    client = bearer("")
    client.credentials(**({"HTTP_AUTHORIZATION": authorization.format(**session)} if authorization else {}))
    assert_error(client.post(URL), 401, code)


def test_a_logged_out_session_is_401(user, session):
    assert ticket(session["access"])[1] == "fast"
    assert logout(session) == 204
    assert_error(bearer(session["access"]).post(URL), 401, "token_revoked")


def test_logout_all_is_401(user, session):
    assert ticket(session["access"])[1] == "fast"
    assert bearer(session["access"]).post("/api/auth/logout-all").status_code == 204
    assert_error(bearer(session["access"]).post(URL), 401, "token_revoked")


def test_a_deactivated_user_is_401(user, session):
    assert ticket(session["access"])[1] == "fast"
    user.is_active = False
    user.save()  # moves the generation on, cached once it commits (as the admin does)
    assert_error(bearer(session["access"]).post(URL), 401, "user_inactive")


@pytest.mark.parametrize("change", ["bulk-deactivation", "deletion"])
def test_what_redis_never_hears_of_is_refused_at_the_handshake(user, session, change):
    """A queryset update or a deletion bypasses User.save, so nothing reaches Redis and
    the fast path may still issue a ticket; the handshake reads the user row and
    refuses it (as it refuses a bearer token of the same user)."""
    if change == "deletion":
        User.objects.filter(id=user.id).delete()
    else:
        User.objects.filter(id=user.id).update(is_active=False)
    response = bearer(session["access"]).post(URL)
    if response.status_code == 200:  # the fast path answered: Redis still vouches for the token
        assert opens(response.json()["ticket"]) == CLOSE_UNAUTHENTICATED
    else:
        assert_error(response, 401)
    forget_generation(user)  # the DRF path reads the row
    assert_error(bearer(session["access"]).post(URL), 401)


def test_with_redis_down_the_drf_path_answers_503_never_500(session, settings):
    assert ticket(session["access"])[1] == "fast"
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens there
    response = bearer(session["access"]).post(URL)
    assert_error(response, 503, "service_unavailable")
    assert int(response["Retry-After"]) > 0


# -- one budget ----------------------------------------------------------------------------


@pytest.fixture
def one_window():
    """The counters' windows are fixed minutes: the clock stands still inside one."""
    with time_machine.travel(time.time() // 60 * 60 + 1, tick=False):
        yield


@pytest.mark.parametrize(
    "paths",
    [("drf", "fast", "fast", "fast"), ("fast", "drf", "fast", "drf"), ("fast", "fast", "fast", "drf")],
    ids=lambda paths: "-".join(paths),
)
@pytest.mark.parametrize("rate", ["ws-ticket", "user"])
def test_both_paths_share_one_budget_per_rate(user, monkeypatch, one_window, paths, rate):
    access = login(user)["access"]  # caches the generation: a first "fast" is fast
    monkeypatch.setitem(ScopedRedisThrottle.THROTTLE_RATES, rate, "3/min")
    answered = []
    for path in paths:
        if path == "drf":
            forget_generation(user)
        answered.append(ticket(access))
    assert [response.status_code for response, _ in answered] == [200, 200, 200, 429]
    assert [taken for _, taken in answered[:3]] == list(paths[:3])
    refused = answered[3][0]
    assert_error(refused, 429, "throttled")
    assert 0 < int(refused["Retry-After"]) <= 60


def test_the_ticket_rate_is_per_user(user, monkeypatch, one_window):
    monkeypatch.setitem(UserRedisThrottle.THROTTLE_RATES, "ws-ticket", "1/min")
    assert ticket(login(user)["access"])[0].status_code == 200
    assert ticket(login(user)["access"])[0].status_code == 429  # another session, same user
    assert ticket(login(UserFactory())["access"])[0].status_code == 200


def test_a_ticket_refused_over_the_rate_is_counted_once(user, monkeypatch, one_window):
    """The fast path counts the request; over a rate it leaves it to DRF, whose throttles
    take that count (collab.core.throttling.rates_counted) instead of counting again."""
    from collab.core.throttling import counter_key, user_throttle_key

    access = login(user)["access"]
    monkeypatch.setitem(ScopedRedisThrottle.THROTTLE_RATES, "ws-ticket", "2/min")
    answered = [ticket(access) for _ in range(3)]
    statuses = [(response.status_code, taken) for response, taken in answered]
    assert statuses == [(200, "fast"), (200, "fast"), (429, "drf")]
    assert 0 < int(answered[2][0]["Retry-After"]) <= 60
    for scope in ("ws-ticket", "user"):
        assert int(sync_redis().get(counter_key(user_throttle_key(user.id, scope), 60, time.time()))) == 3
