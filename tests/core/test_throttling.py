"""REST rate limits (collab/core/throttling.py): Redis counters shared by every process,
refused with 429 `throttled` and a Retry-After, per user and, for login, per address."""

import time

import pytest
import time_machine
from rest_framework.test import APIClient

from collab.core.redis_client import sync_redis
from collab.core.throttling import ScopedRedisThrottle, UserRedisThrottle
from tests.core.test_errors import assert_error_shape
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _one_window():
    """The counters' windows are fixed minutes: on a slow machine a test's requests could
    straddle a minute boundary and start a new window, so the clock stands still."""
    with time_machine.travel(time.time() // 60 * 60 + 1, tick=False):
        yield


@pytest.fixture
def user_rate(monkeypatch):
    monkeypatch.setitem(UserRedisThrottle.THROTTLE_RATES, "user", "3/min")


@pytest.fixture
def auth_rate(monkeypatch):
    monkeypatch.setitem(ScopedRedisThrottle.THROTTLE_RATES, "auth", "2/min")


def test_a_user_over_the_rate_is_refused_with_429_and_retry_after(api, student, user_rate):
    client = api(student)
    assert [client.get("/api/auth/me").status_code for _ in range(3)] == [200, 200, 200]
    refused = client.get("/api/auth/me")
    assert_error_shape(refused, 429, "throttled")
    assert 0 < int(refused["Retry-After"]) <= 60


def test_each_user_has_their_own_budget(api, student, other_student, user_rate):
    for _ in range(3):
        api(student).get("/api/auth/me")
    assert api(student).get("/api/auth/me").status_code == 429
    assert api(other_student).get("/api/auth/me").status_code == 200


def test_the_budget_is_shared_by_every_client_of_the_user(api, student, user_rate):
    # Each api() call is a new client (another tab, another process): one counter in Redis.
    statuses = [api(student).get("/api/auth/me").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_login_attempts_are_limited_per_address_whatever_the_account(student, other_student, auth_rate):
    client = APIClient(REMOTE_ADDR="203.0.113.7")
    assert (
        client.post("/api/auth/login", {"email": student.email, "password": "wrong"}, format="json").status_code == 401
    )
    assert (
        client.post("/api/auth/login", {"email": other_student.email, "password": "wrong"}, format="json").status_code
        == 401
    )
    refused = client.post("/api/auth/login", {"email": student.email, "password": PASSWORD}, format="json")
    assert_error_shape(refused, 429, "throttled")
    elsewhere = APIClient(REMOTE_ADDR="198.51.100.9")
    assert (
        elsewhere.post("/api/auth/login", {"email": student.email, "password": PASSWORD}, format="json").status_code
        == 200
    )


def test_health_is_never_throttled(db, user_rate, auth_rate):
    client = APIClient()
    assert {client.get("/health").status_code for _ in range(5)} == {200}


def test_a_forged_x_forwarded_for_does_not_dodge_the_address_limit(student, auth_rate):
    # The client is not a trusted proxy: uvicorn leaves REMOTE_ADDR alone, and so do we.
    client = APIClient(REMOTE_ADDR="203.0.113.7")
    statuses = [
        client.post(
            "/api/auth/login",
            {"email": student.email, "password": "wrong"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{i}",
        ).status_code
        for i in range(4)
    ]
    assert statuses == [401, 401, 429, 429]


@pytest.fixture
def failure_limit(settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    settings.LOGIN_FAILURE_WINDOW = 900


def test_failed_logins_are_limited_per_account_from_any_address(student, other_student, failure_limit):
    for i in range(3):
        wrong = APIClient(REMOTE_ADDR=f"198.51.100.{i}").post(
            "/api/auth/login", {"email": student.email.upper(), "password": "wrong"}, format="json"
        )
        assert wrong.status_code == 401
    # Even the right password, from a fresh address, waits for the window to close.
    refused = APIClient(REMOTE_ADDR="192.0.2.1").post(
        "/api/auth/login", {"email": student.email, "password": PASSWORD}, format="json"
    )
    assert_error_shape(refused, 429, "throttled")
    assert 0 < int(refused["Retry-After"]) <= 900
    # Another account is not affected.
    other = APIClient().post("/api/auth/login", {"email": other_student.email, "password": PASSWORD}, format="json")
    assert other.status_code == 200


def test_the_account_lock_lasts_one_window_at_most(student, failure_limit, settings):
    from collab.core.throttling import login_failures

    for _ in range(3):
        APIClient().post("/api/auth/login", {"email": student.email, "password": "wrong"}, format="json")
    key = login_failures()._key(student.email)
    assert 0 < sync_redis().ttl(key) <= settings.LOGIN_FAILURE_WINDOW
    # More failures while locked do not extend it.
    for _ in range(5):
        APIClient().post("/api/auth/login", {"email": student.email, "password": "wrong"}, format="json")
    assert sync_redis().ttl(key) <= settings.LOGIN_FAILURE_WINDOW
    sync_redis().delete(key)  # the window closes
    ok = APIClient().post("/api/auth/login", {"email": student.email, "password": PASSWORD}, format="json")
    assert ok.status_code == 200


def test_unknown_accounts_are_counted_alike(db, failure_limit):
    for _ in range(3):
        APIClient().post("/api/auth/login", {"email": "nobody@example.com", "password": "x"}, format="json")
    refused = APIClient().post("/api/auth/login", {"email": "nobody@example.com", "password": "x"}, format="json")
    assert_error_shape(refused, 429, "throttled")


def test_a_successful_login_clears_the_failures(student, failure_limit):
    for _ in range(2):
        APIClient().post("/api/auth/login", {"email": student.email, "password": "wrong"}, format="json")
    assert (
        APIClient().post("/api/auth/login", {"email": student.email, "password": PASSWORD}, format="json").status_code
        == 200
    )
    for _ in range(2):
        APIClient().post("/api/auth/login", {"email": student.email, "password": "wrong"}, format="json")
    assert (
        APIClient().post("/api/auth/login", {"email": student.email, "password": PASSWORD}, format="json").status_code
        == 200
    )


def test_ws_tickets_are_limited_per_user(api, student, other_student, monkeypatch):
    monkeypatch.setitem(ScopedRedisThrottle.THROTTLE_RATES, "ws-ticket", "3/min")
    statuses = [api(student).post("/api/auth/ws-ticket").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert api(other_student).post("/api/auth/ws-ticket").status_code == 200


def test_throttles_let_requests_through_when_redis_is_down(api, student, user_rate, settings):
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens there
    assert {api(student).get("/api/auth/me").status_code for _ in range(5)} == {200}
