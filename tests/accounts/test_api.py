"""REST auth: register (always a student, Django's password validators, field errors, a
duplicate email), login and me; and the helpers the accounts API tests share (`assert_error`,
`anon`, `bearer`, `login`)."""

from __future__ import annotations

import pytest

from collab.accounts.models import Role, User
from tests.conftest import client_for
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

STRONG = "correct-horse-battery-77"


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code, error
    return error


def anon():
    return client_for(None)


def bearer(access: str):
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def login(user, password=PASSWORD):
    response = anon().post("/api/auth/login", {"email": user.email, "password": password}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


# -- register ---------------------------------------------------------------------------


def test_register_creates_a_student_and_returns_a_working_pair():
    response = anon().post(
        "/api/auth/register", {"email": "Ada@Example.com", "password": STRONG, "name": "Ada"}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"user", "access", "refresh"}
    assert body["user"]["email"] == "ada@example.com"
    assert body["user"]["name"] == "Ada"
    assert body["user"]["role"] == "student"
    assert set(body["user"]) == {"id", "email", "name", "role", "createdAt"}
    user = User.objects.get(id=body["user"]["id"])
    assert user.check_password(STRONG)
    assert user.role == Role.STUDENT and not user.is_staff and not user.is_superuser

    me = bearer(body["access"]).get("/api/auth/me")
    assert me.status_code == 200
    assert me.json()["id"] == body["user"]["id"]
    refreshed = anon().post("/api/auth/refresh", {"refresh": body["refresh"]}, format="json")
    assert refreshed.status_code == 200


@pytest.mark.parametrize("extra", [{"role": "instructor"}, {"role": "admin"}, {"isStaff": True, "isSuperuser": True}])
def test_register_is_always_a_student_whatever_the_body_says(extra):
    # A role or staff flag in the body is no field of registration: refused by name (it
    # used to be ignored), and no account is made.
    body = {"email": "mallory@example.com", "password": STRONG, "name": "M"}
    error = assert_error(anon().post("/api/auth/register", {**body, **extra}, format="json"), 400, "invalid")
    assert error["fields"] == {key: ["Unknown field."] for key in extra}
    assert not User.objects.filter(email="mallory@example.com").exists()
    response = anon().post("/api/auth/register", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["user"]["role"] == "student"
    user = User.objects.get(email="mallory@example.com")
    assert user.role == Role.STUDENT and not user.is_staff and not user.is_superuser


@pytest.mark.parametrize(
    "password",
    [
        "short1",  # too short
        "password123",  # too common
        "8473629105",  # entirely numeric
        "grace.hopper@example.com",  # too similar to the email
    ],
)
def test_register_applies_django_password_validators(password):
    body = {"email": "grace.hopper@example.com", "password": password, "name": "Grace"}
    response = anon().post("/api/auth/register", body, format="json")
    error = assert_error(response, 400)
    assert "password" in error["fields"]
    assert all(isinstance(m, str) for m in error["fields"]["password"])
    assert not User.objects.filter(email="grace.hopper@example.com").exists()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"password": STRONG, "name": "N"}, "email"),
        ({"email": "not-an-email", "password": STRONG, "name": "N"}, "email"),
        ({"email": "n@example.com", "name": "N"}, "password"),
        ({"email": "n@example.com", "password": STRONG}, "name"),
        ({"email": "n@example.com", "password": STRONG, "name": ""}, "name"),
        ({"email": "n@example.com", "password": STRONG, "name": "x" * 151}, "name"),
        ({"email": "n@example.com", "password": STRONG, "name": "a\x00b"}, "name"),
        # issue 15 (negative_data_rejection): DRF's CharField took numbers as text.
        ({"email": "n@example.com", "password": 123456789012, "name": "N"}, "password"),
        ({"email": 5, "password": STRONG, "name": "N"}, "email"),
    ],
)
def test_register_refuses_bad_fields_with_field_errors(body, field):
    error = assert_error(anon().post("/api/auth/register", body, format="json"), 400, "invalid")
    assert field in error["fields"]


def test_register_refuses_a_duplicate_email_case_insensitively():
    UserFactory(email="taken@example.com")
    response = anon().post(
        "/api/auth/register", {"email": "TAKEN@Example.COM", "password": STRONG, "name": "Again"}, format="json"
    )
    error = assert_error(response, 409, "email_taken")
    assert error["fields"] == {"email": ["An account with this email already exists."]}
    assert User.objects.filter(email__iexact="taken@example.com").count() == 1


# -- login ------------------------------------------------------------------------------


def test_login_returns_user_and_pair(student):
    body = login(student)
    assert body["user"]["id"] == str(student.id)
    assert body["user"]["role"] == "student"
    assert bearer(body["access"]).get("/api/auth/me").json()["email"] == student.email


def test_login_ignores_email_case_and_surrounding_space(student):
    response = anon().post(
        "/api/auth/login", {"email": f"  {student.email.upper()} ", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["user"]["id"] == str(student.id)


def test_login_with_a_wrong_password_is_401_invalid_credentials(student):
    response = anon().post("/api/auth/login", {"email": student.email, "password": "wrong-pass-123"}, format="json")
    assert_error(response, 401, "invalid_credentials")


def test_login_with_an_unknown_email_is_the_same_401(db):
    response = anon().post("/api/auth/login", {"email": "nobody@example.com", "password": PASSWORD}, format="json")
    assert_error(response, 401, "invalid_credentials")


def test_login_of_an_inactive_user_is_401(student):
    student.is_active = False
    student.save()
    response = anon().post("/api/auth/login", {"email": student.email, "password": PASSWORD}, format="json")
    assert_error(response, 401, "invalid_credentials")


def test_login_with_missing_fields_is_400(db):
    error = assert_error(anon().post("/api/auth/login", {}, format="json"), 400, "invalid")
    assert set(error["fields"]) == {"email", "password"}


def test_login_and_refresh_take_strings_only(student):
    """issue 15 (negative_data_rejection): a number was read as its digits."""
    error = assert_error(
        anon().post("/api/auth/login", {"email": student.email, "password": 12345678}, format="json"), 400, "invalid"
    )
    assert list(error["fields"]) == ["password"]
    error = assert_error(anon().post("/api/auth/refresh", {"refresh": 5}, format="json"), 400, "invalid")
    assert list(error["fields"]) == ["refresh"]


# -- me ---------------------------------------------------------------------------------


def test_me_returns_the_signed_in_user(api, instructor):
    response = api(instructor).get("/api/auth/me")
    assert response.status_code == 200
    assert response.json() == {
        "id": str(instructor.id),
        "email": instructor.email,
        "name": instructor.name,
        "role": "instructor",
        "createdAt": response.json()["createdAt"],
    }
    assert response.json()["createdAt"].endswith("Z")


def test_me_with_an_inactive_users_token_is_401(student):
    access = login(student)["access"]
    student.is_active = False
    student.save()
    assert_error(bearer(access).get("/api/auth/me"), 401)


def test_me_with_a_refresh_token_as_bearer_is_401(student):
    refresh = login(student)["refresh"]
    assert_error(bearer(refresh).get("/api/auth/me"), 401, "token_not_valid")


def test_me_with_a_garbage_token_is_401(db):
    assert_error(bearer("not.a.jwt").get("/api/auth/me"), 401, "token_not_valid")
