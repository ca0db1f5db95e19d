"""The Django admin's sign-in form is limited like the REST login: per account (the same
failure counter) and per address; over a limit it answers 429 with Retry-After."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.factories import PASSWORD, AdminFactory, UserFactory

pytestmark = pytest.mark.django_db


def admin_login(client: Client, email: str, password: str, address: str = "203.0.113.5"):
    page = client.get("/admin/login/", REMOTE_ADDR=address)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": email, "password": password, "csrfmiddlewaretoken": token, "next": "/admin/"},
        REMOTE_ADDR=address,
    )


@pytest.fixture
def failure_limit(settings):
    settings.LOGIN_FAILURE_LIMIT = 5
    settings.LOGIN_FAILURE_WINDOW = 900


def test_wrong_passwords_then_the_right_one_is_refused_with_429(failure_limit):
    staff = AdminFactory()
    client = Client(enforce_csrf_checks=True)
    for i in range(5):
        wrong = admin_login(client, staff.email, f"wrong-{i}", address=f"198.51.100.{i}")
        assert wrong.status_code == 200  # the form again, with its error
    refused = admin_login(client, staff.email, PASSWORD)
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 900
    assert "Too many sign-in attempts" in refused.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_admin_and_rest_logins_share_the_account_counter(failure_limit):
    staff = AdminFactory()
    from rest_framework.test import APIClient

    for _ in range(5):
        APIClient().post("/api/auth/login", {"email": staff.email, "password": "wrong"}, format="json")
    assert admin_login(Client(), staff.email, PASSWORD).status_code == 429


def test_the_right_password_within_the_limit_signs_in(failure_limit):
    staff = AdminFactory()
    client = Client()
    for i in range(4):
        admin_login(client, staff.email, f"wrong-{i}")
    signed_in = admin_login(client, staff.email, PASSWORD)
    assert signed_in.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_a_non_staff_user_with_the_right_password_is_not_counted_as_a_guess(failure_limit):
    student = UserFactory()
    for _ in range(6):
        assert admin_login(Client(), student.email, PASSWORD).status_code == 200
    from rest_framework.test import APIClient

    login = APIClient().post("/api/auth/login", {"email": student.email, "password": PASSWORD}, format="json")
    assert login.status_code == 200


def test_the_admin_login_is_limited_per_address(settings):
    from collab.core.throttling import ScopedRedisThrottle

    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK}
    rates = ScopedRedisThrottle.THROTTLE_RATES
    original = rates.get("auth")
    rates["auth"] = "3/min"
    try:
        statuses = [admin_login(Client(), f"nobody{i}@example.com", "x").status_code for i in range(4)]
    finally:
        rates["auth"] = original
    assert statuses == [200, 200, 200, 429]
