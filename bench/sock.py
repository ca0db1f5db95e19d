"""One load-generator socket's state (bench.loadgen drives it; bench.classstorm too)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench import wire


@dataclass(eq=False)
class Sock:
    uid: str
    group: str
    ws: Any = None
    session: str | None = None
    counting: bool = True
    rank: int = -1  # this socket's rank among its session's senders; -1: never sends
    phase: float = 0.0  # where in each sending period its session's messages fall, 0..1
    pending: dict = field(default_factory=dict)
    presence: list | None = None  # (t, userId, status) per user reported, when logging presence
    presence_frames: list = field(default_factory=list)  # arrival time of each presence frame
    connected_at: float = 0.0
    ticket_seconds: float | None = None  # the ticket request's own time (collab, with a ticket URL)
    closed: bool = False
    proto: str = wire.COLLAB
    heard: dict | None = None  # userId -> "joined"/"left", the last heard (class storm)
