"""Load-generator commands over connected sockets: requests that wait for their
acknowledgement, chat sent on a fixed schedule with the sender's timestamp in the text
(`bench|<tag>|<seq>|<time.time()>`), and the latencies the reader collected for a tag.
A mixin of bench.loadgen.Worker.
"""

from __future__ import annotations

import asyncio
import time
from array import array
from collections import Counter

from bench import wire
from bench.sock import Sock


class ChatCommands:
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
