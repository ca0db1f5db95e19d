"""Logging out over REST closes every open socket of that user, and only theirs."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from rest_framework_simplejwt.tokens import RefreshToken

from collab.realtime.consumer import CLOSE_LOGGED_OUT
from tests.conftest import client_for, ws_connect

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def rest_logout(user, refresh: str) -> int:
    return client_for(user).post("/api/auth/logout", {"refresh": refresh}, format="json").status_code


@database_sync_to_async
def refresh_for(user) -> str:
    return str(RefreshToken.for_user(user))


async def test_logout_closes_all_of_the_users_sockets_and_no_one_elses(student, other_student):
    laptop = await ws_connect(student)
    phone = await ws_connect(student)
    bystander = await ws_connect(other_student)
    try:
        assert await rest_logout(student, await refresh_for(student)) == 204

        for communicator in (laptop, phone):
            output = await communicator.receive_output(timeout=3)
            assert output == {"type": "websocket.close", "code": CLOSE_LOGGED_OUT}

        # The other user's socket is untouched and still answers.
        assert await bystander.receive_nothing(timeout=0.3)
        await bystander.send_json_to({"event": "no-such-event", "ref": "1"})
        reply = await bystander.receive_json_from(timeout=3)
        assert reply["event"] == "error" and reply["ref"] == "1"
    finally:
        for communicator in (laptop, phone, bystander):
            await communicator.disconnect()


async def test_a_refused_logout_closes_nothing(student, other_student):
    socket = await ws_connect(student)
    try:
        # student presents other_student's refresh token: refused, nothing closed.
        assert await rest_logout(student, await refresh_for(other_student)) == 401
        assert await socket.receive_nothing(timeout=0.3)
    finally:
        await socket.disconnect()
