"""Sign-out is sign-out: a logged-out session's access token is refused by REST, by
ticket minting and by the socket handshake; log out everywhere, a new password and a
deactivation end every session and close every socket. One check serves all of them
(collab/accounts/revocation.py); when Redis is down it asks the database, never a 500."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.test import override_settings

from collab.accounts.models import RevokedSession, User
from collab.realtime.consumer import CLOSE_LOGGED_OUT, CLOSE_UNAUTHENTICATED
from tests.conftest import AppCommunicator
from tests.factories import PASSWORD, AdminFactory, InstructorFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

ROLES = {"student": UserFactory, "instructor": InstructorFactory, "admin": AdminFactory}


def login(user, password: str = PASSWORD) -> dict:
    from rest_framework.test import APIClient

    response = APIClient().post("/api/auth/login", {"email": user.email, "password": password}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def bearer(access: str):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def logout(pair: dict) -> int:
    return bearer(pair["access"]).post("/api/auth/logout", {"refresh": pair["refresh"]}, format="json").status_code


def assert_refused(response, code: str = "token_revoked") -> None:
    assert response.status_code == 401, response.content
    assert response.json()["error"]["code"] == code


async def open_socket(access: str | None = None, ticket: str | None = None, *, expect: bool = True):
    headers = [(b"authorization", f"Bearer {access}".encode())] if access else []
    path = f"/ws/?ticket={ticket}" if ticket else "/ws/"
    from collab.asgi import application
    from tests.conftest import IGNORED_BY_DEFAULT

    communicator = AppCommunicator(application, path, headers=headers, ignore_events=IGNORED_BY_DEFAULT)
    connected, code = await communicator.connect(timeout=5)
    assert connected is expect, code
    return communicator if expect else code


alogin = database_sync_to_async(login)


@database_sync_to_async
def post(access: str, path: str, body: dict | None = None):
    return bearer(access).post(path, body or {}, format="json")


@database_sync_to_async
def get(access: str, path: str):
    return bearer(access).get(path)


@pytest.mark.parametrize("role", ROLES)
def test_logout_ends_the_sessions_access_token_on_rest_and_for_tickets(role):
    user = ROLES[role]()
    laptop, phone = login(user), login(user)
    assert bearer(laptop["access"]).get("/api/auth/me").status_code == 200
    assert (
        bearer(laptop["access"]).post("/api/auth/logout", {"refresh": laptop["refresh"]}, format="json").status_code
        == 204
    )

    assert_refused(bearer(laptop["access"]).get("/api/auth/me"))
    assert_refused(bearer(laptop["access"]).post("/api/auth/ws-ticket"))
    assert_refused(bearer(laptop["access"]).post("/api/auth/logout-all"))
    # The phone's session is another sign-in: untouched.
    assert bearer(phone["access"]).get("/api/auth/me").status_code == 200
    assert bearer(phone["access"]).post("/api/auth/ws-ticket").status_code == 200


@pytest.mark.parametrize("role", ROLES)
async def test_logout_refuses_the_bearer_handshake_and_closes_only_that_sessions_sockets(role):
    user = await database_sync_to_async(ROLES[role])()
    laptop, phone = await alogin(user), await alogin(user)
    ticket = (await post(laptop["access"], "/api/auth/ws-ticket")).json()["ticket"]
    laptop_socket = await open_socket(laptop["access"])
    laptop_ticket_socket = await open_socket(ticket=ticket)
    phone_socket = await open_socket(phone["access"])
    try:
        assert (await post(laptop["access"], "/api/auth/logout", {"refresh": laptop["refresh"]})).status_code == 204
        for socket in (laptop_socket, laptop_ticket_socket):
            assert await socket.receive_output(timeout=5) == {"type": "websocket.close", "code": CLOSE_LOGGED_OUT}
        assert await open_socket(laptop["access"], expect=False) == CLOSE_UNAUTHENTICATED
        await phone_socket.send_json_to({"event": "no-such-event", "ref": "1"})
        assert (await phone_socket.receive_json_from(timeout=5))["ref"] == "1"
    finally:
        for socket in (laptop_socket, laptop_ticket_socket, phone_socket):
            await socket.disconnect()


async def test_a_ticket_minted_before_logout_is_refused_after_it():
    user = await database_sync_to_async(UserFactory)()
    pair = await alogin(user)
    ticket = (await post(pair["access"], "/api/auth/ws-ticket")).json()["ticket"]
    assert (await post(pair["access"], "/api/auth/logout", {"refresh": pair["refresh"]})).status_code == 204
    assert await open_socket(ticket=ticket, expect=False) == CLOSE_UNAUTHENTICATED


def test_a_refresh_racing_the_logout_gives_no_working_token():
    user = UserFactory()
    pair = login(user)
    # The rotation wins the race; the logout then presents the (now used) old token.
    rotated = bearer("").post("/api/auth/refresh", {"refresh": pair["refresh"]}, format="json").json()
    assert (
        bearer(pair["access"]).post("/api/auth/logout", {"refresh": pair["refresh"]}, format="json").status_code == 204
    )
    # The session is over: neither the rotated access token nor the rotated refresh token works.
    assert_refused(bearer(rotated["access"]).get("/api/auth/me"))
    refused = bearer("").post("/api/auth/refresh", {"refresh": rotated["refresh"]}, format="json")
    assert_refused(refused)


async def test_logout_all_ends_every_session_and_closes_every_socket():
    user = await database_sync_to_async(UserFactory)()
    bystander = await database_sync_to_async(UserFactory)()
    sessions = [await alogin(user) for _ in range(3)]
    other = await alogin(bystander)
    sockets = [await open_socket(pair["access"]) for pair in sessions]
    bystander_socket = await open_socket(other["access"])
    try:
        assert (await post(sessions[0]["access"], "/api/auth/logout-all")).status_code == 204
        for socket in sockets:
            assert await socket.receive_output(timeout=5) == {"type": "websocket.close", "code": CLOSE_LOGGED_OUT}
        for pair in sessions:
            assert_refused(await get(pair["access"], "/api/auth/me"))
            refused = await database_sync_to_async(bearer("").post)(
                "/api/auth/refresh", {"refresh": pair["refresh"]}, format="json"
            )
            assert refused.status_code == 401
            assert await open_socket(pair["access"], expect=False) == CLOSE_UNAUTHENTICATED
        assert (await get(other["access"], "/api/auth/me")).status_code == 200
        assert await bystander_socket.receive_nothing(timeout=0.3)
        # Signing in again starts a session that works.
        again = await alogin(user)
        assert (await get(again["access"], "/api/auth/me")).status_code == 200
    finally:
        for socket in (*sockets, bystander_socket):
            await socket.disconnect()


def test_logout_all_needs_a_valid_token(db):
    from rest_framework.test import APIClient

    response = APIClient().post("/api/auth/logout-all")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@database_sync_to_async
def change_password(user_id, password: str) -> None:
    user = User.objects.get(id=user_id)
    user.set_password(password)
    user.save()


@database_sync_to_async
def deactivate(user_id) -> None:
    user = User.objects.get(id=user_id)
    user.is_active = False
    user.save()


@pytest.mark.parametrize("change", ["password", "deactivation"])
async def test_a_new_password_or_a_deactivation_ends_every_session(change):
    user = await database_sync_to_async(UserFactory)()
    pair = await alogin(user)
    socket = await open_socket(pair["access"])
    try:
        if change == "password":
            await change_password(user.id, "a-brand-new-pass-42")
        else:
            await deactivate(user.id)
        assert await socket.receive_output(timeout=5) == {"type": "websocket.close", "code": CLOSE_LOGGED_OUT}
        me = await get(pair["access"], "/api/auth/me")
        assert me.status_code == 401
        assert await open_socket(pair["access"], expect=False) == CLOSE_UNAUTHENTICATED
        if change == "password":
            assert_refused(me)
            assert (await alogin(user, "a-brand-new-pass-42"))["access"]
    finally:
        await socket.disconnect()


def test_a_password_rehash_at_login_ends_nothing(settings):
    user = UserFactory()
    pair = login(user)
    # A stronger hasher first: the next login rehashes the same password (Django's setter).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher", *settings.PASSWORD_HASHERS]
    login(user)
    assert User.objects.get(id=user.id).password.startswith("pbkdf2_")
    assert bearer(pair["access"]).get("/api/auth/me").status_code == 200


def test_the_admin_deactivating_a_user_ends_their_sessions(client):
    admin, user = AdminFactory(), UserFactory()
    pair = login(user)
    client.force_login(admin)
    page = client.get(f"/admin/accounts/user/{user.id}/change/")
    assert page.status_code == 200
    form = {
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "is_staff": "",
        "is_superuser": "",
        # is_active left out: unchecked
    }
    response = client.post(f"/admin/accounts/user/{user.id}/change/", form)
    assert response.status_code == 302, response.content[:2000]
    assert not User.objects.get(id=user.id).is_active
    assert bearer(pair["access"]).get("/api/auth/me").status_code == 401
    assert bearer("").post("/api/auth/refresh", {"refresh": pair["refresh"]}, format="json").status_code == 401


def test_with_redis_down_the_database_still_refuses_a_logged_out_session(settings):
    user = UserFactory()
    out, still_in = login(user), login(user)
    assert logout(out) == 204
    assert RevokedSession.objects.filter(user=user).count() == 1
    with override_settings(REDIS_URL="redis://127.0.0.1:9/0"):  # nothing listens there
        assert_refused(bearer(out["access"]).get("/api/auth/me"))
        # Not a 500, and a live session still works (throttles let requests through).
        assert bearer(still_in["access"]).get("/api/auth/me").status_code == 200
