"""Load-generator processes: each runs one asyncio (uvloop) loop holding many real
WebSocket clients (`websockets`) and HTTP clients (`httpx`), and obeys commands sent by
bench/run.py over a pipe. Sockets persist between commands, so a workload can connect,
join, send and collect in phases.

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
import random
import time
import traceback
from array import array
from collections import Counter, defaultdict

import orjson

from bench import wire
from bench.classstorm import ClassStormCommands
from bench.sock import Sock

# A single change, or several coalesced into one frame (presence.fanout).
PRESENCE_EVENTS = ("presence-changed", "presence-batch")
CHAT_EVENT = "session-new-message"
# Someone entered a live session: collab's two per-user events, the Socket.IO peer's one,
# and collab's coalesced batch for large rooms (`joined` and `left` lists).
JOIN_EVENTS = ("attendee-joined", "session-participant-joined")
LEFT_EVENTS = ("attendee-left", "session-participant-left")
BATCH_EVENT = "session-participants-batch"


class Worker(ClassStormCommands):
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

    # -- sockets ------------------------------------------------------------------------------

    async def _open(
        self, sock: Sock, url: str, token: str, attempts: int = 3, ticket_url: str | None = None
    ) -> str | None:
        """Connects like a real client: a refused or dropped handshake is retried after a
        short backoff (counted in self.retries), up to `attempts` times. collab: the token
        as a bearer header, or with `ticket_url` a ticket fetched first and put in the URL
        (what a browser does); the Socket.IO peer: the token in the CONNECT packet."""
        from websockets.asyncio.client import connect

        for attempt in range(attempts):
            try:
                target, headers = url, [("Authorization", f"Bearer {token}")]
                if sock.proto == wire.SOCKETIO:
                    headers = []
                elif ticket_url:
                    asked = time.time()
                    target, headers = f"{url}?ticket={await self._ticket(ticket_url, token)}", []
                    sock.ticket_seconds = time.time() - asked
                sock.ws = await connect(
                    target,
                    additional_headers=headers,
                    ping_interval=None,  # the server pings; idle clients stay cheap
                    open_timeout=60,
                    close_timeout=2,
                    max_queue=4096,
                    max_size=2**20,
                )
                if sock.proto == wire.SOCKETIO:
                    await wire.socketio_handshake(sock.ws, token)
                break
            except Exception as exc:
                error = f"{type(exc).__name__}: {str(exc)[:120]}"
                if attempt == attempts - 1:
                    return error
                self.retries[error] += 1
                await asyncio.sleep(0.5 + random.random() * (attempt + 1))
        sock.connected_at = time.time()
        self._spawn(self._reader(sock))
        return None

    async def _ticket(self, url: str, token: str) -> str:
        """POST /api/auth/ws-ticket over a pooled keep-alive connection (bench/httpclient)."""
        from bench.httpclient import Connection

        base, _, path = url.partition("/api/")
        idle = self.http_idle.setdefault(base, [])
        connection = idle.pop() if idle else Connection(base)
        try:
            code, body = await connection.request(
                "POST", "/api/" + path, {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            )
        except Exception:
            connection.close()
            raise
        idle.append(connection)
        if code != 200 and code != 201:
            raise ConnectionError(f"ticket: HTTP {code}")
        return orjson.loads(body)["ticket"]

    async def _reader(self, sock: Sock) -> None:
        ws = sock.ws
        socketio = sock.proto == wire.SOCKETIO
        loads = orjson.loads
        chat, chat_all = self.chat, self.chat_all
        try:
            async for raw in ws:
                now = time.time()
                self.frames += 1
                self.last_frame = now
                if socketio:
                    frame = wire.decode(wire.SOCKETIO, raw)
                    if frame is None:
                        continue
                    if frame is wire.PONG:
                        await ws.send(wire.PONG)
                        continue
                else:
                    frame = loads(raw)
                event = frame.get("event")
                if event == CHAT_EVENT:
                    text = frame["data"].get("message", "")
                    if sock.counting and text.startswith("bench|"):
                        _, tag, seq, sent = text.split("|", 3)
                        latency = now - float(sent)
                        seq = int(seq)
                        entry = chat[tag].get(seq)
                        if entry is None:
                            chat[tag][seq] = [1, latency]
                        else:
                            entry[0] += 1
                            if latency > entry[1]:
                                entry[1] = latency
                        chat_all[tag].append(latency)
                    continue
                self.frame_events[event] += 1
                if sock.heard is not None and event in (*JOIN_EVENTS, *LEFT_EVENTS, BATCH_EVENT):
                    data = frame.get("data") or {}
                    if event == BATCH_EVENT:
                        for item in data.get("joined", ()):
                            sock.heard[item["userId"]] = "joined"
                        for item in data.get("left", ()):
                            sock.heard[item["userId"]] = "left"
                    else:
                        sock.heard[data.get("userId")] = "joined" if event in JOIN_EVENTS else "left"
                if event in PRESENCE_EVENTS:
                    if sock.presence is not None:
                        sock.presence_frames.append(now)
                        data = frame.get("data")
                        items = data if isinstance(data, list) else (data.get("users") if "users" in data else [data])
                        for item in items:
                            sock.presence.append((now, item.get("userId"), item.get("status")))
                elif event in ("ack", "error"):
                    ref = frame.get("ref")
                    ref = str(ref) if ref is not None else None
                    waiter = sock.pending.pop(ref, None) if ref is not None else None
                    if event == "error":
                        self.errors[frame.get("data", {}).get("code", "?")] += 1
                    if waiter is not None and not waiter.done():
                        waiter.set_result(frame)
        except Exception:
            pass
        finally:
            if not sock.closed:
                self.closed_by_server[str(getattr(ws, "close_code", None))] += 1
            sock.closed = True

    async def cmd_connect(
        self,
        entries: list[dict],
        group: str,
        ramp: float = 0.0,
        concurrency: int = 200,
        log_presence: bool = False,
    ) -> dict:
        """Opens one socket per entry {id, token, url, session?, counting?, sender?}, spread
        evenly over `ramp` seconds."""
        started = time.time()
        gate = asyncio.Semaphore(concurrency)
        failures: Counter = Counter()
        new: list[Sock] = []

        async def one(i: int, entry: dict) -> None:
            if ramp:
                await asyncio.sleep(started + ramp * i / max(1, len(entries)) - time.time())
            sock = Sock(
                uid=entry["id"],
                group=group,
                session=entry.get("session"),
                counting=entry.get("counting", True),
                rank=entry.get("rank", -1),
                phase=entry.get("phase", 0.0),
                presence=[] if log_presence else None,
                proto=entry.get("proto", wire.COLLAB),
            )
            async with gate:
                error = await self._open(sock, entry["url"], entry["token"])
            if error:
                failures[error] += 1
            else:
                new.append(sock)

        await asyncio.gather(*(one(i, e) for i, e in enumerate(entries)))
        self.sockets.extend(new)
        return {
            "opened": len(new),
            "failed": sum(failures.values()),
            "failures": dict(failures.most_common(3)),
            "seconds": time.time() - started,
        }

    def _group(self, group: str | None) -> list[Sock]:
        return [s for s in self.sockets if (group is None or s.group == group) and not s.closed]

    async def cmd_request(
        self,
        group: str,
        event: str,
        data: dict | None = None,
        per_session: bool = False,
        timeout: float = 60.0,
        concurrency: int = 100,
        request_timeout: float | None = None,
    ) -> dict:
        """Sends `event` with a ref from every socket of the group and waits for the replies
        (each up to `request_timeout`, or `timeout`, seconds)."""
        timeout = request_timeout or timeout
        gate = asyncio.Semaphore(concurrency)
        results: Counter = Counter()
        started = time.time()

        async def one(sock: Sock) -> None:
            payload = dict(data or {})
            if per_session:
                payload["sessionId"] = sock.session
            ref = self._next_ref()
            waiter = asyncio.get_running_loop().create_future()
            sock.pending[ref] = waiter
            async with gate:
                try:
                    await sock.ws.send(wire.encode(sock.proto, event, payload, ref))
                    frame = await asyncio.wait_for(waiter, timeout)
                    if frame["event"] == "ack":
                        results["ok"] += 1
                    else:
                        results[frame["data"].get("code", "error")] += 1
                except Exception as exc:
                    results[type(exc).__name__] += 1

        await asyncio.gather(*(one(s) for s in self._group(group)))
        return {"results": dict(results), "seconds": time.time() - started}

    async def cmd_send_chat(
        self, group: str, tag: str, rate: float, count: int, start_at: float, senders_per_session: int = 1
    ) -> dict:
        """Every sender socket of the group (rank < senders_per_session) sends `count` chat
        messages at `rate` per second to its session, the first at `start_at` (absolute
        time), on a fixed schedule that does not drift when the loop is late."""
        senders = [s for s in self._group(group) if 0 <= s.rank < senders_per_session]
        sent = Counter()

        async def run(k: int, sock: Sock) -> None:
            # Stagger a session's senders inside one period so its messages are evenly spaced,
            # and sessions by their phase: independent classes do not send in lockstep.
            offset = (sock.rank + sock.phase) / senders_per_session / rate
            for n in range(count):
                due = start_at + offset + n / rate
                delay = due - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                seq = (self.index * 1_000_000) + k * 10_000 + n
                text = f"bench|{tag}|{seq}|{time.time():.6f}"
                frame = wire.encode(sock.proto, "session-message", {"sessionId": sock.session, "message": text})
                try:
                    await sock.ws.send(frame)
                    sent["ok"] += 1
                except Exception as exc:
                    sent[type(exc).__name__] += 1

        await asyncio.gather(*(run(k, s) for k, s in enumerate(senders)))
        return {"sent": dict(sent), "senders": len(senders)}

    async def cmd_chat_stats(self, tag: str) -> dict:
        seqs = self.chat.pop(tag, {})
        lat = self.chat_all.pop(tag, array("d"))
        return {"seqs": seqs, "lat": lat.tobytes(), "errors": dict(self.errors)}

    async def cmd_status(self) -> dict:
        return {
            "sockets": len(self._group(None)),
            "frames": self.frames,
            "last_frame": self.last_frame,
            "errors": dict(self.errors),
            "events": dict(self.frame_events),
            "retries": dict(self.retries),
            "closed_by_server": dict(self.closed_by_server),
        }

    async def cmd_reset_counters(self) -> dict:
        self.errors.clear()
        self.retries.clear()
        self.frame_events.clear()
        self.frames = 0
        return {"ok": True}

    async def cmd_heartbeats(self, group: str, interval: float) -> dict:
        """Each socket of the group sends presence-heartbeat every `interval` seconds, at a
        random phase, until it is closed."""
        socks = self._group(group)

        async def beat(sock: Sock) -> None:
            await asyncio.sleep(random.uniform(0, interval))
            while not sock.closed:
                with contextlib.suppress(Exception):
                    await sock.ws.send('{"event":"presence-heartbeat","data":{}}')
                await asyncio.sleep(interval)

        for sock in socks:
            self._spawn(beat(sock))
        return {"sockets": len(socks)}

    async def cmd_close(self, group: str | None) -> dict:
        socks = self._group(group) if group else [s for s in self.sockets if not s.closed]

        async def close(sock: Sock) -> None:
            sock.closed = True  # first: the reader then knows this side closed it
            with contextlib.suppress(Exception):
                await asyncio.wait_for(sock.ws.close(), 5)

        gate = asyncio.Semaphore(500)

        async def gated(sock: Sock) -> None:
            async with gate:
                await close(sock)

        await asyncio.gather(*(gated(s) for s in socks))
        self.sockets = [s for s in self.sockets if not s.closed]
        return {"closed": len(socks)}

    # -- presence storm -------------------------------------------------------------------------

    async def cmd_storm(self, entries: list[dict], group: str, start_at: float, snapshot_path: str) -> dict:
        """Member i connects at `start_at + entries[i]["at"]`; each, once connected,
        reads the course's presence over REST (what a client does on load) and then follows
        presence-changed frames."""
        import httpx

        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        snapshots: dict[str, tuple[float, list[str]]] = {}
        failures: Counter = Counter()
        async with httpx.AsyncClient(limits=limits, timeout=30) as http:

            async def one(entry: dict) -> None:
                await asyncio.sleep(max(0.0, start_at + entry["at"] - time.time()))
                sock = Sock(uid=entry["id"], group=group, presence=[])
                error = await self._open(sock, entry["url"], entry["token"])
                if error:
                    failures[error] += 1
                    return
                self.sockets.append(sock)
                try:
                    response = await http.get(
                        entry["http"] + snapshot_path, headers={"Authorization": f"Bearer {entry['token']}"}
                    )
                    now = time.time()
                    body = response.json()
                    users = body.get("users", body if isinstance(body, list) else [])
                    online = [u.get("userId") for u in users if u.get("status") not in (None, "offline")]
                    snapshots[sock.uid] = (now, online)
                    if response.status_code != 200:
                        failures[f"snapshot {response.status_code}"] += 1
                except Exception as exc:
                    failures[f"snapshot {type(exc).__name__}"] += 1

            await asyncio.gather(*(one(e) for e in entries))
        return {"failures": dict(failures), "snapshots": len(snapshots), "_snapshots": snapshots}

    async def cmd_presence_logs(self, group: str) -> dict:
        return {
            "logs": {
                s.uid: {"connected_at": s.connected_at, "items": s.presence, "frames": s.presence_frames}
                for s in self._group(group)
            }
        }

    # -- REST ---------------------------------------------------------------------------------

    async def cmd_rest(
        self,
        method: str,
        urls: list[str],
        tokens: list[str],
        concurrency: int,
        start_at: float,
        duration: float,
        warmup: float = 1.0,
        rate: float | None = None,
    ) -> dict:
        """`concurrency` clients, each sending requests back to back for `duration` seconds
        after `warmup`; client k cycles through tokens[k::concurrency] (one user per request,
        like many users behind the same load) and alternates the URLs (both servers). Each
        client keeps one keep-alive connection per server (bench/httpclient.py).

        With `rate` (requests a second for this process) the load is open instead: client k
        sends on a fixed schedule, and each latency counts from the request's scheduled
        moment, so a server that falls behind is charged for the wait (no coordinated
        omission)."""
        from urllib.parse import urlsplit

        from bench.httpclient import Connection

        latencies = array("d")
        statuses: Counter = Counter()
        measure_from = start_at + warmup
        end = measure_from + duration
        targets = []
        for url in urls:
            parts = urlsplit(url)
            targets.append(
                (f"{parts.scheme}://{parts.netloc}", parts.path + (f"?{parts.query}" if parts.query else ""))
            )

        async def client(k: int) -> None:
            mine = tokens[k::concurrency] or [tokens[k % len(tokens)]]
            connections = {base: Connection(base) for base, _ in targets}
            await asyncio.sleep(max(0.0, start_at - time.time()))
            n = k
            period = concurrency / rate if rate else 0.0
            due = start_at + k * period / concurrency
            try:
                while True:
                    base, path = targets[n % len(targets)]
                    headers = {"Authorization": f"Bearer {mine[n % len(mine)]}", "Accept": "application/json"}
                    n += 1
                    if rate:
                        await asyncio.sleep(max(0.0, due - time.time()))
                        t0, due = due, due + period
                    else:
                        t0 = time.time()
                    if t0 >= end:
                        return
                    try:
                        code, _ = await connections[base].request(method, path, headers)
                    except Exception as exc:
                        code = type(exc).__name__
                    t1 = time.time()
                    if t0 >= measure_from and t1 <= end:
                        latencies.append(t1 - t0)
                        statuses[code] += 1
            finally:
                for connection in connections.values():
                    connection.close()

        await asyncio.gather(*(client(k) for k in range(concurrency)))
        return {"lat": latencies.tobytes(), "statuses": dict(statuses), "duration": duration}


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
