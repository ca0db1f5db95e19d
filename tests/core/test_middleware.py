"""The middleware stack under ASGI: hooks run on the event loop (collab/core/asgi_fast/middleware.py)
yet behave as Django's: the admin's session and CSRF still work, API responses keep
their headers and never open a session."""

import re

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.middleware import clickjacking, csrf, security
from django.test import AsyncClient
from django.utils.deprecation import MiddlewareMixin
from django.utils.module_loading import import_string

from collab.core.asgi_fast.middleware import InlineHooksMixin
from tests.conftest import access_token_for
from tests.factories import PASSWORD, AdminFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("dotted", settings.MIDDLEWARE)
def test_no_middleware_sends_every_request_through_a_thread(dotted):
    middleware = import_string(dotted)
    assert getattr(middleware, "async_capable", False), f"{dotted} is sync-only"
    if issubclass(middleware, MiddlewareMixin):
        assert issubclass(middleware, InlineHooksMixin), f"{dotted} hops to a thread for every hook"


@pytest.mark.parametrize(
    "django_middleware",
    [security.SecurityMiddleware, clickjacking.XFrameOptionsMiddleware, csrf.CsrfViewMiddleware],
)
def test_djangos_protections_are_installed_as_subclasses(django_middleware):
    # Django's deploy checks see these subclasses too (collab/core/checks.py).
    assert any(issubclass(import_string(dotted), django_middleware) for dotted in settings.MIDDLEWARE)


def _csrf_token(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


async def test_admin_login_keeps_session_and_csrf_under_asgi():
    admin = await sync_to_async(AdminFactory)()
    client = AsyncClient(enforce_csrf_checks=True)
    page = await client.get("/admin/login/")
    assert page.status_code == 200
    token = _csrf_token(page.content.decode())

    refused = await client.post("/admin/login/", {"username": admin.email, "password": PASSWORD})
    assert refused.status_code == 403  # no CSRF token: the inline CSRF hook still refuses

    logged_in = await client.post(
        "/admin/login/?next=/admin/",
        {"username": admin.email, "password": PASSWORD, "csrfmiddlewaretoken": token, "next": "/admin/"},
    )
    assert logged_in.status_code == 302
    assert settings.SESSION_COOKIE_NAME in logged_in.cookies  # saved in the thread, cookie set

    index = await client.get("/admin/")
    assert index.status_code == 200
    assert admin.email in index.content.decode() or admin.name in index.content.decode()


async def test_api_response_keeps_security_headers_and_opens_no_session():
    admin = await sync_to_async(AdminFactory)()
    token = await sync_to_async(access_token_for)(admin)
    response = await AsyncClient().get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.content
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert int(response["Content-Length"]) == len(response.content)
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert "Cookie" not in response.get("Vary", "")


async def test_static_files_are_served_under_asgi():
    response = await AsyncClient().get("/static/admin/css/base.css")
    assert response.status_code == 200
    assert b"".join(response.streaming_content)
