"""A socket lives no longer than its credentials: `reauth-required` before they expire,
`reauth` with a fresh token or ticket continues, otherwise close 4401 at expiry."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from rest_framework_simplejwt.tokens import AccessToken

from collab.core.tokens import Credentials
from collab.realtime.consumer import CLOSE_UNAUTHENTICATED
from collab.realtime.tickets import ticket_issue
from tests.conftest import access_token_for, ws_connect

pytestmark = pytest.mark.django_db(transaction=True)

SHORT = 3  # seconds a short-lived token lives


@database_sync_to_async
def short_token(user, seconds: float = SHORT) -> str:
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=timedelta(seconds=seconds))
    return str(token)


async def connect_with(token: str):
    return await ws_connect(None, headers=[(b"authorization", f"Bearer {token}".encode())])


async def next_event(communicator, timeout: float = 10) -> dict:
    return await communicator.receive_json_from(timeout=timeout)


async def test_reauth_required_comes_before_expiry_then_the_socket_is_closed_4401(student):
    token = await short_token(student)
    expires_at = AccessToken(token)["exp"]
    communicator = await connect_with(token)
    try:
        notice = await next_event(communicator)
        assert notice["event"] == "reauth-required"
        assert 0 <= notice["data"]["expiresIn"] <= SHORT
        assert notice["data"]["expiresAt"].endswith("Z")
        # Until then it still works.
        await communicator.send_json_to({"event": "no-such-event", "ref": "before"})
        assert (await next_event(communicator))["ref"] == "before"
        closed = await communicator.receive_output(timeout=SHORT + 10)
        assert closed == {"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED}
        assert time.time() >= expires_at
    finally:
        await communicator.disconnect()


@pytest.mark.parametrize("how", ["token", "ticket"])
async def test_reauth_with_a_fresh_token_or_ticket_keeps_the_socket_open(student, how):
    communicator = await connect_with(await short_token(student))
    try:
        assert (await next_event(communicator))["event"] == "reauth-required"
        fresh = await database_sync_to_async(access_token_for)(student)
        if how == "ticket":
            credentials = Credentials.from_claims(AccessToken(fresh).payload)
            fresh = await database_sync_to_async(ticket_issue)(credentials=credentials)
        await communicator.send_json_to({"event": "reauth", "ref": "r", "data": {how: fresh}})
        ack = await next_event(communicator)
        assert ack["event"] == "ack" and ack["ref"] == "r", ack
        assert ack["data"]["expiresAt"].endswith("Z")
        # Past the first token's expiry, the socket still answers and was not closed.
        await asyncio.sleep(SHORT + 1)
        await communicator.send_json_to({"event": "no-such-event", "ref": "after"})
        assert (await next_event(communicator))["ref"] == "after"
    finally:
        await communicator.disconnect()


async def test_reauth_with_another_users_or_a_bad_token_is_refused(student, other_student):
    communicator = await connect_with(await short_token(student, seconds=120))
    try:
        theirs = await database_sync_to_async(access_token_for)(other_student)
        for data, code in [
            ({"token": theirs}, "reauth_failed"),
            ({"token": "not-a-token"}, "reauth_failed"),
            ({"ticket": "no-such-ticket"}, "reauth_failed"),
            ({}, "invalid"),
        ]:
            await communicator.send_json_to({"event": "reauth", "ref": "x", "data": data})
            reply = await next_event(communicator)
            assert reply["event"] == "error" and reply["data"]["code"] == code, (data, reply)
    finally:
        await communicator.disconnect()


async def test_a_long_lived_socket_gets_no_notice_yet(student):
    communicator = await ws_connect(student)  # 15-minute token
    try:
        assert await communicator.receive_nothing(timeout=0.5)
    finally:
        await communicator.disconnect()
