"""Nothing acknowledged is lost, with real processes: our own redis-server (stopped, killed
and restarted here), two web processes (the Procfile's command) and real clients.

- a socket is cut, 50 events happen in its session and queue, it reconnects to the
  *other* process and resumes: all 50, in order, once;
- a gap older than retention gets `resync`, and the REST reload matches the database;
- Redis is stopped while the instructor chats (socket) and admits a student (REST); Redis
  restarts empty: every member gets both once, in order, soon after, and nobody connected
  lost their seat or showed offline (the sweep run right then and later frees nothing);
- a web process killed with SIGKILL between commit and send: the event still arrives;
- REST during the outage: 503 `service_unavailable` with Retry-After, or success; never 500.
"""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import contextmanager

import httpx
import pytest
import websockets
from channels.db import database_sync_to_async
from django.db import connection

from collab.realtime import leases, outbox
from collab.realtime.models import RoomEvent
from liveSessions.models import SessionAttendance, SessionMessage, SessionStatus
from presence import sweep as presence_sweep_module
from tests.conftest import access_token_for
from tests.factories import CourseFactory, EnrollmentFactory, InstructorFactory, UserFactory
from tests.liveSessions.factories import live_session
from tests.servers import RedisServer, running_servers

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]

db = database_sync_to_async


@contextmanager
def own_redis(settings):
    server = RedisServer()
    server.start()
    settings.REDIS_URL = server.url
    try:
        yield server
    finally:
        server.kill()


def world(students: int = 1):
    instructor = InstructorFactory()
    course = CourseFactory(instructor=instructor)
    learners = [UserFactory() for _ in range(students)]
    for learner in learners:
        EnrollmentFactory(course=course, user=learner)
    session = live_session(course, status=SessionStatus.LIVE, capacity=50)
    tokens = {user.id: access_token_for(user) for user in [instructor, *learners]}
    connection.close()
    return instructor, course, learners, session, tokens


def auth(tokens, user) -> dict:
    return {"Authorization": f"Bearer {tokens[user.id]}"}


class Client:
    """A real socket that records every frame, answers requests by ref, and tracks the
    last seq per room like a browser would."""

    def __init__(self, ws):
        self.ws = ws
        self.frames: list[dict] = []
        self.replies: dict[str, dict] = {}
        self.last: dict[str, int] = {}
        self._reader = asyncio.ensure_future(self._read())
        self._ref = 0

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                frame = json.loads(raw)
                if "ref" in frame:
                    self.replies[str(frame["ref"])] = frame
                    continue
                self.frames.append(frame)
                if "seq" in frame:
                    self.last[frame["room"]] = frame["seq"]
        except websockets.ConnectionClosed:
            pass

    async def request(self, event: str, data: dict, timeout: float = 20) -> dict:
        self._ref += 1
        ref = str(self._ref)
        await self.ws.send(json.dumps({"event": event, "data": data, "ref": ref}))
        await wait_for(lambda: ref in self.replies, timeout, f"reply to {event}")
        return self.replies.pop(ref)

    def sequenced(self, room: str) -> list[dict]:
        return [frame for frame in self.frames if frame.get("room") == room and "seq" in frame]

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()


async def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def connect(server, token: str) -> Client:
    ws = await websockets.connect(server.ws_url, additional_headers={"Authorization": f"Bearer {token}"})
    return Client(ws)


def assert_once_in_order(frames: list[dict], excluded: frozenset[int] = frozenset()) -> None:
    """Each seq once, in order, none missing but the `excluded` ones (frames this socket
    was excluded from: they count as delivered and are not sent)."""
    seqs = sorted({frame["seq"] for frame in frames} | excluded)
    assert [frame["seq"] for frame in frames] == [seq for seq in seqs if seq not in excluded], seqs
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs


def own_joins(room: str, user, after: int) -> frozenset[int]:
    """The seqs of `user`'s attendee-joined frames in `room` after `after` (from the outbox)."""
    rows = RoomEvent.objects.filter(room=room, event="attendee-joined", seq__gt=after).values_list("seq", "message")
    return frozenset(seq for seq, message in rows if json.loads(message["text"])["data"]["userId"] == str(user.id))


