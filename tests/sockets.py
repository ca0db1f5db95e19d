"""Socket helpers for every test, on both kinds of socket the suite opens: an in-process
Channels communicator (`tests.conftest.ws_connect`) and a real `websockets` client
connected to a server process (`tests.servers`). Presence frames are skipped as each
kind is set up to skip them (AppCommunicator's `ignore_events`, `recv_frame`'s `ignore`).

Timeouts only bound a failing test: a passing one never waits for them, so they are
generous for a loaded machine. Proving that nothing arrives is `nothing(sock)`.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from channels.testing import WebsocketCommunicator

from tests.servers import recv_frame

WAIT = 10.0


def _in_process(sock: Any) -> bool:
    return isinstance(sock, WebsocketCommunicator)


async def next_frame(sock: Any, *, timeout: float = WAIT) -> dict:
    """The next frame the socket receives."""
    if _in_process(sock):
        return await sock.receive_json_from(timeout=timeout)
    return await asyncio.wait_for(recv_frame(sock), timeout)


async def send(sock: Any, event: str, data: dict, ref: str | None = None) -> None:
    """Sends one client frame, `ref` included when given; waits for nothing."""
    frame: dict[str, Any] = {"event": event, "data": data}
    if ref is not None:
        frame["ref"] = ref
    if _in_process(sock):
        await sock.send_json_to(frame)
    else:
        await sock.send(json.dumps(frame))


async def request(sock: Any, event: str, data: dict, ref: str = "r", *, timeout: float = WAIT) -> dict:
    """Sends a frame with `ref` and returns the `ack` or `error` answering it; frames in
    between (broadcasts) are skipped."""
    await send(sock, event, data, ref)

    async def answer() -> dict:
        while True:
            frame = await next_frame(sock, timeout=timeout)
            if frame.get("ref") == ref and frame.get("event") in ("ack", "error"):
                return frame

    return await asyncio.wait_for(answer(), timeout)


async def receive_event(sock: Any, event: str, *, room: str | None = None, timeout: float = WAIT) -> dict:
    """The next frame named `event` (sent to `room`, if given), skipping others; raises
    TimeoutError when none comes within `timeout` seconds."""

    async def wait() -> dict:
        while True:
            frame = await next_frame(sock, timeout=timeout)
            if frame.get("event") == event and (room is None or frame.get("room") == room):
                return frame

    return await asyncio.wait_for(wait(), timeout)


async def receive_frames(sock: Any, count: int, *, timeout: float = WAIT) -> list[dict]:
    """The next `count` frames, in order."""
    return await asyncio.wait_for(_take(sock, count, timeout), timeout)


async def _take(sock: Any, count: int, timeout: float) -> list[dict]:
    return [await next_frame(sock, timeout=timeout) for _ in range(count)]


async def drain(sock: Any, *, quiet: float = 0.4) -> list[dict]:
    """Every frame until the socket has been quiet for `quiet` seconds."""
    frames = []
    if _in_process(sock):
        while not await sock.receive_nothing(timeout=quiet):
            frames.append(await sock.receive_json_from())
        return frames
    while True:
        try:
            frames.append(await asyncio.wait_for(recv_frame(sock), quiet))
        except TimeoutError:
            return frames


async def nothing(sock: Any, *, quiet: float = 0.5) -> bool:
    """True when no frame arrives within `quiet` seconds; fails the test naming the
    frame otherwise."""
    frames = await drain(sock, quiet=quiet)
    assert not frames, f"unexpected frames {frames}"
    return True


def events_of(frames: list[dict]) -> list[str]:
    return [frame["event"] for frame in frames]
