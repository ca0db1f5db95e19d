"""A load generator's sockets: opening one like a real client (retries, bearer token or
ticket), the reader task that stamps and counts every frame it receives (chat latencies,
joins and leaves, presence, acknowledgements), and the commands that connect, count and
close groups of sockets. A mixin of bench.loadgen.Worker.

A receipt is stamped the moment the reader task gets the frame, so a busy load generator
inflates the figures (it never deflates them).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter

import orjson

from bench import wire
from bench.sock import Sock

# A single change, or several coalesced into one frame (presence.fanout).
PRESENCE_EVENTS = ("presence-changed", "presence-batch")
CHAT_EVENT = "session-new-message"
# Someone entered a live session: collab's two per-user events, the Socket.IO peer's one,
# and collab's coalesced batch for large rooms (`joined` and `left` lists).
JOIN_EVENTS = ("attendee-joined", "session-participant-joined")
LEFT_EVENTS = ("attendee-left", "session-participant-left")
BATCH_EVENT = "session-participants-batch"


class SocketCommands:
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