async def test_fifty_events_missed_are_resumed_on_the_other_process_in_order_once(settings):
    instructor, _course, (learner,), session, tokens = await db(world)()
    sroom, oroom = f"session-{session.id}", f"office-hours-{instructor.id}"
    with own_redis(settings) as redis_server, running_servers(2, {"REDIS_URL": redis_server.url}) as (one, two):
        student = await connect(one, tokens[learner.id])
        teacher = await connect(two, tokens[instructor.id])
        try:
            assert (await student.request("join-live-session", {"sessionId": str(session.id)}))["event"] == "ack"
            assert (await student.request("join-office-hours-queue", {"instructorId": str(instructor.id)}))[
                "event"
            ] == "ack"
            assert (await teacher.request("join-live-session", {"sessionId": str(session.id)}))["event"] == "ack"
            await teacher.request("session-message", {"sessionId": str(session.id), "message": "before"})
            await wait_for(lambda: student.last.get(sroom), 10, "the first message")
            last = dict(student.last)
            await student.close()

            async with httpx.AsyncClient(base_url=two.http_url, timeout=20) as http:
                for index in range(30):
                    ack = await teacher.request(
                        "session-message", {"sessionId": str(session.id), "message": f"m{index}"}
                    )
                    assert ack["event"] == "ack" and ack["data"]["delivery"] == "sent"
                queue = f"/api/office-hours/queue/{instructor.id}"
                for index in range(20):
                    action = "open" if index % 2 == 0 else "close"
                    response = await http.post(f"{queue}/{action}", headers=auth(tokens, instructor))
                    assert response.status_code == 200, response.text

            back = await connect(two, tokens[learner.id])  # the *other* process
            try:
                rooms = {sroom: last[sroom], oroom: last.get(oroom, 0)}
                ack = await back.request("resume", {"rooms": rooms})
                assert ack["data"]["rooms"][sroom]["status"] == "resumed"
                assert ack["data"]["rooms"][oroom]["status"] == "resumed"
                chat = [f for f in back.sequenced(sroom) if f["event"] == "session-new-message"]
                assert [f["data"]["message"] for f in chat] == [f"m{index}" for index in range(30)]
                # The resume re-entered the session (the user present again): its own
                # attendee-joined is not sent to it, neither replayed nor live; its seq
                # counts as delivered (the ack's seq includes it).
                own = await db(own_joins)(sroom, learner, last[sroom])
                assert len(own) == 1, own
                joined = [f["data"]["userId"] for f in back.sequenced(sroom) if f["event"] == "attendee-joined"]
                assert str(learner.id) not in joined
                assert_once_in_order(back.sequenced(sroom), own)
                assert back.sequenced(sroom)[0]["seq"] == last[sroom] + 1
                toggles = back.sequenced(oroom)
                assert [f["event"] for f in toggles] == ["office-hours-opened", "office-hours-closed"] * 10
                assert_once_in_order(toggles)
                assert ack["data"]["rooms"][sroom]["seq"] == max(back.sequenced(sroom)[-1]["seq"], *own)
                # Then live, no repeats.
                await teacher.request("session-message", {"sessionId": str(session.id), "message": "after"})
                await wait_for(lambda: back.sequenced(sroom)[-1]["data"].get("message") == "after", 10, "live")
                assert_once_in_order(back.sequenced(sroom), own)
            finally:
                await back.close()
        finally:
            await teacher.close()


