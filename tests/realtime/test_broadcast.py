"""broadcast_on_commit, sockets_control_on_commit and broadcast_now against real sockets."""

from __future__ import annotations

import threading

import pytest
from channels.db import database_sync_to_async
from django.db import connection, transaction

from collab.realtime import outbox as outbox_module
from collab.realtime.broadcast import (
    broadcast_committed,
    broadcast_now,
    broadcast_on_commit,
    sockets_control_on_commit,
)
from collab.realtime.consumer import CLOSE_LOGGED_OUT
from collab.realtime.dispatch import socket_event
from collab.realtime.models import RoomEvent
from collab.realtime.rooms import course_room, user_room
from collab.realtime.testing import capture_broadcasts
from tests.conftest import ws_connect
from tests.factories import CourseFactory

pytestmark = pytest.mark.django_db(transaction=True)


class Boom(Exception):
    pass


@socket_event("test-shout")
async def _shout(socket, data: dict) -> dict:
    """Like typing: a socket-born event to a room, not echoed to the sender."""
    await broadcast_now(data["room"], "test-shouted", {"by": str(socket.user.id)}, exclude_channel=socket.channel_name)
    return {}


@database_sync_to_async
def in_transaction(callback, *, fail: bool = False) -> None:
    try:
        with transaction.atomic():
            CourseFactory()  # a real write in the same transaction
            callback()
            if fail:
                raise Boom
    except Boom:
        pass


# -- broadcast_on_commit ----------------------------------------------------------------


async def test_a_rolled_back_transaction_broadcasts_nothing(course, student):
    socket = await ws_connect(student)
    try:
        with capture_broadcasts() as sent:
            await in_transaction(lambda: broadcast_on_commit(course_room(course.id), "test-event", {"n": 1}), fail=True)
        assert sent.events("test-") == []
        assert await socket.receive_nothing(timeout=0.5)
    finally:
        await socket.disconnect()


async def test_a_rolled_back_savepoint_drops_its_broadcast_but_the_outer_commit_sends(course, student):
    room = course_room(course.id)

    def work() -> None:
        broadcast_on_commit(room, "test-outer", {})
        try:
            with transaction.atomic():
                broadcast_on_commit(room, "test-inner", {})
                raise Boom
        except Boom:
            pass

    socket = await ws_connect(student)
    try:
        with capture_broadcasts() as sent:
            await in_transaction(work)
        # Only this test's events: the student's own coalesced presence frame from its
        # connect may be sent while the capture is on.
        assert sent.events("test-") == ["test-outer"]
        assert (await socket.receive_json_from(timeout=3))["event"] == "test-outer"
        assert await socket.receive_nothing(timeout=0.3)
    finally:
        await socket.disconnect()


async def test_a_committed_transaction_broadcasts_exactly_once(course, student, instructor, other_student):
    room = course_room(course.id)
    member, teacher, outsider = await ws_connect(student), await ws_connect(instructor), await ws_connect(other_student)
    try:
        received_during_transaction = []

        def work() -> None:
            broadcast_on_commit(room, "test-event", {"courseId": str(course.id)})
            received_during_transaction.append(len(sent))

        with capture_broadcasts() as sent:
            await in_transaction(work)
        # Nothing left before the commit; one broadcast after it.
        assert received_during_transaction == [0]
        assert len(sent) == 1
        assert sent.to_room(room) == sent.named("test-event") == list(sent)
        assert sent[0].data == {"courseId": str(course.id)}

        expected = {"event": "test-event", "room": room, "data": {"courseId": str(course.id)}}
        for socket in (member, teacher):
            frame = await socket.receive_json_from(timeout=3)
            # A history frame: the room's seq and the event's id (collab.realtime.outbox).
            assert frame.pop("seq") == 1 and frame.pop("id")
            assert frame == expected
            assert await socket.receive_nothing(timeout=0.3)
        assert await outsider.receive_nothing(timeout=0.3)
    finally:
        for socket in (member, teacher, outsider):
            await socket.disconnect()


