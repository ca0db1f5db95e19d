"""collab.realtime.socket_rooms.shared_room_history on a real database: a read shared by
the sockets of one process asking the same question may only answer a caller whose
question it can answer, i.e. frames committed before that caller asked are in it."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from channels.db import database_sync_to_async
from django.db import connection, transaction

from collab.realtime import outbox, socket_rooms

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async


def _record(room: str, n: int) -> None:
    with transaction.atomic():
        outbox.outbox_record(room=room, event="test-event", data={"n": n}, message={"type": "room.frame"}, history=True)


def _record_in_a_thread_of_its_own(room: str, n: int) -> None:
    """Commits a frame while the event loop is blocked (the loop cannot run database code)."""

    def write() -> None:
        try:
            _record(room, n)
        finally:
            connection.close()

    writer = threading.Thread(target=write)
    writer.start()
    writer.join()


async def test_a_catch_up_asked_after_a_frame_committed_gets_it_though_a_read_was_in_flight(course):
    """A catch-up (no upper bound: "everything after `after`, now") asked while another
    socket's read of the same room and point is in flight must not be answered by that
    read: a frame committed after the read began but before this socket subscribed was
    sent live before it listened, so the read is its only way to get it."""
    room = f"course-{course.id}"
    start = (await db(outbox.room_seqs)([room]))[room]
    await db(_record)(room, 1)
    first = asyncio.ensure_future(socket_rooms.shared_room_history(room, start))
    await asyncio.sleep(0)  # the first socket's read goes to the pool
    # Not offered to later callers (a read of SQLite may even be done by now; on
    # PostgreSQL it is usually still in flight below, which is the case this is about).
    assert not socket_rooms._history_reads.get(asyncio.get_running_loop())
    # The loop is busy (other sockets' frames) while that read runs and returns; meanwhile
    # frame 2 commits, and a second socket, subscribed after it, catches up from `start`.
    time.sleep(1.0)  # noqa: ASYNC251 (the point: the loop does not run meanwhile)
    _record_in_a_thread_of_its_own(room, 2)
    second = asyncio.ensure_future(socket_rooms.shared_room_history(room, start))
    (_, got_first), (current, got_second) = await asyncio.gather(first, second)
    assert [frame.seq - start for frame in got_first] == [1]
    assert [frame.seq - start for frame in got_second] == [1, 2] and current == start + 2


async def test_gap_fills_share_one_read_and_a_failed_read_is_not_kept(course):
    """Bounded reads (a gap fill: every frame up to `upto` had committed when the gap was
    seen) are shared; a read that fails fails every waiter, and the next asks again."""
    room = f"course-{course.id}"
    start = (await db(outbox.room_seqs)([room]))[room]
    await db(_record)(room, 1)
    await db(_record)(room, 2)
    calls = [socket_rooms.shared_room_history(room, start, start + 2) for _ in range(3)]
    results = await asyncio.gather(*calls)
    assert all([frame.seq - start for frame in frames] == [1, 2] for _, frames in results)
    assert not socket_rooms._history_reads.get(asyncio.get_running_loop())

    # A read that fails (here: `after` is not a number PostgreSQL takes) fails every waiter
    # and leaves nothing behind.
    failing = [socket_rooms.shared_room_history(room, "x", start + 1) for _ in range(2)]
    outcomes = await asyncio.gather(*failing, return_exceptions=True)
    assert all(isinstance(outcome, Exception) for outcome in outcomes)
    assert not socket_rooms._history_reads.get(asyncio.get_running_loop())
    _, frames = await socket_rooms.shared_room_history(room, start, start + 2)
    assert [frame.seq - start for frame in frames] == [1, 2]


async def test_a_waiter_cancelled_does_not_cancel_the_read_of_the_others(course):
    room = f"course-{course.id}"
    start = (await db(outbox.room_seqs)([room]))[room]
    await db(_record)(room, 1)
    leaving = asyncio.ensure_future(socket_rooms.shared_room_history(room, start, start + 1))
    staying = asyncio.ensure_future(socket_rooms.shared_room_history(room, start, start + 1))
    await asyncio.sleep(0)
    leaving.cancel()
    _, frames = await staying
    assert [frame.seq - start for frame in frames] == [1]
    assert leaving.cancelled()
    assert not socket_rooms._history_reads.get(asyncio.get_running_loop())
