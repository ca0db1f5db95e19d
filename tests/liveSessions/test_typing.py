"""Typing has a lifetime (issue 15): a `session-user-typing` is always followed by one
`session-user-stop-typing`, whatever ends it: stop, message, leave, close, unenrolment,
the session ending, or TYPING_TIMEOUT without renewal."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async

from collab.courses import services as course_services
from liveSessions import services
from liveSessions.models import SessionStatus
from tests.conftest import ws_connect
from tests.liveSessions.factories import live_session
from tests.servers import RedisServer
from tests.sockets import drain, request

pytestmark = pytest.mark.django_db(transaction=True)
db = database_sync_to_async


async def _in_session(course, instructor, student):
    session = await db(live_session)(status=SessionStatus.LIVE, course=course)
    teacher, learner = await ws_connect(instructor), await ws_connect(student)
    for comm in (teacher, learner):
        assert (await request(comm, "join-live-session", {"sessionId": str(session.id)}))["event"] == "ack"
    await drain(teacher)
    await drain(learner)
    return session, teacher, learner


def typing_events(frames: list[dict]) -> list[str]:
    return [f["event"] for f in frames if "typing" in f["event"]]


async def _start(learner, session) -> None:
    assert (await request(learner, "session-typing-start", {"sessionId": str(session.id)}))["event"] == "ack"


async def test_closing_the_socket_ends_its_typing(course, instructor, student):
    """issue 15: a typist closing the tab left 'is typing' on the others' screens forever."""
    session, teacher, learner = await _in_session(course, instructor, student)
    try:
        await _start(learner, session)
        await learner.disconnect()
        frames = await drain(teacher, quiet=0.5)
        assert typing_events(frames) == ["session-user-typing", "session-user-stop-typing"]
        stop = next(f for f in frames if f["event"] == "session-user-stop-typing")
        assert stop["data"] == {"sessionId": str(session.id), "userId": str(student.id), "name": student.name}
    finally:
        await teacher.disconnect()


@pytest.mark.parametrize("how", ["stop", "message", "leave"])
async def test_stop_message_and_leave_end_typing_once(course, instructor, student, how):
    session, teacher, learner = await _in_session(course, instructor, student)
    sid = str(session.id)
    try:
        await _start(learner, session)
        await _start(learner, session)  # a renewal: no second frame
        event = {"stop": "session-typing-stop", "message": "session-message", "leave": "leave-live-session"}[how]
        data = {"sessionId": sid, "message": "done"} if how == "message" else {"sessionId": sid}
        assert (await request(learner, event, data))["event"] == "ack"
        if how == "stop":  # a second stop is acked and sends nothing
            assert (await request(learner, "session-typing-stop", {"sessionId": sid}))["event"] == "ack"
        assert typing_events(await drain(teacher, quiet=0.5)) == ["session-user-typing", "session-user-stop-typing"]
    finally:
        await teacher.disconnect()
        await learner.disconnect()


async def test_typing_expires_after_the_timeout_without_renewal(course, instructor, student, settings):
    settings.TYPING_TIMEOUT = 0.5
    session, teacher, learner = await _in_session(course, instructor, student)
    try:
        await _start(learner, session)
        first = await teacher.receive_json_from(timeout=5)
        assert first["event"] == "session-user-typing"
        expired = await teacher.receive_json_from(timeout=10)  # no frame from the typist in between
        assert expired["event"] == "session-user-stop-typing"
        assert expired["data"]["userId"] == str(student.id)
        # A new start after the expiry is a new typing (and a new frame).
        await _start(learner, session)
        assert (await teacher.receive_json_from(timeout=5))["event"] == "session-user-typing"
    finally:
        await teacher.disconnect()
        await learner.disconnect()


async def test_unenrolment_ends_typing(course, instructor, student):
    session, teacher, learner = await _in_session(course, instructor, student)
    try:
        await _start(learner, session)
        await db(course_services.enrollment_delete)(actor=instructor, course=course, user_id=student.id)
        frames = await drain(teacher, quiet=0.8)
        assert typing_events(frames) == ["session-user-typing", "session-user-stop-typing"]
    finally:
        await teacher.disconnect()
        await learner.disconnect()


async def test_the_session_ending_ends_typing_and_clears_the_socket_state(course, instructor, student):
    session, teacher, learner = await _in_session(course, instructor, student)
    try:
        await _start(learner, session)
        await db(services.live_session_end)(actor=instructor, session_id=session.id, recording_url="")
        await drain(learner, quiet=0.5)
        # The learner's socket no longer holds a typing entry (its room is gone).
        reply = await request(learner, "session-typing-stop", {"sessionId": str(session.id)})
        assert reply["event"] == "error" and reply["data"]["code"] == "not_in_session"
    finally:
        await teacher.disconnect()
        await learner.disconnect()


@pytest.fixture
def own_redis(settings):
    """Our own redis-server for the channel layer and REDIS_URL, to stop and restart."""
    server = RedisServer()
    server.start()
    settings.REDIS_URL = server.url
    layer = settings.CHANNEL_LAYERS["default"]
    hosts = [{**host, "address": server.url} for host in layer["CONFIG"]["hosts"]]
    settings.CHANNEL_LAYERS = {"default": {**layer, "CONFIG": {**layer["CONFIG"], "hosts": hosts}}}
    try:
        yield server
    finally:
        server.kill()


async def _until_delivered(sender, receiver, session) -> None:
    """Until the channel layer carries frames again after Redis came back (a typing of
    `sender` reaches `receiver`), leaving `sender` not typing and both drained."""
    sid = {"sessionId": str(session.id)}
    for _ in range(40):
        if (await request(sender, "session-typing-start", sid))["event"] == "ack":
            if "session-user-typing" in typing_events(await drain(receiver, quiet=0.3)):
                await request(sender, "session-typing-stop", sid)
                await drain(receiver, quiet=0.3)
                return
            await request(sender, "session-typing-stop", sid)
        await asyncio.sleep(0.25)
    raise AssertionError("the channel layer did not carry frames after Redis came back")


async def test_a_start_refused_during_an_outage_is_never_followed_by_a_stop(course, instructor, student, own_redis):
    """A new-user pass: `session-typing-start` answered service_unavailable while Redis was
    down, yet once it was back the others got a stop for a start they never saw."""
    session, teacher, learner = await _in_session(course, instructor, student)
    sid = {"sessionId": str(session.id)}
    try:
        own_redis.kill()
        refused = await request(learner, "session-typing-start", sid)
        assert refused["event"] == "error" and refused["data"]["code"] == "service_unavailable"
        own_redis.start()
        await _until_delivered(teacher, learner, session)

        assert (await request(learner, "session-typing-stop", sid))["event"] == "ack"
        assert typing_events(await drain(teacher, quiet=0.5)) == []  # was: a lone stop
        # The next start is a first one again: announced, then its stop.
        await _start(learner, session)
        assert (await request(learner, "session-typing-stop", sid))["event"] == "ack"
        assert typing_events(await drain(teacher, quiet=0.5)) == ["session-user-typing", "session-user-stop-typing"]
    finally:
        await teacher.disconnect()
        await learner.disconnect()
