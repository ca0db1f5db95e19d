"""Frames: every bad frame gets an `error` frame and the socket stays open; rate limits."""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.layers import get_channel_layer
from rest_framework import serializers

from collab.core.errors import Conflict
from collab.realtime.consumer import CLOSE_ABUSIVE
from collab.realtime.dispatch import socket_event, validate
from collab.realtime.rooms import user_room
from tests.conftest import ws_connect

pytestmark = pytest.mark.django_db(transaction=True)


# Test-only events, registered in this module (names no app uses).
@socket_event("test-echo")
async def _echo(socket, data: dict) -> dict:
    return {"echo": data}


@socket_event("test-conflict")
async def _conflict(socket, data: dict) -> dict:
    raise Conflict("It is full.", code="test_full")


@socket_event("test-crash")
async def _crash(socket, data: dict) -> dict:
    raise RuntimeError("boom")


class _CourseRef(serializers.Serializer):
    course_id = serializers.UUIDField()


@socket_event("test-validate")
async def _validate(socket, data: dict) -> dict:
    body = validate(_CourseRef, data)
    return {"courseId": str(body["course_id"])}


async def assert_alive(communicator, ref: str = "alive") -> None:
    """The socket still answers a valid frame with an ack."""
    await communicator.send_json_to({"event": "test-echo", "data": {"ok": True}, "ref": ref})
    reply = await communicator.receive_json_from(timeout=3)
    assert reply == {"event": "ack", "ref": ref, "data": {"echo": {"ok": True}}}


async def error_for(communicator, text: str) -> dict:
    await communicator.send_to(text_data=text)
    reply = await communicator.receive_json_from(timeout=3)
    assert reply["event"] == "error", reply
    assert set(reply["data"]) >= {"code", "message"}
    assert reply["data"]["message"]
    return reply


@pytest.fixture
async def sock(student, settings):
    # These tests send many frames in a row; the rate limit has tests of its own below.
    settings.SOCKET_RATE_BURST = 1000
    communicator = await ws_connect(student)
    yield communicator
    await communicator.disconnect()


# -- the envelope -----------------------------------------------------------------------


async def test_ack_echoes_string_and_number_refs(sock):
    await sock.send_json_to({"event": "test-echo", "data": {"a": 1}, "ref": "42"})
    assert await sock.receive_json_from(timeout=3) == {"event": "ack", "ref": "42", "data": {"echo": {"a": 1}}}
    await sock.send_json_to({"event": "test-echo", "data": {"a": 2}, "ref": 7})
    assert await sock.receive_json_from(timeout=3) == {"event": "ack", "ref": 7, "data": {"echo": {"a": 2}}}


async def test_no_ref_means_no_ack(sock):
    await sock.send_json_to({"event": "test-echo", "data": {}})
    assert await sock.receive_nothing(timeout=0.3)
    await assert_alive(sock)


async def test_missing_or_null_data_is_an_empty_object(sock):
    await sock.send_json_to({"event": "test-echo", "ref": "1"})
    assert (await sock.receive_json_from(timeout=3))["data"] == {"echo": {}}
    await sock.send_json_to({"event": "test-echo", "data": None, "ref": "2"})
    assert (await sock.receive_json_from(timeout=3))["data"] == {"echo": {}}


BAD_FRAMES = [
    ("not json", "invalid_json"),
    ("{'single': 'quotes'}", "invalid_json"),
    ('{"event": "test-echo"', "invalid_json"),
    ("[1, 2]", "invalid_frame"),
    ('"a string"', "invalid_frame"),
    ("42", "invalid_frame"),
    ("null", "invalid_frame"),
    ('{"data": {}}', "invalid_frame"),
    ('{"event": ""}', "invalid_frame"),
    ('{"event": 5}', "invalid_frame"),
    ('{"event": null}', "invalid_frame"),
    ('{"event": "no-such-event"}', "unknown_event"),
    ('{"event": "test-echo", "data": [1, 2]}', "invalid_frame"),
    ('{"event": "test-echo", "data": "text"}', "invalid_frame"),
    ('{"event": "test-echo", "data": 3}', "invalid_frame"),
    ('{"event": "test-echo", "ref": {"a": 1}}', "invalid_frame"),
    ('{"event": "test-echo", "ref": [1]}', "invalid_frame"),
    ('{"event": "test-echo", "ref": 1.5}', "invalid_frame"),
    ('{"event": "test-echo", "ref": "' + "r" * 65 + '"}', "invalid_frame"),
]


