"""Handshakes under way together are read in one batch (collab.realtime.auth): each socket
still gets exactly its own user, its own refusal and its own rooms."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from rest_framework_simplejwt.tokens import RefreshToken

from collab.accounts.revocation import sessions_revoke
from collab.core.tokens import SESSION_CLAIM, Credentials
from collab.realtime.auth import _handshake_reads
from collab.realtime.broadcast import broadcast_now
from collab.realtime.consumer import CLOSE_UNAUTHENTICATED, _connect_rooms
from collab.realtime.rooms import course_room, signin_room, user_room
from tests.conftest import ws_connect
from tests.factories import CourseFactory, EnrollmentFactory, UserFactory
from tests.sockets import drain

pytestmark = pytest.mark.django_db(transaction=True)


def signed_in(user) -> tuple[str, Credentials]:
    """(access token, its credentials) of a new signed-in session of `user`."""
    refresh = RefreshToken.for_user(user)
    refresh[SESSION_CLAIM] = uuid.uuid4().hex
    access = refresh.access_token
    return str(access), Credentials.from_claims(access.payload)


def test_one_batch_reads_each_handshake_its_own_user_and_rooms(django_assert_max_num_queries):
    course = CourseFactory()
    student, teacher, outsider = UserFactory(), course.instructor, UserFactory()
    EnrollmentFactory(course=course, user=student)
    inactive, signed_out = UserFactory(is_active=False), UserFactory()
    _, student_credentials = signed_in(student)
    _, expired = signed_in(outsider)
    expired = Credentials(
        user_id=expired.user_id,
        session_id=expired.session_id,
        generation=expired.generation,
        expires_at=time.time() - 60,
    )
    _, revoked = signed_in(signed_out)
    sessions_revoke(user=signed_out, session_ids=[revoked.session_id])
    batch = [
        student_credentials,
        expired,
        signed_in(teacher)[1],
        revoked,
        signed_in(inactive)[1],
        signed_in(outsider)[1],
        student_credentials,  # a second socket of the same session
    ]
    # The users, the revocation fallback never needed, the course rooms, the seqs.
    with django_assert_max_num_queries(3):
        answers = _handshake_reads(_connect_rooms, batch)
    users = [user.id if user is not None else None for user, _ in answers]
    assert users == [student.id, None, teacher.id, None, None, outsider.id, student.id]
    rooms = [set(read) if read is not None else None for _, read in answers]
    assert rooms[0] == {user_room(student.id), signin_room(student_credentials.session_id), course_room(course.id)}
    assert rooms[2] == {user_room(teacher.id), signin_room(batch[2].session_id), course_room(course.id)}
    assert rooms[5] == {user_room(outsider.id), signin_room(batch[5].session_id)}
    assert rooms[6] == rooms[0]
    assert rooms[1] is rooms[3] is rooms[4] is None
    assert all(seq == 0 for _, read in answers if read for seq in read.values())


async def test_sockets_opened_together_each_get_their_own_frames_and_refusal():
    users = [await database_sync_to_async(UserFactory)() for _ in range(6)]
    tokens = [(await database_sync_to_async(signed_in)(user))[0] for user in users]
    revoked_user = users[3]
    revoked_session = await database_sync_to_async(signed_in)(revoked_user)
    await database_sync_to_async(sessions_revoke)(user=revoked_user, session_ids=[revoked_session[1].session_id])
    tokens[3] = revoked_session[0]
    communicators = [
        await ws_connect(None, headers=[(b"authorization", f"Bearer {token}".encode())], connect=False)
        for token in tokens
    ]
    results = await asyncio.gather(*(communicator.connect(timeout=10) for communicator in communicators))
    try:
        assert [accepted for accepted, _ in results] == [True, True, True, False, True, True]
        assert results[3][1] == CLOSE_UNAUTHENTICATED
        for index in (0, 4):
            await broadcast_now(user_room(users[index].id), "note", {"to": index})
        for index, communicator in enumerate(communicators):
            if index == 3:
                continue
            if index in (0, 4):
                frame = await communicator.receive_json_from(timeout=5)
                assert frame["event"] == "note" and frame["data"] == {"to": index}
            assert await communicator.receive_nothing(timeout=0.2)
    finally:
        for communicator in communicators:
            await communicator.disconnect()


def test_with_redis_down_a_batch_asks_the_database_and_still_refuses_each_signed_out_session(settings):
    """The revocation pipeline cannot run: the batch falls back to RevokedSession for all
    of it at once, refusing exactly the signed-out sessions (and an older generation,
    which the user rows say), letting the others in."""
    ok_user, out_user, moved_user = UserFactory(), UserFactory(), UserFactory()
    _, ok = signed_in(ok_user)
    _, out = signed_in(out_user)
    _, still_in = signed_in(out_user)  # the same user's other session
    _, moved = signed_in(moved_user)
    sessions_revoke(user=out_user, session_ids=[out.session_id])
    moved_user.set_password("a new password 123")
    moved_user.save()  # moves the generation on
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens there
    answers = _handshake_reads(_connect_rooms, [ok, out, still_in, moved, ok])
    users = [user.id if user is not None else None for user, _ in answers]
    assert users == [ok_user.id, None, out_user.id, None, ok_user.id]


async def test_a_frame_committed_between_the_handshakes_read_and_its_subscription_is_delivered(monkeypatch):
    """The handshake reads its rooms' seqs in its batch, then subscribes: a frame of a
    course room committed in between (a session started at 10:00 while the class
    connects) reached no subscription of this socket. It must still be delivered."""
    from django.db import transaction

    from collab.realtime.broadcast import broadcast_on_commit
    from collab.realtime.consumer import CollabConsumer

    course = await database_sync_to_async(CourseFactory)()
    student = await database_sync_to_async(UserFactory)()
    await database_sync_to_async(EnrollmentFactory)(course=course, user=student)
    room = course_room(course.id)

    def commit_a_frame() -> None:
        with transaction.atomic():
            broadcast_on_commit(room, "session-started", {"n": 1})

    real_join_rooms = CollabConsumer.join_rooms

    async def join_rooms_late(self, rooms):
        if room in rooms:
            await database_sync_to_async(commit_a_frame)()
            await asyncio.sleep(0.2)  # published: nobody of this socket listens yet
        await real_join_rooms(self, rooms)

    monkeypatch.setattr(CollabConsumer, "join_rooms", join_rooms_late)
    communicator = await ws_connect(student)
    try:
        frames = await drain(communicator, quiet=1.0)
        assert [frame["data"] for frame in frames if frame.get("event") == "session-started"] == [{"n": 1}]
    finally:
        await communicator.disconnect()


async def test_a_handshake_refused_while_subscribing_leaves_no_room_membership_behind(monkeypatch):
    """Redis drops while a handshake subscribes to its rooms (together): the socket is
    refused with 1013 and must not stay a member of the rooms whose subscription went
    through, nor of the one that failed (the process would keep those rooms forever)."""
    import redis

    from collab.realtime.consumer import CLOSE_TRY_AGAIN
    from collab.realtime.layer import BatchedSubscriptionShard

    course = await database_sync_to_async(CourseFactory)()
    student = await database_sync_to_async(UserFactory)()
    await database_sync_to_async(EnrollmentFactory)(course=course, user=student)
    failing = course_room(course.id)
    real_subscribe = BatchedSubscriptionShard.subscribe

    async def subscribe(self, channel):
        if channel.endswith(failing):
            raise redis.exceptions.ConnectionError("Redis went away")
        await real_subscribe(self, channel)

    monkeypatch.setattr(BatchedSubscriptionShard, "subscribe", subscribe)
    communicator = await ws_connect(student, connect=False)
    accepted, code = await communicator.connect(timeout=10)
    assert (accepted, code) == (False, CLOSE_TRY_AGAIN)
    await communicator.wait(timeout=5)
    groups = get_channel_layer()._get_layer().groups
    rooms = (user_room(student.id), failing)
    assert [group for group in groups if group.endswith(rooms)] == []


async def test_a_handshake_while_redis_is_down_is_refused_not_a_server_error(monkeypatch, caplog):
    """The socket's own channel is subscribed before `connect` runs: with Redis down that
    raised out of the ASGI app (uvicorn answered the upgrade 500 and logged "Exception in
    ASGI application"). docs/protocol.md: refused before accept, the client retries."""
    import logging

    import redis

    from collab.realtime.consumer import CLOSE_TRY_AGAIN
    from collab.realtime.layer import BatchedSubscriptionShard

    student = await database_sync_to_async(UserFactory)()

    async def subscribe(self, channel):
        raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6380. Connection refused.")

    monkeypatch.setattr(BatchedSubscriptionShard, "subscribe", subscribe)
    communicator = await ws_connect(student, connect=False)
    with caplog.at_level(logging.WARNING, logger="collab.realtime.consumer"):
        accepted, code = await communicator.connect(timeout=10)
    assert (accepted, code) == (False, CLOSE_TRY_AGAIN)
    assert any("channel layer is unavailable" in record.getMessage() for record in caplog.records)
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


async def test_a_socket_hook_failing_for_an_outage_logs_a_warning_and_other_failures_an_error(caplog):
    """Each frame runs the traffic hooks (presence renews the lease in Redis): during an
    outage every frame logged an ERROR with a traceback for what README "Faults" expects."""
    import logging

    import redis

    from collab.realtime.consumer import CollabConsumer

    async def outage(socket):
        raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6380. Connection refused.")

    async def bug(socket):
        raise KeyError("a real fault")

    consumer = CollabConsumer()
    with caplog.at_level(logging.WARNING, logger="collab.realtime.consumer"):
        await consumer._run_hook(outage)
        assert [(r.levelno, r.exc_info is None) for r in caplog.records] == [(logging.WARNING, True)]
        assert "a service is unavailable" in caplog.records[0].getMessage()
        caplog.clear()
        await consumer._run_hook(bug)
    assert [r.levelno for r in caplog.records] == [logging.ERROR] and caplog.records[0].exc_info
