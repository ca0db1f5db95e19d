"""`manage.py createuser`: how staff make instructors and admins."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from collab.accounts.models import Role, User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

STRONG = "correct-horse-battery-77"


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("createuser", *args, stdout=out)
    return out.getvalue()


def test_createuser_makes_an_instructor_who_can_log_in(api):
    output = run("--email", "Prof@Example.com", "--password", STRONG, "--name", "Prof", "--role", "instructor")
    user = User.objects.get(email="prof@example.com")
    assert user.role == Role.INSTRUCTOR
    assert user.check_password(STRONG)
    assert not user.is_staff
    assert "instructor" in output and "prof@example.com" in output
    login = api(None).post("/api/auth/login", {"email": "prof@example.com", "password": STRONG}, format="json")
    assert login.status_code == 200
    assert login.json()["user"]["role"] == "instructor"


def test_createuser_admin_gets_staff_access():
    run("--email", "boss@example.com", "--password", STRONG, "--name", "Boss", "--role", "admin")
    user = User.objects.get(email="boss@example.com")
    assert user.role == Role.ADMIN and user.is_staff and user.is_superuser


def test_createuser_defaults_to_student():
    run("--email", "s@example.com", "--password", STRONG, "--name", "S")
    assert User.objects.get(email="s@example.com").role == Role.STUDENT


@pytest.mark.parametrize("password", ["short", "password", "12345678901"])
def test_createuser_refuses_weak_passwords(password):
    with pytest.raises(CommandError) as excinfo:
        run("--email", "weak@example.com", "--password", password, "--name", "W", "--role", "instructor")
    assert "password" in str(excinfo.value).lower()
    assert not User.objects.filter(email="weak@example.com").exists()


def test_createuser_refuses_a_duplicate_email_in_any_case():
    UserFactory(email="dup@example.com")
    with pytest.raises(CommandError) as excinfo:
        run("--email", "DUP@example.com", "--password", STRONG, "--name", "D", "--role", "instructor")
    assert "already exists" in str(excinfo.value)
    assert User.objects.filter(email__iexact="dup@example.com").count() == 1


def test_createuser_refuses_an_unknown_role():
    with pytest.raises(CommandError):
        run("--email", "r@example.com", "--password", STRONG, "--name", "R", "--role", "superhero")
    assert not User.objects.filter(email="r@example.com").exists()