async def test_a_gap_older_than_retention_gets_resync_and_the_rest_reload_matches(settings):
    instructor, _course, (learner,), session, tokens = await db(world)()
    sroom = f"session-{session.id}"
    extra = {"OUTBOX_RETAIN_EVENTS": "3", "OUTBOX_RETAIN_SECONDS": "0"}
    with own_redis(settings) as redis_server, running_servers(1, {"REDIS_URL": redis_server.url, **extra}) as (one,):
        teacher = await connect(one, tokens[instructor.id])
        try:
            await teacher.request("join-live-session", {"sessionId": str(session.id)})
            for index in range(10):
                await teacher.request("session-message", {"sessionId": str(session.id), "message": f"m{index}"})
            settings.OUTBOX_RETAIN_EVENTS, settings.OUTBOX_RETAIN_SECONDS = 3, 0
            # Retention never drops a frame before it is marked sent (the server marks its
            # sends in batches, once a second): wait for the marks.
            await wait_for_db(lambda: not RoomEvent.objects.filter(room=sroom, sent_at__isnull=True).exists())
            assert await db(outbox.outbox_prune)() > 0
            student = await connect(one, tokens[learner.id])
            try:
                ack = await student.request("resume", {"rooms": {sroom: 1}})
                state = ack["data"]["rooms"][sroom]
                assert state["status"] == "resync"
                assert student.sequenced(sroom) == []
                async with httpx.AsyncClient(base_url=one.http_url, timeout=20) as http:
                    page = await http.get(f"/api/live-sessions/{session.id}/messages", headers=auth(tokens, learner))
                assert page.status_code == 200
                body = json.dumps(page.json())
                stored = await db(
                    lambda: list(SessionMessage.objects.filter(session=session).values_list("body", flat=True))
                )()
                assert len(stored) == 10 and all(text in body for text in stored)
                # And it continues from the ack's seq.
                await teacher.request("session-message", {"sessionId": str(session.id), "message": "next"})
                await wait_for(lambda: student.sequenced(sroom), 10, "the next frame")
                assert student.sequenced(sroom)[0]["seq"] == state["seq"] + 1
            finally:
                await student.close()
        finally:
            await teacher.close()


