"""The outbox behind sequenced frames, in-process (real PostgreSQL, Redis and channel layer):
the relay sends what was committed but never sent and sockets drop frames they already
delivered; a frame that overtook an earlier one waits for it (read from the outbox, never
to the socket it excluded, one read shared by the members of a process missing the same
frames); pruning keeps the last events and the recent ones. The helpers are
tests/realtime/test_resume.py's."""

from __future__ import annotations

import pytest
from django.db import transaction

from collab.realtime import outbox, supervisor
from collab.realtime.broadcast import broadcast_on_commit
from collab.realtime.models import RoomEvent, RoomSequence
from tests.conftest import handshake_settled, ws_connect
from tests.factories import EnrollmentFactory, UserFactory
from tests.realtime.test_resume import db, drain

pytestmark = pytest.mark.django_db(transaction=True)


def _record(room: str, n: int, exclude: str | None = None) -> dict:
    """Commits a history frame `test-event` {"n": n} of `room` without sending it (as if the
    process died between commit and send, or the send was lost); returns its channel-layer
    message, to send by hand."""
    message = {"type": "room.frame", **({"exclude": exclude} if exclude else {})}
    with transaction.atomic():
        row = outbox.outbox_record(room=room, event="test-event", data={"n": n}, message=message, history=True)
    return row.message


async def test_the_relay_sends_what_was_committed_but_never_sent_and_sockets_drop_repeats(course, student, settings):
    room = f"course-{course.id}"
    learner = await ws_connect(student)
    settings.OUTBOX_RELAY_GRACE = 0
    # Rows written before the handshake's re-read of its rooms would reach the socket
    # through its catch-up at once, which is not what this test is about.
    await handshake_settled(student)
    try:
        for n in range(3):
            await db(_record)(room, n)
        assert await learner.receive_nothing(timeout=0.3)
        await supervisor.Supervisor().relay()
        got = await drain(learner)
        assert [frame["data"]["n"] for frame in got] == [0, 1, 2]
        assert await db(RoomEvent.objects.filter(room=room, sent_at__isnull=True).count)() == 0

        # The same rows again (a relay whose marks were lost): the socket drops them.
        await db(RoomEvent.objects.filter(room=room).update)(sent_at=None)
        await supervisor.Supervisor().relay()
        assert await learner.receive_nothing(timeout=0.4)
    finally:
        await learner.disconnect()


async def test_a_frame_that_overtook_an_earlier_one_waits_for_it(course, student):
    """Seq n+1 reaches the socket before n (relay and live send racing): the socket reads
    n from the outbox and sends n, then n+1."""
    room = f"course-{course.id}"
    learner = await ws_connect(student)
    try:
        first = await db(_record)(room, 1)
        second = await db(_record)(room, 2)
        from channels.layers import get_channel_layer

        await get_channel_layer().group_send(room, second)
        got = await drain(learner)
        assert [frame["data"]["n"] for frame in got] == [1, 2]
        await get_channel_layer().group_send(room, first)
        assert await learner.receive_nothing(timeout=0.3)
    finally:
        await learner.disconnect()


async def test_a_frame_read_from_the_outbox_is_not_sent_to_the_socket_it_excluded(course, student, other_student):
    """A gap fill reads from the outbox a frame whose live send excluded this socket (the
    sender of the change): as live, it counts as delivered and is not sent to it; the
    other member of the room gets it."""
    from channels.layers import get_channel_layer

    room = f"course-{course.id}"
    await db(EnrollmentFactory)(course=course, user=other_student)
    learner, other = await ws_connect(student), await ws_connect(other_student)
    try:
        (sender,) = [s for s in supervisor.open_sockets() if getattr(s, "user", None) == student]

        await db(_record)(room, 1, sender.channel_name)
        second = await db(_record)(room, 2)
        # Only the second reaches the room live (the first was lost): each socket fills
        # the gap from the outbox.
        await get_channel_layer().group_send(room, second)
        assert [frame["data"]["n"] for frame in await drain(learner)] == [2]
        assert [frame["data"]["n"] for frame in await drain(other)] == [1, 2]
    finally:
        await learner.disconnect()
        await other.disconnect()


async def test_members_of_one_process_missing_the_same_frames_share_one_outbox_read(course, monkeypatch):
    """A frame that overtook another leaves every member of the room in this process with
    the same gap at once: they fill it with one read of the outbox, not one each, and
    each still gets every frame once, in order."""
    from channels.layers import get_channel_layer

    from collab.realtime import socket_rooms

    room = f"course-{course.id}"
    users = [await db(UserFactory)() for _ in range(6)]
    for user in users:
        await db(EnrollmentFactory)(course=course, user=user)
    sockets = [await ws_connect(user) for user in users]
    await handshake_settled(*users)  # the gap below is filled by one read, not caught up
    reads = []
    real = outbox.room_history

    def counted(**kwargs):
        reads.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(outbox, "room_history", counted)
    try:
        start = (await db(outbox.room_seqs)([room]))[room]
        await db(_record)(room, 1)
        second = await db(_record)(room, 2)
        await get_channel_layer().group_send(room, second)  # the first never arrives live
        for socket in sockets:
            got = [frame["data"]["n"] for frame in await drain(socket) if frame["event"] == "test-event"]
            assert got == [1, 2]
        assert reads == [{"room": room, "after": start, "upto": start + 1}]
        assert not any(socket_rooms._history_reads.values())  # nothing left in flight
    finally:
        for socket in sockets:
            await socket.disconnect()


async def test_prune_keeps_the_last_events_and_the_recent_ones(course, settings):
    room = f"course-{course.id}"

    def record_many(count: int) -> None:
        for n in range(count):
            with transaction.atomic():
                broadcast_on_commit(room, "test-event", {"n": n})

    await db(record_many)(8)
    settings.OUTBOX_RETAIN_EVENTS = 3
    settings.OUTBOX_RETAIN_SECONDS = 600
    assert await db(outbox.outbox_prune)() == 0  # all younger than 10 minutes
    settings.OUTBOX_RETAIN_SECONDS = 0
    assert await db(outbox.outbox_prune)() == 5
    assert await db(outbox.outbox_prune)() == 0  # idempotent
    kept = await db(lambda: sorted(RoomEvent.objects.filter(room=room).values_list("seq", flat=True)))()
    assert kept == [6, 7, 8]
    assert (await db(RoomSequence.objects.get)(room=room)).seq == 8
