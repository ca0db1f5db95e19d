"""Redis down, in-process: REST that does not need Redis answers as usual (throttles fail
open and log), what needs it answers 503 `service_unavailable` with Retry-After; never a
500. Redis is made unreachable by pointing the process at a port nothing listens on (the
real-process version, with a redis-server stopped and restarted: tests/realtime/test_faults_e2e.py)."""

from __future__ import annotations

import logging

import pytest

from tests.servers import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_down(settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "LOCATION": settings.REDIS_URL},
    }
    yield


def test_rest_that_needs_no_redis_answers_and_the_throttle_fails_open_loudly(api, course, student, redis_down, caplog):
    with caplog.at_level(logging.WARNING, logger="collab.core.throttling"):
        response = api(student).get("/api/courses")
    assert response.status_code == 200
    assert any("Redis unavailable" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/api/auth/ws-ticket"), ("post", "/api/presence/heartbeat"), ("get", "/api/presence/online")],
)
def test_rest_that_needs_redis_answers_503_with_retry_after(api, student, redis_down, method, path):
    response = getattr(api(student), method)(path)
    assert response.status_code == 503, response.content
    assert response.json()["error"]["code"] == "service_unavailable"
    assert int(response["Retry-After"]) > 0
