"""Load-generator processes: each runs one asyncio (uvloop) loop holding many real
WebSocket clients (`websockets`) and HTTP clients (`httpx`), and obeys commands sent by
bench/run.py over a pipe. Sockets persist between commands, so a workload can connect,
join, send and collect in phases.

This module is the process and command plumbing (LoadGen in the parent, Worker's command
loop in each child) and the helpers the workloads share. The commands live in mixins:
bench/sockreader.py (sockets and the frame reader), bench/chatcmds.py, bench/presencecmds.py,
bench/restcmds.py and bench/classstorm.py.

Latency is measured with the sender's wall-clock timestamp embedded in the chat text
(`bench|<tag>|<seq>|<time.time()>`); all processes share the machine's clock. A receipt
is stamped the moment the client's reader task gets the frame, so a busy load generator
inflates the figures (it never deflates them).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import multiprocessing
import os
import time
import traceback
from array import array
from collections import Counter, defaultdict

from bench.chatcmds import ChatCommands
from bench.classstorm import ClassStormCommands
from bench.presencecmds import PresenceCommands
from bench.restcmds import RestCommands
from bench.sock import Sock
from bench.sockreader import SocketCommands


class Worker(SocketCommands, ChatCommands, PresenceCommands, RestCommands, ClassStormCommands):
    def __init__(self, conn, index: int):
        self.conn = conn
        self.index = index
        self.sockets: list[Sock] = []
        self.tasks: set[asyncio.Task] = set()
        # tag -> seq -> [count, max latency, send time]
        self.chat: dict[str, dict[int, list]] = defaultdict(dict)
        self.chat_all: dict[str, array] = defaultdict(lambda: array("d"))
        self.errors: Counter = Counter()
        self.retries: Counter = Counter()
        # Sockets that ended without this side closing them, by close code (1011: the
        # server's keepalive ping went unanswered; 1006: no close frame).
        self.closed_by_server: Counter = Counter()
        self.frames = 0
        self.frame_events: Counter = Counter()
        self.last_frame = 0.0
        self.ref = 0
        self.http = None
        self.http_idle: dict[str, list] = {}

    # -- plumbing ---------------------------------------------------------------------------

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            message = await loop.run_in_executor(None, self.conn.recv)
            name, kwargs = message
            if name == "exit":
                await self.cmd_close(group=None)
                self.conn.send({"ok": True})
                return
            try:
                result = await getattr(self, f"cmd_{name}")(**kwargs)
            except Exception as exc:  # reported to the parent, never swallowed
                result = {"exception": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
            self.conn.send(result)

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def _next_ref(self) -> str:
        # Digits only: a Socket.IO acknowledgement id is a number.
        self.ref += 1
        return f"{self.index + 1}{self.ref:09d}"


def _worker_main(conn, index: int) -> None:
    from bench.infra import raise_file_limit

    raise_file_limit()
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    # The parent handles Ctrl-C and ends us; a worker must not die half way through a reply.
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A load generator's own collector pauses (200-300 ms full collections with 1,000
    # sockets, seen in the 4,000-socket throughput runs) would show up as server latency:
    # start-up objects are frozen and full collections made rare.
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)
    asyncio.run(Worker(conn, index).serve())


class LoadGen:
    """N load-generator processes; `call_all` sends one command to each and gathers replies."""

    def __init__(self, count: int):
        ctx = multiprocessing.get_context("spawn")
        self.conns = []
        self.procs = []
        for index in range(count):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker_main, args=(child, index), daemon=True, name=f"loadgen-{index}")
            proc.start()
            self.conns.append(parent)
            self.procs.append(proc)

    def __len__(self) -> int:
        return len(self.conns)

    def call_all(self, name: str, per_worker: list[dict] | None = None, timeout: float = 600, **kwargs) -> list:
        for i, conn in enumerate(self.conns):
            args = dict(kwargs)
            if per_worker is not None:
                args.update(per_worker[i])
            conn.send((name, args))
        results = []
        deadline = time.time() + timeout
        for conn in self.conns:
            if not conn.poll(max(0.0, deadline - time.time())):
                raise TimeoutError(f"load generator did not answer {name} within {timeout}s")
            result = conn.recv()
            if isinstance(result, dict) and "exception" in result:
                raise RuntimeError(f"load generator failed in {name}: {result['exception']}\n{result['trace']}")
            results.append(result)
        return results

    def close(self) -> None:
        for conn in self.conns:
            with contextlib.suppress(Exception):
                conn.send(("exit", {}))
        for proc in self.procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)


def split(items: list, n: int) -> list[list]:
    """Round-robin split, so each worker gets a share of both servers' sockets."""
    return [items[i::n] for i in range(n)]


def percentile(values, q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[k]


def unpack(blob: bytes) -> array:
    values = array("d")
    values.frombytes(blob)
    return values


CPU_COUNT = os.cpu_count() or 1