async def test_a_broadcast_is_encoded_once_for_every_recipient(course, student, instructor, monkeypatch):
    calls = []
    real = outbox_module._encode

    def counting(frame):
        calls.append((frame.room, frame.event))
        return real(frame)

    # History frames are encoded by the outbox, with their seq, just before the commit.
    monkeypatch.setattr(outbox_module, "_encode", counting)
    sockets = [await ws_connect(student), await ws_connect(student), await ws_connect(instructor)]
    try:
        await in_transaction(lambda: broadcast_on_commit(course_room(course.id), "test-event", {"x": 1}))
        texts = [await socket.receive_from(timeout=3) for socket in sockets]
        assert len(set(texts)) == 1
        assert calls == [(course_room(course.id), "test-event")]
        assert '"seq":1' in texts[0] and '"data":{"x":1}' in texts[0]
    finally:
        for socket in sockets:
            await socket.disconnect()


async def test_broadcast_outside_a_transaction_sends_at_once(course, student):
    socket = await ws_connect(student)
    try:
        await database_sync_to_async(broadcast_on_commit)(course_room(course.id), "test-event", {})
        assert (await socket.receive_json_from(timeout=3))["event"] == "test-event"
    finally:
        await socket.disconnect()


async def test_broadcast_to_an_empty_room_is_harmless(db):
    with capture_broadcasts() as sent:
        await in_transaction(lambda: broadcast_on_commit("course-nobody", "test-event", {}))
    assert sent.events() == ["test-event"]


# -- sockets_control_on_commit ----------------------------------------------------------


async def test_control_join_then_event_then_room_traffic(student, other_student):
    extra_room = "study-group-test"
    socket = await ws_connect(student)
    bystander = await ws_connect(other_student)
    try:
        with capture_broadcasts() as sent:
            await in_transaction(
                lambda: sockets_control_on_commit(
                    user_room(student.id), join=[extra_room], event="test-joined", data={"room": extra_room}
                )
            )
        assert sent.events("test-") == ["test-joined"]
        frame = await socket.receive_json_from(timeout=3)
        assert frame.pop("seq") == 1 and frame.pop("id")
        assert frame == {
            "event": "test-joined",
            "room": user_room(student.id),
            "data": {"room": extra_room},
        }
        await broadcast_now(extra_room, "test-in-room", {})
        assert (await socket.receive_json_from(timeout=3))["event"] == "test-in-room"
        assert await bystander.receive_nothing(timeout=0.3)
    finally:
        await socket.disconnect()
        await bystander.disconnect()


async def test_control_leave(course, student):
    socket = await ws_connect(student)
    try:
        await in_transaction(lambda: sockets_control_on_commit(user_room(student.id), leave=[course_room(course.id)]))
        # Without an event the control message sends nothing to the client.
        assert await socket.receive_nothing(timeout=0.3)
        await broadcast_now(course_room(course.id), "test-in-room", {})
        assert await socket.receive_nothing(timeout=0.3)
        # Its own user room still works.
        await broadcast_now(user_room(student.id), "test-direct", {})
        assert (await socket.receive_json_from(timeout=3))["event"] == "test-direct"
    finally:
        await socket.disconnect()


async def test_control_close(student, other_student):
    first, second = await ws_connect(student), await ws_connect(student)
    bystander = await ws_connect(other_student)
    try:
        await in_transaction(lambda: sockets_control_on_commit(user_room(student.id), close=True))
        for socket in (first, second):
            assert await socket.receive_output(timeout=3) == {"type": "websocket.close", "code": CLOSE_LOGGED_OUT}
        assert await bystander.receive_nothing(timeout=0.3)
    finally:
        for socket in (first, second, bystander):
            await socket.disconnect()


async def test_control_in_a_rolled_back_transaction_does_nothing(course, student):
    socket = await ws_connect(student)
    try:
        with capture_broadcasts() as sent:
            await in_transaction(
                lambda: sockets_control_on_commit(
                    user_room(student.id), leave=[course_room(course.id)], close=True, event="test-gone", data={}
                ),
                fail=True,
            )
        assert sent.events("test-") == []
        assert await socket.receive_nothing(timeout=0.3)
        await broadcast_now(course_room(course.id), "test-still-here", {})
        assert (await socket.receive_json_from(timeout=3))["event"] == "test-still-here"
    finally:
        await socket.disconnect()


