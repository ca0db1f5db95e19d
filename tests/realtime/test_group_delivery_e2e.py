"""Room frames over a real uvicorn server (the Procfile's websockets-sansio), where they are
written to idle sockets directly (pieces `group_delivery` and `frame_write`): a burst of
chat reaches every member once, in seq order and intact, the sender of a typing frame does
not hear it, and a member that closed does not disturb the others. The same with the
pieces off, for comparison."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import httpx
import pytest
import websockets
from channels.db import database_sync_to_async as sync_to_async
from django.utils import timezone

from tests.conftest import access_token_for
from tests.factories import CourseFactory, EnrollmentFactory, UserFactory
from tests.servers import running_servers
from tests.sockets import drain, request, send

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]

MEMBERS = 4
MESSAGES = 40


def _class():
    course = CourseFactory()
    students = [UserFactory() for _ in range(MEMBERS)]
    for student in students:
        EnrollmentFactory(course=course, user=student)
    return {"teacher": access_token_for(course.instructor)} | {
        f"s{k}": access_token_for(student) for k, student in enumerate(students)
    }, str(course.id)


async def _room_history(ws, room: str, chat_count: int) -> list[dict]:
    """The sequenced frames of `room` until `chat_count` chat messages are among them
    (others, e.g. the leaving member's announcement, fall in between)."""
    got = []
    while sum(frame["event"] == "session-new-message" for frame in got) < chat_count:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if frame.get("room") == room and "seq" in frame:
            got.append(frame)
    return got


@pytest.mark.parametrize("pieces", [None, "middleware,cache,consumer_loop,socket_db"], ids=["direct", "asgi"])
async def test_a_burst_of_chat_reaches_every_member_once_in_order(pieces):
    tokens, course_id = await sync_to_async(_class)()
    headers = {name: {"Authorization": f"Bearer {token}"} for name, token in tokens.items()}
    env = {"ASGI_FAST": pieces} if pieces else None
    with running_servers(1, env) as (server,):
        async with httpx.AsyncClient(base_url=server.http_url, timeout=10) as http:
            created = await http.post(
                "/api/live-sessions",
                headers=headers["teacher"],
                json={
                    "title": "Burst",
                    "description": "",
                    "scheduledAt": (timezone.now() + timedelta(minutes=5)).isoformat(),
                    "duration": 30,
                    "courseId": course_id,
                },
            )
            sid = created.json()["id"]
            assert (await http.post(f"/api/live-sessions/{sid}/start", headers=headers["teacher"])).status_code == 200
            sockets = {
                name: await websockets.connect(server.ws_url, additional_headers=header)
                for name, header in headers.items()
            }
            try:
                for name, ws in sockets.items():
                    assert (await request(ws, "join-live-session", {"sessionId": sid}, name))["event"] == "ack"
                for ws in sockets.values():
                    await drain(ws, quiet=0.3)
                # One member leaves before the burst; the others must not notice.
                await sockets.pop("s0").close()
                teacher = sockets["teacher"]
                for n in range(MESSAGES):
                    await send(teacher, "session-message", {"sessionId": sid, "message": f"m{n}"}, f"c{n}")
                for name, ws in sockets.items():
                    got = await _room_history(ws, f"session-{sid}", MESSAGES)
                    chat = [frame["data"]["message"] for frame in got if frame["event"] == "session-new-message"]
                    assert chat == [f"m{n}" for n in range(MESSAGES)], name
                    seqs = [frame["seq"] for frame in got]
                    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), name

                # Typing is a state frame with `exclude`: the typist does not hear it.
                typist, other = sockets["s1"], sockets["s2"]
                await drain(typist, quiet=0.3)
                await drain(other, quiet=0.3)
                assert (await request(typist, "session-typing-start", {"sessionId": sid}, "t"))["event"] == "ack"
                heard = [frame["event"] for frame in await drain(other, quiet=0.5)]
                assert "session-user-typing" in heard
                assert "session-user-typing" not in [frame["event"] for frame in await drain(typist, quiet=0.3)]
            finally:
                for ws in sockets.values():
                    await ws.close()


LARGE = "é" * 40_000  # 80 KB of UTF-8: a frame with a 64-bit length, over SOCKET_MAX_FRAME_BYTES


@pytest.mark.parametrize("pieces", [None, "middleware,cache,consumer_loop,socket_db"], ids=["direct", "asgi"])
async def test_large_frames_written_directly_interleave_with_pings_and_replies(pieces):
    """The server pings every 10 ms (uvicorn writes the ping itself) while large unicode
    room frames are written to the socket directly and the client's own frames are answered
    through ASGI: every frame arrives whole and in order, every reply arrives, and the
    protocol stays sane (a frame written into the middle of another would close
    the socket with 1002)."""
    from collab.realtime.broadcast import broadcast_now
    from collab.realtime.rooms import course_room

    tokens, course_id = await sync_to_async(_class)()
    env = {"UVICORN_WS_PING_INTERVAL": "0.01", **({"ASGI_FAST": pieces} if pieces else {})}
    with running_servers(1, env) as (server,):
        sockets = [
            await websockets.connect(server.ws_url, additional_headers={"Authorization": f"Bearer {tokens[name]}"})
            for name in ("s0", "s1")
        ]
        try:
            for ws in sockets:
                await drain(ws, quiet=0.3)
            for n in range(60):
                await broadcast_now(course_room(course_id), "big", {"n": n, "text": LARGE})
                if n % 10 == 0:
                    await send(sockets[0], "no-such-event", {}, f"q{n}")
                    await asyncio.sleep(0.02)
            for ws in sockets:
                got, replies = [], []
                while len(got) < 60:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    if frame["event"] == "big":
                        assert frame["data"]["text"] == LARGE
                        got.append(frame["data"]["n"])
                    elif frame["event"] == "error":
                        replies.append(frame["ref"])
                assert got == list(range(60))
                if ws is sockets[0]:
                    assert replies == [f"q{n}" for n in range(0, 60, 10)]
        finally:
            for ws in sockets:
                await ws.close()
