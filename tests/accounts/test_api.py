"""REST auth: register, login, me, refresh rotation, logout, socket tickets."""

from __future__ import annotations

import json
import time

import pytest
from rest_framework_simplejwt.tokens import RefreshToken

from collab.accounts.models import Role, User
from collab.core.redis_client import sync_redis
from collab.realtime.tickets import _key as ticket_key
from tests.conftest import client_for
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

STRONG = "correct-horse-battery-77"
ZERO = "00000000-0000-0000-0000-000000000000"


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


# -- refresh ----------------------------------------------------------------------------


def test_refresh_rotates_and_refuses_the_used_token(student):
    first = login(student)
    response = anon().post("/api/auth/refresh", {"refresh": first["refresh"]}, format="json")
    assert response.status_code == 200, response.content
    second = response.json()
    assert set(second) == {"access", "refresh"}
    assert second["refresh"] != first["refresh"]
    assert second["access"] != first["access"]

    # The new pair works ...
    assert bearer(second["access"]).get("/api/auth/me").json()["id"] == str(student.id)
    third = anon().post("/api/auth/refresh", {"refresh": second["refresh"]}, format="json")
    assert third.status_code == 200, third.content

    # ... and the used refresh token is refused from now on.
    reused = anon().post("/api/auth/refresh", {"refresh": first["refresh"]}, format="json")
    assert_error(reused, 401, "token_not_valid")
    reused_again = anon().post("/api/auth/refresh", {"refresh": second["refresh"]}, format="json")
    assert_error(reused_again, 401, "token_not_valid")


def test_a_revoked_refresh_token_gets_one_message_whoever_notices(student):
    """issue 15: simplejwt's blacklist check and our locked re-check had two texts."""
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    from collab.accounts.services import TOKEN_REVOKED

    used = login(student)["refresh"]
    assert anon().post("/api/auth/refresh", {"refresh": used}, format="json").status_code == 200
    again = anon().post("/api/auth/refresh", {"refresh": used}, format="json")  # simplejwt's check
    unrecorded = login(student)["refresh"]
    OutstandingToken.objects.filter(jti=RefreshToken(unrecorded)["jti"]).delete()
    locked = anon().post("/api/auth/refresh", {"refresh": unrecorded}, format="json")  # our re-check
    for response in (again, locked):
        assert response.status_code == 401
        assert response.json()["error"] == {"code": "token_not_valid", "message": TOKEN_REVOKED}


@pytest.mark.parametrize("refresh", ["garbage", "a.b.c", "x" * 2000])
def test_refresh_with_an_invalid_token_is_401(db, refresh):
    assert_error(anon().post("/api/auth/refresh", {"refresh": refresh}, format="json"), 401, "token_not_valid")


def test_refresh_with_an_access_token_is_401(student):
    access = login(student)["access"]
    assert_error(anon().post("/api/auth/refresh", {"refresh": access}, format="json"), 401, "token_not_valid")


def test_refresh_without_a_token_is_400(db):
    error = assert_error(anon().post("/api/auth/refresh", {}, format="json"), 400, "invalid")
    assert "refresh" in error["fields"]


def test_refresh_for_an_inactive_user_is_401(student):
    refresh = login(student)["refresh"]
    student.is_active = False
    student.save()
    assert_error(anon().post("/api/auth/refresh", {"refresh": refresh}, format="json"), 401)


# -- logout -----------------------------------------------------------------------------


def test_logout_blacklists_the_refresh_token(student):
    pair = login(student)
    response = bearer(pair["access"]).post("/api/auth/logout", {"refresh": pair["refresh"]}, format="json")
    assert response.status_code == 204
    assert response.content == b""
    refused = anon().post("/api/auth/refresh", {"refresh": pair["refresh"]}, format="json")
    assert_error(refused, 401, "token_not_valid")


def test_logout_leaves_the_users_other_sessions_alone(student):
    laptop, phone = login(student), login(student)
    logout = bearer(laptop["access"]).post("/api/auth/logout", {"refresh": laptop["refresh"]}, format="json")
    assert logout.status_code == 204
    assert anon().post("/api/auth/refresh", {"refresh": phone["refresh"]}, format="json").status_code == 200


def test_logout_with_another_users_refresh_token_is_refused(student, other_student):
    mine = login(student)
    theirs = login(other_student)
    response = bearer(mine["access"]).post("/api/auth/logout", {"refresh": theirs["refresh"]}, format="json")
    assert_error(response, 401, "token_not_valid")
    # Their token was not touched.
    assert anon().post("/api/auth/refresh", {"refresh": theirs["refresh"]}, format="json").status_code == 200


