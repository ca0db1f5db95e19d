"""The load-generator REST command: closed-loop or open-loop (fixed schedule) clients over
keep-alive connections (bench/httpclient.py), latencies and statuses measured after a
warm-up. A mixin of bench.loadgen.Worker; the workload side is bench.rest.
"""

from __future__ import annotations

import asyncio
import time
from array import array
from collections import Counter


class RestCommands:
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