async def test_bad_frames_get_an_error_frame_and_the_socket_stays_open(sock):
    for n, (text, code) in enumerate(BAD_FRAMES):
        reply = await error_for(sock, text)
        assert reply["data"]["code"] == code, (text, reply)
        await assert_alive(sock, ref=f"alive-{n}")


@pytest.mark.parametrize(
    "frame, code",
    [
        ({"data": {}, "ref": "r1"}, "invalid_frame"),
        ({"event": "no-such-event", "ref": "r1"}, "unknown_event"),
        ({"event": "test-echo", "data": [1], "ref": "r1"}, "invalid_frame"),
    ],
)
async def test_errors_carry_the_ref_when_there_is_a_valid_one(sock, frame, code):
    reply = await error_for(sock, json.dumps(frame))
    assert reply["ref"] == "r1"
    assert reply["data"]["code"] == code


async def test_an_unknown_event_name_is_echoed_back_bounded(sock):
    reply = await error_for(sock, json.dumps({"event": "x" * 5000}))
    assert reply["data"]["code"] == "unknown_event"
    assert len(reply["data"]["message"]) < 200


async def test_binary_frames_are_refused(sock):
    await sock.send_to(bytes_data=b"\x00\x01")
    reply = await sock.receive_json_from(timeout=3)
    assert reply["event"] == "error" and reply["data"]["code"] == "binary_not_supported"
    await assert_alive(sock)


# -- size -------------------------------------------------------------------------------

LIMIT = 64 * 1024