def test_logout_needs_an_access_token(student):
    pair = login(student)
    assert_error(anon().post("/api/auth/logout", {"refresh": pair["refresh"]}, format="json"), 401, "not_authenticated")
    assert anon().post("/api/auth/refresh", {"refresh": pair["refresh"]}, format="json").status_code == 200


def test_logout_with_a_bad_or_missing_refresh_token(student):
    access = login(student)["access"]
    assert_error(bearer(access).post("/api/auth/logout", {}, format="json"), 400, "invalid")
    assert_error(bearer(access).post("/api/auth/logout", {"refresh": "nope"}, format="json"), 401, "token_not_valid")


@pytest.mark.django_db(transaction=True)  # the revocation reaches Redis on commit
def test_logout_twice_with_the_same_token_is_refused_cleanly(student):
    pair = login(student)
    client = bearer(pair["access"])
    assert client.post("/api/auth/logout", {"refresh": pair["refresh"]}, format="json").status_code == 204
    second = client.post("/api/auth/logout", {"refresh": pair["refresh"]}, format="json")
    # The access token belongs to the session that just ended.
    assert_error(second, 401, "token_revoked")


# -- ws-ticket --------------------------------------------------------------------------


def test_ws_ticket_shape_and_storage(api, student):
    response = api(student).post("/api/auth/ws-ticket")
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"ticket", "expiresIn"}
    assert body["expiresIn"] == 30
    assert isinstance(body["ticket"], str) and len(body["ticket"]) >= 32
    redis = sync_redis()
    stored = json.loads(redis.get(ticket_key(body["ticket"])))
    # The ticket carries the credentials of the token that minted it (user, session, expiry).
    assert stored["user"] == str(student.id)
    assert stored["exp"] > time.time()
    assert 0 < redis.ttl(ticket_key(body["ticket"])) <= 30


def test_ws_tickets_are_unique(api, student):
    client = api(student)
    tickets = {client.post("/api/auth/ws-ticket").json()["ticket"] for _ in range(5)}
    assert len(tickets) == 5


# -- anonymous --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/api/auth/me"),
        ("post", "/api/auth/logout"),
        ("post", "/api/auth/ws-ticket"),
        ("get", "/api/courses"),
        ("post", "/api/courses"),
        ("get", f"/api/courses/{ZERO}"),
        ("get", f"/api/courses/{ZERO}/members"),
        ("post", f"/api/courses/{ZERO}/enrollments"),
        ("delete", f"/api/courses/{ZERO}/enrollments/{ZERO}"),
    ],
)
def test_anonymous_gets_401_with_the_error_shape(db, method, path):
    response = getattr(anon(), method)(path, {}, format="json")
    error = assert_error(response, 401, "not_authenticated")
    assert "fields" not in error
    assert response.headers.get("WWW-Authenticate", "").startswith("Bearer")


@pytest.mark.parametrize("path", ["/api/auth/register", "/api/auth/login", "/api/auth/refresh"])
def test_public_auth_routes_ignore_a_broken_bearer_header(db, path):
    # A stale token in the client must not lock it out of logging in again.
    response = bearer("expired.or.broken").post(path, {}, format="json")
    assert_error(response, 400, "invalid")


def test_refresh_token_issued_by_simplejwt_for_user_works(student):
    refresh = RefreshToken.for_user(student)
    response = anon().post("/api/auth/refresh", {"refresh": str(refresh)}, format="json")
    assert response.status_code == 200


@pytest.mark.django_db
def test_a_refused_access_token_says_why_under_its_stable_code(student):
    """The code stays token_not_valid (clients refresh on it); the message was SimpleJWT's
    "Given token not valid for any token type" whatever the reason, also for an expired one."""
    from datetime import timedelta

    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import AccessToken

    expired = AccessToken.for_user(student)
    expired.set_exp(lifetime=timedelta(seconds=-5))
    cases = {
        str(expired): "Token is expired",
        str(RefreshToken.for_user(student)): "Token has wrong type",
        "garbage": "Token is invalid",
    }
    for token, message in cases.items():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        response = client.get("/api/auth/me")
        assert response.status_code == 401
        assert response.json() == {"error": {"code": "token_not_valid", "message": message}}
