"""Helpers shared by the presence tests."""

from __future__ import annotations

PRESENCE_CHANGED = "presence-changed"


def presence_frames(frames: list[dict], user_id=None) -> list[dict]:
    return [
        frame
        for frame in frames
        if frame.get("event") == PRESENCE_CHANGED and (user_id is None or frame["data"]["userId"] == str(user_id))
    ]
