"""Socket handshake: every refusal happens before accept; a valid ticket joins the right rooms."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta

import jwt
import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from collab.core.jsonframes import dumps
from collab.core.redis_client import sync_redis
from collab.core.tokens import Credentials
from collab.realtime.consumer import CLOSE_ORIGIN_REFUSED, CLOSE_UNAUTHENTICATED
from collab.realtime.rooms import course_room, user_room
from collab.realtime.routing import CLOSE_NO_SUCH_ROUTE
from collab.realtime.tickets import _key as ticket_key
from collab.realtime.tickets import ticket_issue
from tests.conftest import access_token_for, client_for, ws_connect
from tests.factories import CourseFactory, EnrollmentFactory

pytestmark = pytest.mark.django_db(transaction=True)

ALLOWED_ORIGIN = (b"origin", b"http://allowed.example")


async def handshake(path: str = "/ws/", headers: list | None = None) -> tuple[bool, object, object]:
    """Connects and returns (accepted, subprotocol-or-close-code, communicator)."""
    communicator = await ws_connect(None, path=path, headers=headers, connect=False)
    accepted, detail = await communicator.connect(timeout=5)
    return accepted, detail, communicator


async def assert_refused(path: str = "/ws/", headers: list | None = None, code: int = CLOSE_UNAUTHENTICATED):
    accepted, detail, communicator = await handshake(path, headers)
    try:
        assert not accepted, "the socket was accepted"
        assert detail == code
        # Refused means refused: nothing else comes out of the application.
        assert await communicator.receive_nothing(timeout=0.1)
    finally:
        await communicator.disconnect()


@database_sync_to_async
def rest_ticket(user) -> dict:
    response = client_for(user).post("/api/auth/ws-ticket")
    assert response.status_code == 200
    return response.json()


@database_sync_to_async
def make_ticket(user) -> str:
    token = AccessToken(access_token_for(user))
    return ticket_issue(credentials=Credentials.from_claims(token.payload))


access_for = database_sync_to_async(access_token_for)


def bearer(token: str) -> list:
    return [(b"authorization", f"Bearer {token}".encode())]


# -- refusals ---------------------------------------------------------------------------


async def test_no_credentials_is_refused():
    await assert_refused()


async def test_no_credentials_with_an_allowed_origin_is_refused():
    await assert_refused(headers=[ALLOWED_ORIGIN])


async def test_a_socket_at_an_unknown_path_is_refused_before_accept(student):
    # Signed in or not: only /ws/ has a socket. (Channels' router raised: a 500 and an ERROR.)
    token = await database_sync_to_async(access_token_for)(student)
    bearer = (b"authorization", f"Bearer {token}".encode())
    for path in ("/wsx/", "/ws/extra/", "/api/ws/", "/"):
        await assert_refused(path, headers=[ALLOWED_ORIGIN, bearer], code=CLOSE_NO_SUCH_ROUTE)


async def test_unknown_ticket_is_refused(student):
    for ticket in ["unknown-ticket", "x" * 200, "", "%00"]:
        await assert_refused(f"/ws/?ticket={ticket}")


async def test_reused_ticket_is_refused(student):
    ticket = (await rest_ticket(student))["ticket"]
    accepted, _, first = await handshake(f"/ws/?ticket={ticket}")
    assert accepted
    await first.disconnect()
    await assert_refused(f"/ws/?ticket={ticket}")


async def test_a_ticket_raced_by_two_handshakes_opens_one_socket(student):
    ticket = await make_ticket(student)
    results = await asyncio.gather(handshake(f"/ws/?ticket={ticket}"), handshake(f"/ws/?ticket={ticket}"))
    try:
        assert sorted(accepted for accepted, _, _ in results) == [False, True]
    finally:
        for _, _, communicator in results:
            await communicator.disconnect()


async def test_expired_ticket_is_refused(student, settings):
    settings.WS_TICKET_TTL_SECONDS = 1
    ticket = await make_ticket(student)
    assert sync_redis().ttl(ticket_key(ticket)) == 1
    await asyncio.sleep(1.3)
    await assert_refused(f"/ws/?ticket={ticket}")


async def test_ticket_lapsed_in_redis_is_refused(student):
    ticket = await make_ticket(student)
    sync_redis().pexpire(ticket_key(ticket), 50)
    await asyncio.sleep(0.2)
    await assert_refused(f"/ws/?ticket={ticket}")


async def test_expired_access_token_is_refused(student):
    token = AccessToken.for_user(student)
    token.set_exp(lifetime=timedelta(seconds=-5))
    await assert_refused(headers=bearer(str(token)))


async def test_bad_signature_access_token_is_refused(student):
    payload = AccessToken.for_user(student).payload
    forged = jwt.encode(payload, "not-the-server-signing-key-but-long-enough-to-sign", algorithm="HS256")
    await assert_refused(headers=bearer(forged))


async def test_tampered_access_token_is_refused(student, other_student):
    header, _, signature = (await access_for(student)).split(".")
    _, payload_of_other, _ = (await access_for(other_student)).split(".")
    await assert_refused(headers=bearer(f"{header}.{payload_of_other}.{signature}"))


async def test_refresh_token_as_bearer_is_refused(student):
    refresh = await database_sync_to_async(RefreshToken.for_user)(student)
    await assert_refused(headers=bearer(str(refresh)))


async def test_malformed_authorization_header_is_refused(student):
    for header in [b"Basic dXNlcjpwYXNz", b"Bearer", b"Bearer ", b"Bearer not-a-jwt", b"Token abc"]:
        await assert_refused(headers=[(b"authorization", header)])


async def test_inactive_user_is_refused_by_ticket_and_by_header(student):
    ticket = await make_ticket(student)
    token = await access_for(student)
    student.is_active = False
    await database_sync_to_async(student.save)()
    await assert_refused(f"/ws/?ticket={ticket}")
    await assert_refused(headers=bearer(token))


async def test_origin_not_allowed_is_refused_even_with_a_valid_ticket(student):
    for origin in [
        b"http://evil.example",
        b"https://allowed.example",
        b"http://allowed.example.evil.com",
        b"null",
        b"",
        b"http://allowed.example:8080",
    ]:
        ticket = await make_ticket(student)
        await assert_refused(f"/ws/?ticket={ticket}", headers=[(b"origin", origin)], code=CLOSE_ORIGIN_REFUSED)
        # Refused before the ticket was looked at: it is still there, unspent.
        assert json.loads(sync_redis().get(ticket_key(ticket)))["user"] == str(student.id)


async def test_origin_not_allowed_is_refused_even_with_a_valid_bearer(student):
    headers = [(b"origin", b"http://evil.example"), *bearer(await access_for(student))]
    await assert_refused(headers=headers, code=CLOSE_ORIGIN_REFUSED)


async def test_a_jwt_in_the_query_string_does_not_authenticate(student):
    token = await access_for(student)
    for param in ["token", "access", "access_token", "jwt", "authorization", "bearer"]:
        await assert_refused(f"/ws/?{param}={token}")


async def test_a_jwt_passed_as_ticket_does_not_authenticate(student):
    await assert_refused(f"/ws/?ticket={await access_for(student)}")


# -- acceptance and rooms ---------------------------------------------------------------


async def room_ping(room: str, n: int) -> None:
    await get_channel_layer().group_send(
        room, {"type": "room.frame", "text": dumps({"event": "ping", "room": room, "data": {"n": n}})}
    )


async def test_allowed_origin_with_a_ticket_connects(student):
    ticket = (await rest_ticket(student))["ticket"]
    accepted, _, communicator = await handshake(f"/ws/?ticket={ticket}", headers=[ALLOWED_ORIGIN])
    try:
        assert accepted
        # The ticket is spent.
        assert sync_redis().get(ticket_key(ticket)) is None
    finally:
        await communicator.disconnect()


async def test_a_valid_ticket_joins_the_user_room_and_each_course_room(instructor, student, other_student):
    taught = await database_sync_to_async(CourseFactory)(instructor=instructor)
    studied = await database_sync_to_async(CourseFactory)()
    await database_sync_to_async(EnrollmentFactory)(course=studied, user=instructor)
    foreign = await database_sync_to_async(CourseFactory)()
    await database_sync_to_async(EnrollmentFactory)(course=foreign, user=student)

    ticket = (await rest_ticket(instructor))["ticket"]
    accepted, _, communicator = await handshake(f"/ws/?ticket={ticket}", headers=[ALLOWED_ORIGIN])
    assert accepted
    try:
        for n, room in enumerate([user_room(instructor.id), course_room(taught.id), course_room(studied.id)]):
            await room_ping(room, n)
            frame = await communicator.receive_json_from(timeout=3)
            assert frame == {"event": "ping", "room": room, "data": {"n": n}}
        # Not a member of `foreign`, and not other users' rooms.
        await room_ping(course_room(foreign.id), 9)
        await room_ping(user_room(student.id), 9)
        await room_ping(user_room(other_student.id), 9)
        assert await communicator.receive_nothing(timeout=0.3)
    finally:
        await communicator.disconnect()


async def test_a_bearer_header_connects_without_origin(student, course):
    communicator = await ws_connect(student)
    try:
        await room_ping(course_room(course.id), 1)
        assert (await communicator.receive_json_from(timeout=3))["data"] == {"n": 1}
    finally:
        await communicator.disconnect()


async def test_after_disconnect_the_socket_leaves_its_rooms(student, course):
    communicator = await ws_connect(student)
    await communicator.disconnect()
    layer = get_channel_layer()
    deadline = time.monotonic() + 3
    if hasattr(layer, "_group_key"):
        # The core layer keeps group membership in a sorted set in Redis; it must be empty now.
        key = layer._group_key(course_room(course.id))

        def members() -> int:
            return sync_redis().zcard(key)
    else:
        # The pub/sub layer keeps it in the process (and unsubscribes an emptied room).
        local = layer._get_layer()
        name = local._get_group_channel_name(course_room(course.id))

        def members() -> int:
            return len(local.groups.get(name, ()))

    while time.monotonic() < deadline:
        if members() == 0:
            break
        await asyncio.sleep(0.05)
    assert members() == 0
