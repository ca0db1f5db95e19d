"""The class-start storm, load-generator side (issue 16): each member fetches a ticket
(collab only: what a browser does), connects, sends `join-live-session` with an
acknowledgement, and from then on notes every join and leave it hears. A mixin of
bench.loadgen.Worker; the workload side is bench.workloads.class_storm."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from bench import wire
from bench.sock import Sock


class ClassStormCommands:
    async def cmd_class_storm(self, entries: list[dict], group: str, start_at: float, concurrency: int) -> dict:
        """`entries`: {id, token, url, proto, session, ticketUrl?}. At most `concurrency`
        members of this process are between "start" and "ack" at any moment. Per member:
        start, ack time and the ack's `activeAttendees` (its place in the server's order:
        joins are serialised per session by both servers)."""
        gate = asyncio.Semaphore(concurrency)
        members: dict[str, dict] = {}
        failures: Counter = Counter()
        await asyncio.sleep(max(0.0, start_at - time.time()))

        async def one(entry: dict) -> None:
            sock = Sock(uid=entry["id"], group=group, session=entry["session"], proto=entry["proto"], heard={})
            async with gate:
                started = time.time()
                error = await self._open(sock, entry["url"], entry["token"], ticket_url=entry.get("ticketUrl"))
                if error:
                    failures[f"connect {error}"] += 1
                    return
                self.sockets.append(sock)
                opened = time.time()
                ref = self._next_ref()
                waiter = asyncio.get_running_loop().create_future()
                sock.pending[ref] = waiter
                try:
                    await sock.ws.send(wire.encode(sock.proto, "join-live-session", {"sessionId": sock.session}, ref))
                    frame = await asyncio.wait_for(waiter, 120)
                except Exception as exc:
                    failures[f"join {type(exc).__name__}"] += 1
                    return
                done = time.time()
            if frame["event"] != "ack":
                failures[f"join {(frame.get('data') or {}).get('code', 'error')}"] += 1
                return
            members[sock.uid] = {
                "started": started,
                "opened": opened,
                "ticket": sock.ticket_seconds,
                "done": done,
                "position": (frame.get("data") or {}).get("activeAttendees"),
            }

        await asyncio.gather(*(one(e) for e in entries))
        return {"members": members, "failures": dict(failures)}

    async def cmd_attendee_views(self, group: str) -> dict:
        """Per member of the group: the users it heard joining (and not leaving since)."""
        return {
            "views": {
                s.uid: sorted(u for u, state in (s.heard or {}).items() if state == "joined")
                for s in self._group(group)
            }
        }
