"""Error pages under DEBUG (make run's embedded default).

The choice (README, "Configuration"): under /api/ every error is the JSON error shape
whatever DEBUG says (collab.core.api_errors). Outside it (the console, the admin) DEBUG
keeps Django's HTML debug pages, a development aid, but they must not show a credential:
Django hides settings named like a secret (SECRET_KEY, …PASSWORD), and
collab.core.reporting also hides the user and password inside URLs (REDIS_URL,
CELERY_BROKER_URL, the cache's LOCATION, the channel layer's hosts).
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import include, path

from collab.core.reporting import CredentialsHiddenFilter


def _crash(request):
    raise RuntimeError("boom")


urlpatterns = [
    path("console-crash", _crash),
    path("api/crash", _crash),
    path("", include("collab.urls")),
]

PASSWORD = "s3cret-redis-pw"


@pytest.fixture
def debug(settings):
    settings.DEBUG = True
    redis_url = f"redis://:{PASSWORD}@127.0.0.1:6379/0"
    settings.REDIS_URL = redis_url
    settings.CELERY_BROKER_URL = redis_url
    settings.CACHES = {**settings.CACHES, "other": {"BACKEND": "x", "LOCATION": redis_url}}
    settings.CHANNEL_LAYERS = {"default": {"CONFIG": {"hosts": [{"address": redis_url}]}}}
    return Client(raise_request_exception=False)


def _assert_no_credential(body: str, settings) -> None:
    assert PASSWORD not in body
    assert settings.SECRET_KEY not in body


def test_a_404_outside_the_api_is_the_html_debug_page_without_settings(debug, settings):
    response = debug.get("/nonexistent")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")
    _assert_no_credential(response.content.decode(), settings)


@pytest.mark.urls(__name__)
def test_a_500_outside_the_api_is_the_html_debug_page_without_credentials(debug, settings):
    response = debug.get("/console-crash")
    body = response.content.decode()
    assert response.status_code == 500 and response["Content-Type"].startswith("text/html")
    # The settings are on the page (so the check below means something), their secrets are not.
    assert "REDIS_URL" in body and "CELERY_BROKER_URL" in body
    assert f"redis://{CredentialsHiddenFilter.cleansed_substitute}@127.0.0.1:6379/0" in body
    _assert_no_credential(body, settings)


@pytest.mark.urls(__name__)
def test_a_500_under_the_api_is_json_with_debug_on(debug):
    response = debug.get("/api/crash")
    assert response.status_code == 500 and response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "server_error"
