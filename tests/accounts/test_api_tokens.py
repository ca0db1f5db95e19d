"""REST auth: a token pair's life after login: refresh rotation (a revoked or wrong token
refused), logout (blacklisting, another user's token, twice), and what anonymous callers and
refused access tokens get."""

from __future__ import annotations

import pytest
from rest_framework_simplejwt.tokens import RefreshToken

from tests.accounts.test_api import anon, assert_error, bearer, login

pytestmark = pytest.mark.django_db


ZERO = "00000000-0000-0000-0000-000000000000"


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
