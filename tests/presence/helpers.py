"""Helpers shared by the presence tests."""

from __future__ import annotations

import asyncio

from channels.testing import WebsocketCommunicator

PRESENCE_CHANGED = "presence-changed"


async def receive_event(comm: WebsocketCommunicator, event: str, *, wait_for: float = 3.0) -> dict:
    """The next frame named `event`, skipping others."""

    async def wait() -> dict:
        while True:
            frame = await comm.receive_json_from(timeout=wait_for)
            if frame.get("event") == event:
                return frame

    return await asyncio.wait_for(wait(), wait_for)


async def drain(comm: WebsocketCommunicator, *, quiet: float = 0.4) -> list[dict]:
    """Every frame until the socket has been quiet for `quiet` seconds."""
    frames = []
    while not await comm.receive_nothing(timeout=quiet):
        frames.append(await comm.receive_json_from())
    return frames


def presence_frames(frames: list[dict], user_id=None) -> list[dict]:
    return [
        frame
        for frame in frames
        if frame.get("event") == PRESENCE_CHANGED and (user_id is None or frame["data"]["userId"] == str(user_id))
    ]