@pytest.mark.postgres_only(reason="SQLite transactions lock at BEGIN: nobody else commits meanwhile")
async def test_a_joined_rooms_seq_is_read_at_the_grants_commit_and_earlier_frames_stay_out(student):
    """A frame of the room committed while the granting transaction is open (before its
    COMMIT) is history from before the grant: the joining socket does not get it. The
    control message carries the room's seq as of the grant's commit."""
    room = "study-group-test-grant"
    socket = await ws_connect(student)
    try:
        await database_sync_to_async(broadcast_committed)(room, "test-long-ago", {"n": 1})

        def commit_elsewhere() -> None:
            try:
                broadcast_committed(room, "test-meanwhile", {"n": 2})
            finally:
                connection.close()

        @database_sync_to_async
        def grant() -> None:
            with transaction.atomic():
                sockets_control_on_commit(user_room(student.id), join=[room], event="test-joined", data={})
                # Another connection commits a frame of the room before the grant commits.
                other = threading.Thread(target=commit_elsewhere)
                other.start()
                other.join()

        await grant()
        control = await database_sync_to_async(
            lambda: RoomEvent.objects.get(room=user_room(student.id), event="test-joined").message
        )()
        assert control["join"] == [room] and control["join_seqs"] == {room: 2}
        assert (await socket.receive_json_from(timeout=3))["event"] == "test-joined"
        assert await socket.receive_nothing(timeout=0.5)
        await database_sync_to_async(broadcast_committed)(room, "test-after", {"n": 3})
        frame = await socket.receive_json_from(timeout=3)
        assert (frame["event"], frame["seq"]) == ("test-after", 3)
    finally:
        await socket.disconnect()


async def test_a_control_message_without_join_seqs_still_joins(student, channel_layer):
    """A control written before `join_seqs` existed (still in the outbox during a deploy)
    joins as it used to: from the room's seq when it arrives."""
    room = "study-group-test-old-form"
    socket = await ws_connect(student)
    try:
        await database_sync_to_async(broadcast_committed)(room, "test-long-ago", {"n": 1})
        await channel_layer.group_send(
            user_room(student.id), {"type": "room.control", "join": [room], "leave": [], "close": False}
        )
        assert await socket.receive_nothing(timeout=0.5)
        await database_sync_to_async(broadcast_committed)(room, "test-after", {"n": 2})
        frame = await socket.receive_json_from(timeout=3)
        assert (frame["event"], frame["seq"]) == ("test-after", 2)
        assert await socket.receive_nothing(timeout=0.3)
    finally:
        await socket.disconnect()


# -- broadcast_now ----------------------------------------------------------------------


async def test_broadcast_now_excludes_the_sender(course, student, instructor):
    sender = await ws_connect(student)
    sender_other_tab = await ws_connect(student)
    teacher = await ws_connect(instructor)
    room = course_room(course.id)
    try:
        with capture_broadcasts() as sent:
            await sender.send_json_to({"event": "test-shout", "ref": "s1", "data": {"room": room}})
            assert await sender.receive_json_from(timeout=3) == {"event": "ack", "ref": "s1", "data": {}}
        expected = {"event": "test-shouted", "room": room, "data": {"by": str(student.id)}}
        assert await teacher.receive_json_from(timeout=3) == expected
        # Only the sending socket is excluded, not the user's other tabs.
        assert await sender_other_tab.receive_json_from(timeout=3) == expected
        assert await sender.receive_nothing(timeout=0.3)
        assert sent.events("test-") == ["test-shouted"]
    finally:
        for socket in (sender, sender_other_tab, teacher):
            await socket.disconnect()


async def test_broadcast_now_without_exclusion_reaches_everyone(course, student):
    socket = await ws_connect(student)
    try:
        await broadcast_now(course_room(course.id), "test-all", {"n": 1})
        assert await socket.receive_json_from(timeout=3) == {
            "event": "test-all",
            "room": course_room(course.id),
            "data": {"n": 1},
        }
    finally:
        await socket.disconnect()
