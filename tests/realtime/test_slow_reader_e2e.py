"""A client that stops reading its socket, over a real uvicorn server (the Procfile's
websockets-sansio, pieces on): the server's write buffer fills, the transport pauses, and
every later room frame for that socket waits in the process's channel-layer queue. Without
a bound that queue grows for as long as the client stays connected (a stalled browser tab,
a client whose TCP stack still acks), so one slow reader can take the process's memory.
The socket is dropped once SOCKET_SEND_QUEUE_MAX messages wait for it (the client
reconnects and resumes), and the other members of the room hear every frame, in order.
Then members that close or vanish in the middle of a burst."""

from __future__ import annotations

import asyncio
import json
import socket

import psutil
import pytest
import websockets
from channels.db import database_sync_to_async as sync_to_async

from collab.realtime.broadcast import broadcast_now
from collab.realtime.rooms import course_room
from tests.conftest import access_token_for
from tests.factories import CourseFactory, EnrollmentFactory, UserFactory
from tests.servers import start_server
from tests.sockets import drain

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]

FRAMES = 300
PAYLOAD = "é" * 25_000  # ~50 KB of UTF-8 per frame: 15 MB in all, well past any socket buffer
QUEUE_MAX = 40


def _class():
    course = CourseFactory()
    reader, stalled = UserFactory(), UserFactory()
    for student in (reader, stalled):
        EnrollmentFactory(course=course, user=student)
    return access_token_for(reader), access_token_for(stalled), str(course.id)


async def _stalled_socket(url: str, token: str):
    """A websockets client on a socket with a tiny receive buffer that stops reading."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    host, port = url.removeprefix("ws://").split("/")[0].split(":")
    sock.connect((host, int(port)))
    sock.setblocking(False)
    ws = await websockets.connect(
        url, sock=sock, additional_headers={"Authorization": f"Bearer {token}"}, max_size=None, max_queue=1
    )
    return ws


async def _read_all(ws, count: int, got: list[int] | None = None, progress: asyncio.Event | None = None) -> list[int]:
    got = [] if got is None else got
    while len(got) < count:
        try:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 20))
        except TimeoutError:
            raise AssertionError(f"reader got {len(got)}: {got[-3:]}") from None
        if frame.get("event") == "slow-test":
            got.append(frame["data"]["n"])
            if progress is not None:
                progress.set()
    return got


async def test_a_client_that_stops_reading_is_dropped_not_buffered_without_bound(tmp_path):
    reader_token, stalled_token, course_id = await sync_to_async(_class)()
    room = course_room(course_id)
    log = tmp_path / "server.log"
    server = start_server({"SOCKET_SEND_QUEUE_MAX": str(QUEUE_MAX)}, log_path=log)
    try:
        process = psutil.Process(server.process.pid)
        reader = await websockets.connect(
            server.ws_url, additional_headers={"Authorization": f"Bearer {reader_token}"}, max_size=None
        )
        stalled = await _stalled_socket(server.ws_url, stalled_token)
        try:
            await drain(reader, quiet=0.3)
            await drain(stalled, quiet=0.3)
            stalled.transport.pause_reading()
            rss_before = process.memory_info().rss
            got: list[int] = []
            progress = asyncio.Event()
            reading = asyncio.create_task(_read_all(reader, FRAMES, got, progress))
            for n in range(FRAMES):
                await broadcast_now(room, "slow-test", {"n": n, "pad": PAYLOAD})
                while n - len(got) > 10 and not reading.done():
                    # The reader stays well within its buffers and the limit; the stalled one cannot.
                    progress.clear()
                    await asyncio.wait_for(progress.wait(), 20)
            assert await reading == list(range(FRAMES))
            await asyncio.sleep(1)
            grown = process.memory_info().rss - rss_before
            # The stalled client reads again: it was dropped long before the last frame.
            stalled.transport.resume_reading()
            heard = []
            closed = False
            try:
                while len(heard) < FRAMES:
                    frame = json.loads(await asyncio.wait_for(stalled.recv(), 20))
                    if frame.get("event") == "slow-test":
                        heard.append(frame["data"]["n"])
            except websockets.ConnectionClosed:
                closed = True
            assert closed and len(heard) < FRAMES - QUEUE_MAX, (len(heard), f"server RSS grew {grown >> 20} MiB")
            assert heard == list(range(len(heard)))  # what it got, it got in order
        finally:
            await reader.close()
            stalled.transport.abort()
    finally:
        server.stop()
    text = log.read_text()
    assert "fell behind" in text
    assert "Traceback" not in text and "ERROR" not in text, text[-3000:]


async def test_members_closing_or_vanishing_mid_burst_leave_no_error_and_the_others_hear_all(tmp_path):
    """During a burst of room frames (written directly), one member sends a close frame and
    another's connection is reset (the client gone, no close): the server logs no error,
    and the member that stays hears every frame in order."""
    tokens = await sync_to_async(_class_of)(3)
    course_id, tokens = tokens[0], tokens[1:]
    room = course_room(course_id)
    log = tmp_path / "server.log"
    server = start_server(log_path=log)
    try:
        staying, closing, vanishing = [
            await websockets.connect(server.ws_url, additional_headers={"Authorization": f"Bearer {token}"})
            for token in tokens
        ]
        try:
            for ws in (staying, closing, vanishing):
                await drain(ws, quiet=0.3)
            reading = asyncio.create_task(_read_all(staying, 200))
            for n in range(200):
                await broadcast_now(room, "slow-test", {"n": n, "pad": "x" * 2000})
                if n == 50:
                    await closing.close()
                if n == 80:
                    vanishing.transport.abort()
            assert await reading == list(range(200))
            await asyncio.sleep(0.5)
        finally:
            await staying.close()
    finally:
        server.stop()
    text = log.read_text()
    assert "Traceback" not in text and "ERROR" not in text, text[-3000:]


def _class_of(members: int) -> list[str]:
    course = CourseFactory()
    tokens = []
    for _ in range(members):
        student = UserFactory()
        EnrollmentFactory(course=course, user=student)
        tokens.append(access_token_for(student))
    return [str(course.id), *tokens]
