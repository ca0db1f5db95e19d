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


@pytest.mark.parametrize(
    ("email", "name", "field"),
    [
        ("not an email", "Prof", "email"),
        ("blank@example.com", "   ", "name"),
        ("esc@example.com", "Prof\x1bX", "name"),
        ("long@example.com", "x" * 151, "name"),
    ],
)
def test_createuser_refuses_what_registration_refuses(email, name, field):
    # It used to create "not an email", a blank name or one with an ESC in it: accounts
    # the API's own rules (the free-text rule, a real address) would have refused.
    with pytest.raises(CommandError) as excinfo:
        run("--email", email, "--password", STRONG, "--name", name, "--role", "instructor")
    assert f"{field}: " in str(excinfo.value)
    assert not User.objects.exists()


def test_createuser_names_the_refused_field_in_words_not_a_dict():
    with pytest.raises(CommandError) as excinfo:
        run("--email", "weak@example.com", "--password", "short", "--name", "W")
    assert str(excinfo.value).startswith("The password is too weak.\n  password: This password is too short.")
    assert "{" not in str(excinfo.value)


def test_createuser_stores_the_name_by_the_text_rule():
    run("--email", "nfc@example.com", "--password", STRONG, "--name", "  Jose\u0301  ")
    assert User.objects.get(email="nfc@example.com").name == "Jos\u00e9"
