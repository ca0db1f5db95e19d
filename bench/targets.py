"""What a workload drives: collab's web processes or the Socket.IO peer. The workloads
that compare the two (fan-out, class-start storm) take a Target and never ask which it is
beyond what differs by design: collab's sessions are created over REST and persisted,
the peer's are a name."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

import psutil

from bench import wire


@dataclass
class Target:
    name: str  # "collab" or "socketio"
    proto: str
    ws_bases: list[str]  # ws://127.0.0.1:port, one per process
    pids: list[int]
    http_bases: list[str] = field(default_factory=list)  # collab only

    @property
    def is_collab(self) -> bool:
        return self.proto == wire.COLLAB

    def ws_url(self, i: int) -> str:
        return wire.ws_url(self.proto, self.ws_bases[i % len(self.ws_bases)])

    def ticket_url(self, i: int) -> str | None:
        """collab: where a browser gets its socket ticket; the peer has none."""
        if not self.is_collab:
            return None
        return self.http_bases[i % len(self.http_bases)] + "/api/auth/ws-ticket"

    def new_session(self, ctx, title: str) -> str:
        if self.is_collab:
            return ctx.live_session(title, ctx.seed["courseId"])
        return str(uuid.uuid4())

    def end_session(self, ctx, session: str) -> None:
        if self.is_collab:
            ctx.api("POST", f"/api/live-sessions/{session}/end", ctx.instructor["token"], {})

    def cpu(self) -> tuple[float, float]:
        """CPU seconds used so far by the target's processes, and the moment."""
        total = 0.0
        for pid in self.pids:
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
        return total, time.time()

    def system_cpu(self) -> float:
        """CPU seconds the target's processes spent in the kernel so far (socket writes:
        on loopback a write also runs the receiver's TCP input and wake-up)."""
        return sum(psutil.Process(pid).cpu_times().system for pid in self.pids)

    def cpu_percent_since(self, before: tuple[float, float]) -> float:
        after = self.cpu()
        return round(100 * (after[0] - before[0]) / max(1e-6, after[1] - before[1]), 1)


def collab_target(ctx) -> Target:
    return Target(
        name="collab",
        proto=wire.COLLAB,
        ws_bases=[f"ws://127.0.0.1:{port}" for port in ctx.ports],
        pids=ctx.stack.server_pids(),
        http_bases=[f"http://127.0.0.1:{port}" for port in ctx.ports],
    )


def peer_target(port: int, pid: int) -> Target:
    return Target(name="socketio", proto=wire.SOCKETIO, ws_bases=[f"ws://127.0.0.1:{port}"], pids=[pid])
