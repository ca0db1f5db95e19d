"""Under DEBUG (make run's embedded default) Django's own errors under /api/ are still the
JSON error shape, not its debug pages; the admin keeps its HTML."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.fixture
def debug(settings):
    settings.DEBUG = True
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    return Client(raise_request_exception=False)


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/api/nope", 404, "not_found"),
        ("/api", 404, "not_found"),  # the API's root without its slash was Django's HTML page
        ("/api/courses/", 404, "not_found"),
        ("/api/live-sessions/not-a-uuid", 404, "not_found"),
    ],
)
def test_no_route_under_api_is_a_json_404_with_debug_on(debug, path, status, code):
    response = debug.get(path)
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == code


@pytest.mark.parametrize("path", ["/api/courses", "/health"])
def test_a_bad_host_is_a_json_400_with_debug_on(debug, path):
    # /health is read by load balancers and monitors, not people: JSON like the API.
    response = debug.get(path, HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_host"


@pytest.mark.django_db
def test_a_body_over_the_limit_is_a_json_413_with_debug_on(debug):
    response = debug.post("/api/auth/login", data=b"{" + b" " * 4096 + b"}", content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_the_admin_keeps_its_html_404(debug):
    response = debug.get("/admin/nope/")
    assert response.status_code in (302, 404)
    assert not response["Content-Type"].startswith("application/json")
