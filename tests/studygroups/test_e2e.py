"""The group room over a real ASGI server process, PostgreSQL and Redis, with real clients."""

from __future__ import annotations

import httpx
import pytest
import websockets
from asgiref.sync import sync_to_async
from django.db import connection

from collab.realtime.broadcast import broadcast_now
from tests.conftest import access_token_for
from tests.factories import CourseFactory, EnrollmentFactory, UserFactory
from tests.servers import running_servers
from tests.sockets import next_frame, nothing, receive_event, request, send

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


@sync_to_async
def _people():
    course = CourseFactory()
    alice, bob, carol = UserFactory(), UserFactory(), UserFactory()
    for user in (alice, bob, carol):
        EnrollmentFactory(course=course, user=user)
    tokens = {user: access_token_for(user) for user in (alice, bob, carol, course.instructor)}
    # This worker thread's connection would keep the test database open at teardown.
    connection.close()
    return course, alice, bob, carol, tokens


async def test_group_room_chat_and_delete_over_a_real_server():
    course, alice, bob, carol, tokens = await _people()

    def auth(user) -> dict:
        return {"Authorization": f"Bearer {tokens[user]}"}

    with running_servers(1) as (server,):
        async with httpx.AsyncClient(base_url=server.http_url, timeout=10) as http:
            created = await http.post(
                "/api/study-groups",
                json={"name": "Real world", "courseId": str(course.id), "maxMembers": 2},
                headers=auth(alice),
            )
            assert created.status_code == 201, created.text
            group_id = created.json()["id"]
            room = f"study-group-{group_id}"
            joined = await http.post(f"/api/study-groups/{group_id}/join", headers=auth(bob))
            assert joined.status_code == 200 and joined.json()["isFull"] is True
            full = await http.post(f"/api/study-groups/{group_id}/join", headers=auth(carol))
            assert (full.status_code, full.json()["error"]["code"]) == (409, "group_full")

            async with (
                websockets.connect(server.ws_url, additional_headers=auth(alice)) as ws_a,
                websockets.connect(server.ws_url, additional_headers=auth(bob)) as ws_b,
                websockets.connect(server.ws_url, additional_headers=auth(carol)) as ws_c,
            ):
                for ws, ref in ((ws_a, "a"), (ws_b, "b")):
                    assert (await request(ws, "join-study-group", {"groupId": group_id}, ref))["event"] == "ack"
                refused = await request(ws_c, "join-study-group", {"groupId": group_id}, "c")
                assert refused["data"]["code"] == "not_a_member"

                await send(ws_a, "study-group-message", {"groupId": group_id, "message": "hello"})
                got = await receive_event(ws_b, "study-group-new-message")
                assert got["room"] == room and got["data"]["message"] == "hello"
                assert got["data"]["userId"] == str(alice.id)

                history = await http.get(f"/api/study-groups/{group_id}/messages", headers=auth(bob))
                assert [m["message"] for m in history.json()["messages"]] == ["hello"]

                deleted = await http.delete(f"/api/study-groups/{group_id}", headers=auth(course.instructor))
                assert deleted.status_code == 204
                for ws in (ws_a, ws_b):
                    frame = await receive_event(ws, "study-group-deleted", room=room)
                    assert frame["data"]["groupId"] == group_id
                    await receive_event(ws, "study-group-deleted", room=f"course-{course.id}")
                # Carol never was in the room; she hears of the deletion on the course room only.
                await receive_event(ws_c, "study-group-deleted", room=f"course-{course.id}")

                # After the delete no socket is in the room: a frame sent to it reaches nobody,
                # while one sent next to the course room (the control) reaches everyone first.
                await broadcast_now(room, "study-group-new-message", {"message": "ghost"})
                await broadcast_now(f"course-{course.id}", "probe", {"n": 1})
                for ws in (ws_a, ws_b, ws_c):
                    first = await next_frame(ws)
                    assert first["event"] == "probe", first
                    assert await nothing(ws)
