"""Load-generator presence commands: heartbeats, the presence storm (members connect on
a schedule, read the REST snapshot, then follow presence frames) and the presence logs the
reader kept. A mixin of bench.loadgen.Worker; the workload side is bench.presence_storm.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter

from bench.sock import Sock


class PresenceCommands:
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
