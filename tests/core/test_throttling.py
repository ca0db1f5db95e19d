"""REST rate limits (collab/core/throttling.py): Redis counters shared by every process,
refused with 429 `throttled` and a Retry-After, per user and, for login, per address."""

import time

import pytest
import time_machine
from rest_framework.test import APIClient

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