async def test_redis_outage_loses_nothing_and_nobody_connected_drops(settings):
    instructor, course, learners, session, tokens = await db(world)(2)
    ann, bob = learners
    queue = f"/api/office-hours/queue/{instructor.id}"
    extra = {"PRESENCE_REASSERT_INTERVAL": "2", "OUTBOX_RELAY_INTERVAL": "0.5", "OUTBOX_RELAY_GRACE": "0.5"}
    settings.PRESENCE_REASSERT_INTERVAL = 2
    with (
        own_redis(settings) as redis_server,
        running_servers(2, {"REDIS_URL": redis_server.url, **extra}) as (one, two),
    ):
        async with httpx.AsyncClient(base_url=one.http_url, timeout=30) as http:
            assert (await http.post(f"{queue}/open", headers=auth(tokens, instructor))).status_code == 200
            joined = await http.post(f"{queue}/join", json={"question": "?"}, headers=auth(tokens, ann))
            assert joined.status_code == 201
            teacher = await connect(one, tokens[instructor.id])
            a = await connect(one, tokens[ann.id])
            b = await connect(two, tokens[bob.id])
            clients = (teacher, a, b)
            try:
                for client in clients:
                    assert (await client.request("join-live-session", {"sessionId": str(session.id)}))["event"] == "ack"
                    await client.request("join-office-hours-queue", {"instructorId": str(instructor.id)})
                await asyncio.sleep(1)
                before = {id(client): len(client.frames) for client in clients}

                redis_server.kill()
                # REST during the outage: 503 with Retry-After or success, never a 500.
                for method, path in [
                    ("GET", "/api/courses"),
                    ("GET", f"/api/live-sessions/{session.id}"),
                    ("GET", f"/api/live-sessions/{session.id}/messages"),
                    ("GET", f"/api/presence/course/{course.id}"),
                    ("POST", "/api/presence/heartbeat"),
                    ("POST", "/api/auth/ws-ticket"),
                    ("GET", queue),
                ]:
                    response = await http.request(method, path, headers=auth(tokens, ann))
                    assert response.status_code < 500 or response.status_code == 503, (path, response.text)
                    if response.status_code == 503:
                        assert response.json()["error"]["code"] == "service_unavailable"
                        assert response.headers["Retry-After"]

                chat = await teacher.request(
                    "session-message", {"sessionId": str(session.id), "message": "in the dark"}
                )
                assert chat["event"] == "ack" and chat["data"]["delivery"] == "queued"
                admitted = await http.post(f"{queue}/admit", json={}, headers=auth(tokens, instructor))
                assert admitted.status_code == 200, admitted.text
                typing = await teacher.request("session-typing-start", {"sessionId": str(session.id)})
                assert typing["event"] == "error" and typing["data"]["code"] == "service_unavailable"

                redis_server.start()  # empty: no leases, no subscriptions, nothing
                # The sweep right after the restart frees nothing and shows nobody offline.
                assert await db(presence_sweep_module.presence_sweep)() == 0

                def got_both(client) -> bool:
                    new = client.frames[before[id(client)] :]
                    return any(f["event"] == "session-new-message" for f in new) and any(
                        f["event"].startswith("office-hours-") for f in new
                    )

                await wait_for(lambda: all(got_both(client) for client in clients), 30, "both events")
                for client in clients:
                    new = client.frames[before[id(client)] :]
                    messages = [f for f in new if f["event"] == "session-new-message"]
                    assert [f["data"]["message"] for f in messages] == ["in the dark"]
                    for room in {f["room"] for f in new if "seq" in f}:
                        assert_once_in_order([f for f in new if f.get("room") == room and "seq" in f])
                admitted_frames = [f for f in a.frames if f["event"] == "office-hours-admitted"]
                assert len(admitted_frames) == 1

                # Leases re-asserted: everyone connected is online, every seat kept, even
                # after the sweep runs once Redis has settled (two re-assert periods and a
                # margin after the restart: the first moment the sweep acts at all).
                await wait_for_db(leases.leases_settled, timeout=30)
                await db(presence_sweep_module.presence_sweep)()
                online = await http.get(f"/api/presence/course/{course.id}", headers=auth(tokens, instructor))
                assert online.status_code == 200
                assert {u["userId"] for u in online.json()["users"]} == {str(instructor.id), str(ann.id), str(bob.id)}
                present = await db(
                    lambda: SessionAttendance.objects.filter(session=session, present_since__isnull=False).count()
                )()
                assert present == 3
                offline = [
                    f
                    for c in clients
                    for f in c.frames
                    if f["event"] in ("presence-changed", "presence-batch") and "offline" in json.dumps(f["data"])
                ]
                assert offline == []
            finally:
                for client in clients:
                    await client.close()


async def test_a_web_process_killed_between_commit_and_send_still_delivers(settings):
    instructor, _course, (learner,), session, tokens = await db(world)()
    sroom = f"session-{session.id}"
    with own_redis(settings) as redis_server:
        env = {"REDIS_URL": redis_server.url}
        with (
            running_servers(
                1, {**env, "TEST_OUTBOX_SEND_DELAY": "60", "TEST_OUTBOX_SEND_DELAY_EVENT": "session-new-message"}
            ) as (doomed,),
            running_servers(1, env) as (other,),
        ):
            teacher = await connect(doomed, tokens[instructor.id])
            student = await connect(other, tokens[learner.id])
            try:
                await student.request("join-live-session", {"sessionId": str(session.id)})
                await teacher.ws.send(
                    json.dumps({"event": "join-live-session", "data": {"sessionId": str(session.id)}, "ref": "j"})
                )
                await teacher.ws.send(
                    json.dumps(
                        {"event": "session-message", "data": {"sessionId": str(session.id), "message": "last words"}}
                    )
                )
                # Committed, and the process now sleeps before sending: kill it there.
                await wait_for_db(lambda: SessionMessage.objects.filter(session=session, body="last words").exists())
                doomed.kill()
                await wait_for(
                    lambda: any(f["data"].get("message") == "last words" for f in student.sequenced(sroom)),
                    20,
                    "the relayed message",
                )
                assert_once_in_order(student.sequenced(sroom))
            finally:
                await student.close()


async def wait_for_db(condition, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not await db(condition)():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the database")
        await asyncio.sleep(0.1)