def frame_of_size(size: int, char: str = "x") -> str:
    skeleton = json.dumps({"event": "test-echo", "ref": "big", "data": {"s": ""}}, ensure_ascii=False)
    room = size - len(skeleton.encode())
    filler = char * (room // len(char.encode())) + "x" * (room % len(char.encode()))
    text = json.dumps({"event": "test-echo", "ref": "big", "data": {"s": filler}}, ensure_ascii=False)
    assert len(text.encode()) == size
    return text


async def test_oversized_frame_is_refused_and_the_socket_stays_open(sock):
    reply = await error_for(sock, frame_of_size(LIMIT + 1))
    assert reply["data"]["code"] == "frame_too_large"
    await assert_alive(sock)


async def test_oversized_in_bytes_though_not_in_characters_is_refused(sock):
    # 2-byte characters: fewer than 64 Ki characters, more than 64 KiB on the wire.
    text = frame_of_size(LIMIT + 2, char="é")
    assert len(text) < LIMIT
    reply = await error_for(sock, text)
    assert reply["data"]["code"] == "frame_too_large"
    await assert_alive(sock)


async def test_a_frame_of_exactly_the_limit_is_accepted(sock):
    await sock.send_to(text_data=frame_of_size(LIMIT))
    reply = await sock.receive_json_from(timeout=3)
    assert reply["event"] == "ack" and reply["ref"] == "big"


async def test_a_huge_frame_is_refused(sock):
    reply = await error_for(sock, "x" * (4 * 1024 * 1024))
    assert reply["data"]["code"] == "frame_too_large"
    await assert_alive(sock)


# -- handler outcomes -------------------------------------------------------------------


async def test_a_domain_error_becomes_an_error_frame_with_its_code(sock):
    await sock.send_json_to({"event": "test-conflict", "ref": "c1"})
    reply = await sock.receive_json_from(timeout=3)
    assert reply == {"event": "error", "ref": "c1", "data": {"code": "test_full", "message": "It is full."}}
    await assert_alive(sock)


async def test_validation_errors_have_camel_case_fields(sock):
    await sock.send_json_to({"event": "test-validate", "ref": "v1", "data": {"courseId": "nope"}})
    reply = await sock.receive_json_from(timeout=3)
    assert reply["event"] == "error" and reply["ref"] == "v1"
    assert reply["data"]["code"] == "invalid"
    assert "courseId" in reply["data"]["fields"]
    await sock.send_json_to(
        {"event": "test-validate", "ref": "v2", "data": {"courseId": "00000000-0000-0000-0000-000000000001"}}
    )
    assert (await sock.receive_json_from(timeout=3))["data"] == {"courseId": "00000000-0000-0000-0000-000000000001"}


async def test_a_crashing_handler_answers_internal_error_and_the_socket_survives(sock, caplog):
    await sock.send_json_to({"event": "test-crash", "ref": "x1"})
    reply = await sock.receive_json_from(timeout=3)
    assert reply["event"] == "error" and reply["ref"] == "x1"
    assert reply["data"]["code"] == "internal_error"
    assert "boom" not in reply["data"]["message"]
    await assert_alive(sock)


# -- the consumer's loop: the client read in the socket's task, the channel layer by one
# reader task, timers in short tasks (collab/realtime/consumer.py) ------------------------


async def test_a_layer_message_without_a_handler_ends_the_socket_with_its_error(student):
    """A bug on the channel-layer side is not swallowed by the reader task: the socket
    ends with the error, as it did when every source had a reader of its own."""
    communicator = await ws_connect(student)
    await assert_alive(communicator, "before")
    await get_channel_layer().group_send(user_room(student.id), {"type": "test.no_such_handler"})
    # The application itself ends (shield: waiting must not be what cancels it).
    with pytest.raises(ValueError, match="No handler for message type"):
        await asyncio.wait_for(asyncio.shield(communicator.future), timeout=10)


async def test_client_and_layer_messages_interleave_on_one_socket(student, sock):
    """Frames of both sources keep flowing after each other: a broadcast between two
    client frames arrives, and the socket still answers."""
    await assert_alive(sock, "a")
    await get_channel_layer().group_send(
        user_room(student.id), {"type": "room.frame", "text": '{"event":"test-layer","data":{}}'}
    )
    assert await sock.receive_json_from(timeout=5) == {"event": "test-layer", "data": {}}
    await assert_alive(sock, "b")


# -- rate limit -------------------------------------------------------------------------


async def collect(communicator, count: int) -> list[dict]:
    return [await communicator.receive_json_from(timeout=3) for _ in range(count)]


async def test_more_than_the_burst_at_once_is_refused_and_the_socket_survives(student, settings):
    burst = settings.SOCKET_RATE_BURST
    communicator = await ws_connect(student)
    try:
        total = burst * 2
        for i in range(total):
            await communicator.send_json_to({"event": "test-echo", "ref": str(i), "data": {}})
        replies = await collect(communicator, total)
        acks = [r for r in replies if r["event"] == "ack"]
        limited = [r for r in replies if r["event"] == "error" and r["data"]["code"] == "rate_limited"]
        assert len(acks) + len(limited) == total
        assert len(acks) >= burst
        assert len(limited) >= burst // 2, (len(acks), len(limited))
        # Once the bucket refills, the same socket is served again.
        await asyncio.sleep(2 / settings.SOCKET_RATE_PER_SECOND)
        await assert_alive(communicator)
    finally:
        await communicator.disconnect()


async def test_rate_limit_is_exact_with_a_small_bucket(student, settings):
    settings.SOCKET_RATE_BURST = 5
    settings.SOCKET_RATE_PER_SECOND = 0.01
    communicator = await ws_connect(student)
    try:
        for i in range(12):
            await communicator.send_json_to({"event": "test-echo", "ref": str(i), "data": {}})
        replies = await collect(communicator, 12)
        assert [r["event"] for r in replies] == ["ack"] * 5 + ["error"] * 7
        assert {r["data"]["code"] for r in replies[5:]} == {"rate_limited"}
        assert await communicator.receive_nothing(timeout=0.2)
    finally:
        await communicator.disconnect()


async def test_rate_limit_is_per_socket(student, settings):
    settings.SOCKET_RATE_BURST = 2
    settings.SOCKET_RATE_PER_SECOND = 0.01
    first = await ws_connect(student)
    second = await ws_connect(student)
    try:
        for i in range(3):
            await first.send_json_to({"event": "test-echo", "ref": str(i)})
        assert [r["event"] for r in await collect(first, 3)] == ["ack", "ack", "error"]
        await assert_alive(second)
    finally:
        await first.disconnect()
        await second.disconnect()


async def test_a_flooding_client_is_closed_with_4429(student, settings):
    settings.SOCKET_RATE_BURST = 2
    settings.SOCKET_RATE_PER_SECOND = 0.01
    settings.SOCKET_ABUSE_LIMIT = 3
    communicator = await ws_connect(student)
    try:
        for i in range(5):
            await communicator.send_json_to({"event": "test-echo", "ref": str(i)})
        assert [r["event"] for r in await collect(communicator, 4)] == ["ack", "ack", "error", "error"]
        assert await communicator.receive_output(timeout=3) == {"type": "websocket.close", "code": CLOSE_ABUSIVE}
    finally:
        await communicator.disconnect()


async def test_accepted_frames_between_refusals_do_not_dodge_the_limit(student, settings):
    # The old rule counted refusals in a row, so one accepted frame now and then (the
    # bucket refills) kept a flood open forever. Refusals now count over a window.
    settings.SOCKET_RATE_BURST = 1
    settings.SOCKET_RATE_PER_SECOND = 4
    settings.SOCKET_ABUSE_LIMIT = 3
    communicator = await ws_connect(student)
    try:
        closed = None
        for _ in range(10):
            for i in range(3):
                await communicator.send_json_to({"event": "test-echo", "ref": str(i)})
            for _ in range(3):
                output = await communicator.receive_output(timeout=3)
                if output["type"] == "websocket.close":
                    closed = output
                    break
            if closed:
                break
            await asyncio.sleep(0.3)
        assert closed == {"type": "websocket.close", "code": CLOSE_ABUSIVE}
    finally:
        await communicator.disconnect()


async def test_refusals_close_the_socket_only_once_they_are_most_of_its_frames(student, settings):
    settings.SOCKET_RATE_BURST = 10
    settings.SOCKET_RATE_PER_SECOND = 0.01
    settings.SOCKET_ABUSE_LIMIT = 3
    communicator = await ws_connect(student)
    try:
        for i in range(14):
            await communicator.send_json_to({"event": "test-echo", "ref": str(i)})
        replies = await collect(communicator, 14)
        # 10 accepted, 4 refused: over the limit but not half of the traffic.
        assert [r["event"] for r in replies] == ["ack"] * 10 + ["error"] * 4
        for i in range(6):
            await communicator.send_json_to({"event": "test-echo", "ref": f"x{i}"})
        assert [r["data"]["code"] for r in await collect(communicator, 6)] == ["rate_limited"] * 6
        # The 11th refusal outnumbers the 10 accepted frames.
        await communicator.send_json_to({"event": "test-echo", "ref": "last"})
        assert await communicator.receive_output(timeout=3) == {"type": "websocket.close", "code": CLOSE_ABUSIVE}
    finally:
        await communicator.disconnect()


async def test_oversized_and_binary_frames_count_toward_the_limit(student, settings):
    settings.SOCKET_MAX_FRAME_BYTES = 100
    settings.SOCKET_ABUSE_LIMIT = 3
    communicator = await ws_connect(student)
    try:
        await communicator.send_to(text_data="x" * 101)
        await communicator.send_to(bytes_data=b"\x00")
        codes = [(await communicator.receive_json_from(timeout=3))["data"]["code"] for _ in range(2)]
        assert codes == ["frame_too_large", "binary_not_supported"]
        await communicator.send_to(text_data="y" * 101)
        assert await communicator.receive_output(timeout=3) == {"type": "websocket.close", "code": CLOSE_ABUSIVE}
    finally:
        await communicator.disconnect()
