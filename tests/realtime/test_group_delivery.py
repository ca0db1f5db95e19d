"""Group messages handed to consumers by the channel layer's receiver (piece
`group_delivery`: collab/realtime/layer.py, collab/core/asgi_fast/consumer_loop.py).

An idle consumer handles a group message in the receiver's pass; a busy one gets it
queued, behind what it has in hand, in order; an error ends the socket as before; a
closed consumer is no longer offered anything. Then the same guarantees through the
real socket consumer: seq in order, `exclude`, listen-only rooms, gap fill from the
outbox. Real Redis and channel layer throughout."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.testing import WebsocketCommunicator
from django.db import transaction

from collab.core.asgi_fast.consumer_loop import FellBehind, LeanConsumerLoop
from collab.realtime import supervisor
from collab.realtime.broadcast import broadcast_committed, broadcast_now, broadcast_on_commit
from collab.realtime.rooms import course_room
from tests.conftest import ws_connect
from tests.sockets import receive_event

# Per test process: Redis pub/sub ignores the database number, so two xdist workers'
# groups of one name would hear each other's messages.
GROUP = f"test-group-delivery-{uuid.uuid4().hex}"


class Boom(Exception):
    pass


class Recorder(LeanConsumerLoop, AsyncWebsocketConsumer):
    """Handles `test.step` messages: sends `n` back; `wait` holds it until the test
    opens `gate`; `fail` raises. Notes whether each group message was taken directly."""

    opened: list[Recorder] = []

    async def connect(self) -> None:
        self.gate = asyncio.Event()
        self.taken: list[tuple[int, bool]] = []
        await self.channel_layer.group_add(GROUP, self.channel_name)
        await self.accept()
        Recorder.opened.append(self)

    def take_now(self, message: dict) -> bool:
        taken = super().take_now(message)
        self.taken.append((message["n"], taken))
        return taken

    async def test_step(self, message: dict) -> None:
        if message.get("wait"):
            await self.gate.wait()
        if message.get("fail"):
            raise Boom
        await self.send(text_data=str(message["n"]))


@pytest.fixture
async def recorder():
    Recorder.opened.clear()
    comm = WebsocketCommunicator(Recorder.as_asgi(), "/")
    connected, _ = await comm.connect(timeout=5)
    assert connected
    yield comm, Recorder.opened[-1]
    await comm.disconnect()


async def heard(comm, count: int) -> list[int]:
    return [int(await comm.receive_from(timeout=5)) for _ in range(count)]


async def test_an_idle_consumer_handles_a_group_message_in_the_receivers_pass(recorder, channel_layer):
    comm, consumer = recorder
    await channel_layer.group_send(GROUP, {"type": "test.step", "n": 1})
    assert await heard(comm, 1) == [1]
    assert consumer.taken == [(1, True)]


async def test_a_busy_consumer_gets_later_messages_queued_and_in_order(recorder, channel_layer):
    comm, consumer = recorder
    await channel_layer.group_send(GROUP, {"type": "test.step", "n": 1, "wait": True})
    for n in (2, 3):
        await channel_layer.group_send(GROUP, {"type": "test.step", "n": n})
    # The first was taken and waits in a task of its own, holding the lock; the others
    # queue (three without being offered when two is still in the queue).
    assert await comm.receive_nothing(timeout=0.3)
    assert consumer.taken[0] == (1, True)
    assert all(not taken for _, taken in consumer.taken[1:]), consumer.taken
    consumer.gate.set()
    assert await heard(comm, 3) == [1, 2, 3]
    # Idle again: the next one is taken directly.
    await channel_layer.group_send(GROUP, {"type": "test.step", "n": 4})
    assert await heard(comm, 1) == [4]
    assert consumer.taken[-1] == (4, True)


async def test_a_consumer_busy_with_a_client_frame_gets_the_group_message_after_it(recorder, channel_layer):
    comm, consumer = recorder
    # A message of its own (a timer's) in hand, waiting: group messages wait behind it.
    consumer.handle_soon({"type": "test.step", "n": 1, "wait": True})
    await asyncio.sleep(0.05)
    await channel_layer.group_send(GROUP, {"type": "test.step", "n": 2})
    for _ in range(50):
        if consumer.taken:
            break
        await asyncio.sleep(0.05)
    assert consumer.taken == [(2, False)]
    consumer.gate.set()
    assert await heard(comm, 2) == [1, 2]


async def test_an_error_in_a_directly_handled_message_ends_the_socket(channel_layer):
    Recorder.opened.clear()
    comm = WebsocketCommunicator(Recorder.as_asgi(), "/")
    assert (await comm.connect(timeout=5))[0]
    await channel_layer.group_send(GROUP, {"type": "test.step", "n": 1, "fail": True})
    with pytest.raises(Boom):
        await comm.receive_output(timeout=5)
    assert Recorder.opened[0].taken == [(1, True)]
    assert Recorder.opened[0].channel_name not in channel_layer._get_layer().group_message_takers


async def test_a_closed_consumer_is_offered_nothing_and_the_others_still_hear(channel_layer):
    Recorder.opened.clear()
    comms = [WebsocketCommunicator(Recorder.as_asgi(), "/") for _ in range(2)]
    for comm in comms:
        assert (await comm.connect(timeout=5))[0]
    gone, staying = Recorder.opened
    await comms[0].disconnect()
    takers = channel_layer._get_layer().group_message_takers
    assert gone.channel_name not in takers and staying.channel_name in takers
    await channel_layer.group_send(GROUP, {"type": "test.step", "n": 7})
    assert await heard(comms[1], 1) == [7]
    assert gone.taken == []
    await comms[1].disconnect()


async def test_a_consumer_that_falls_behind_ends_and_its_queue_stays_bounded(channel_layer):
    """Its handling stuck (a client that does not read): the layer queues at most
    SOCKET_SEND_QUEUE_MAX messages for it, then the consumer ends with FellBehind (no
    FrameWriter here: the in-process server is not uvicorn's)."""
    Recorder.opened.clear()
    comm = WebsocketCommunicator(Recorder.as_asgi(), "/")
    assert (await comm.connect(timeout=5))[0]
    consumer = Recorder.opened[0]
    layer = channel_layer._get_layer()
    queue = layer.channels[consumer.channel_name]
    queue_max, layer.member_queue_max = layer.member_queue_max, 5
    try:
        await channel_layer.group_send(GROUP, {"type": "test.step", "n": 0, "wait": True})
        for n in range(1, 30):
            await channel_layer.group_send(GROUP, {"type": "test.step", "n": n})
        with pytest.raises(FellBehind):
            await comm.receive_output(timeout=5)
        assert queue.qsize() <= 5
        assert consumer.channel_name not in layer.group_message_takers
    finally:
        layer.member_queue_max = queue_max


# -- through the socket consumer -------------------------------------------------------------


def _socket_of(user):
    return next(socket for socket in supervisor.open_sockets() if getattr(socket, "user", None) == user)


def _committed(room: str, event: str, data: dict) -> None:
    with transaction.atomic():
        broadcast_on_commit(room, event, data)


@pytest.mark.django_db(transaction=True)
async def test_sequenced_frames_arrive_once_in_order_and_the_excluded_socket_skips_without_a_gap(
    course, student, instructor
):
    from channels.db import database_sync_to_async as db

    learner = await ws_connect(student)
    teacher = await ws_connect(instructor)
    room = course_room(course.id)
    try:
        excluded = _socket_of(instructor)
        await db(_committed)(room, "test-one", {"n": 1})
        await db(broadcast_committed)(room, "test-two", {"n": 2}, exclude_channel=excluded.channel_name)
        await db(_committed)(room, "test-three", {"n": 3})
        got = [await receive_event(learner, event) for event in ("test-one", "test-two", "test-three")]
        assert [frame["seq"] for frame in got] == [got[0]["seq"] + k for k in range(3)]
        assert (await receive_event(teacher, "test-one"))["seq"] == got[0]["seq"]
        # The excluded socket never hears two, and three follows without a gap fill.
        assert (await receive_event(teacher, "test-three"))["seq"] == got[2]["seq"]
        assert excluded.sequencer.last[room] == got[2]["seq"]
    finally:
        await learner.disconnect()
        await teacher.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_room_the_socket_only_listens_to_is_not_delivered_until_it_joins(course, student):
    learner = await ws_connect(student)
    room = "test-listened-room"
    try:
        socket = _socket_of(student)
        await socket.listen(room)
        await broadcast_now(room, "test-early", {})
        await broadcast_now(course_room(course.id), "test-marker", {})
        # The marker was sent after the early frame: the early one was dropped.
        frame = await receive_event(learner, "test-marker")
        assert frame["event"] == "test-marker"
        await socket.join_room(room, seq=0)
        await broadcast_now(room, "test-late", {})
        assert (await receive_event(learner, "test-late"))["room"] == room
    finally:
        await learner.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_frame_that_overtook_an_earlier_one_waits_for_the_gap_fill(course, student):
    """The gap fill reads the outbox on a thread: a directly handled frame that must wait
    carries on in a task, holding the socket's turn, and later frames queue behind it."""
    from channels.db import database_sync_to_async as db

    from collab.realtime import outbox

    learner = await ws_connect(student)
    room = course_room(course.id)
    try:
        socket = _socket_of(student)
        await db(_committed)(room, "test-one", {"n": 1})
        first = await receive_event(learner, "test-one")
        # Two more committed, but only the second reaches the channel layer (the first
        # is lost, as when Redis restarts between them); then a fourth, live.
        await db(_committed)(room, "test-two", {"n": 2})
        await receive_event(learner, "test-two")
        socket.sequencer.last[room] = first["seq"]  # as if two had been lost
        _, frames = await db(outbox.room_history)(room=room, after=first["seq"])
        assert [frame.seq for frame in frames] == [first["seq"] + 1]
        await db(_committed)(room, "test-three", {"n": 3})
        await db(_committed)(room, "test-four", {"n": 4})
        got = [await receive_event(learner, event) for event in ("test-two", "test-three", "test-four")]
        assert [frame["seq"] for frame in got] == [first["seq"] + k for k in (1, 2, 3)]
    finally:
        await learner.disconnect()


async def test_a_socket_closing_while_a_taken_message_waits_cancels_it_cleanly(channel_layer):
    Recorder.opened.clear()
    comm = WebsocketCommunicator(Recorder.as_asgi(), "/")
    assert (await comm.connect(timeout=5))[0]
    consumer = Recorder.opened[0]
    await channel_layer.group_send(GROUP, {"type": "test.step", "n": 1, "wait": True})
    for _ in range(50):
        if consumer.taken:
            break
        await asyncio.sleep(0.05)
    assert consumer.taken == [(1, True)] and consumer.one_at_a_time.locked()
    waiting = [task for task in consumer._helpers if task is not consumer._layer_reader]
    assert len(waiting) == 1
    await comm.disconnect()  # no error from the cancelled message
    assert waiting[0].cancelled()
