"""Workload 4: the REST presence read (closed loop and 1,000/s offered) and REST joins."""

from __future__ import annotations

import time

from bench.loadgen import percentile, unpack
from bench.workloads import (
    Ctx,
    connect,
    cpu_percent_since,
    ms,
)


def rest_load(
    ctx: Ctx,
    method: str,
    paths: list[str],
    tokens: list[str],
    concurrency: int,
    duration: float,
    rate: float | None = None,
) -> dict:
    """Closed loop (each client sends its next request when the last one answered) unless
    `rate` asks for an open load of that many requests a second in all."""
    workers = len(ctx.gen)
    per = [concurrency // workers + (1 if i < concurrency % workers else 0) for i in range(workers)]
    urls = [ctx.http_url(i) + path for i in range(len(ctx.ports)) for path in paths]
    start_at = time.time() + 1.0
    cpu0 = ctx.server_cpu()
    replies = ctx.gen.call_all(
        "rest",
        per_worker=[
            {"concurrency": n, "tokens": tokens[i::workers], "rate": rate * n / concurrency if rate else None}
            for i, n in enumerate(per)
        ],
        method=method,
        urls=urls,
        start_at=start_at,
        duration=duration,
    )
    cpu = cpu_percent_since(ctx, cpu0)
    lat = [x for r in replies for x in unpack(r["lat"])]
    statuses: dict = {}
    for reply in replies:
        for code, n in reply["statuses"].items():
            statuses[str(code)] = statuses.get(str(code), 0) + n
    ok = sum(n for code, n in statuses.items() if code.startswith("2"))
    return {
        "requests": len(lat),
        "ok": ok,
        "statuses": statuses,
        "rps": round(len(lat) / duration),
        "p50_ms": ms(percentile(lat, 50)),
        "p99_ms": ms(percentile(lat, 99)),
        "max_ms": ms(max(lat) if lat else None),
        "server_cpu_percent": cpu,
        "concurrency": concurrency,
    }


def rest(ctx: Ctx, online: int, concurrency: int, duration: float, open_rate: float = 1000.0) -> dict:
    students = ctx.seed["courseStudents"]
    course = ctx.seed["courseId"]
    # `online` students are online the way users are: with an open socket (closed at the
    # end, so their leases are released and the next workload starts from a clean state).
    held = connect(
        ctx,
        [{"id": s["id"], "token": s["token"], "url": ctx.ws_url(i)} for i, s in enumerate(students[:online])],
        "rest-online",
    )
    ctx.wait_quiet(timeout=60)
    ctx.wait_idle()
    tokens = [s["token"] for s in students]
    check = ctx.api("GET", f"/api/presence/course/{course}?limit=500", students[0]["token"])
    seen_online = check.get("count", len(check.get("users", []))) if isinstance(check, dict) else len(check)
    profiling = ctx.start_profile("rest-presence", duration + 1)
    presence = rest_load(ctx, "GET", [f"/api/presence/course/{course}?limit=500"], tokens, concurrency, duration)
    presence["profile"] = ctx.finish_profile(profiling)
    presence["online_in_course"] = seen_online
    ctx.log(f"  rest presence: { {k: v for k, v in presence.items() if k != 'profile'} }")
    # The goal's question: at 1,000 requests a second offered by the same 64 clients, what
    # p99? (A closed loop cannot answer it: its latency is concurrency / throughput.)
    presence_at_rate = rest_load(
        ctx, "GET", [f"/api/presence/course/{course}?limit=500"], tokens, concurrency, duration, rate=open_rate
    )
    presence_at_rate["offered_rps"] = open_rate
    ctx.log(f"  rest presence at {open_rate}/s offered: {presence_at_rate}")
    session = ctx.live_session("REST join", course)
    join = rest_load(ctx, "POST", [f"/api/live-sessions/{session}/join"], tokens, concurrency, duration)
    ctx.log(f"  rest join: {join}")
    ctx.api("POST", f"/api/live-sessions/{session}/end", ctx.instructor["token"], {})
    ctx.gen.call_all("close", group="rest-online")
    ctx.wait_quiet(timeout=60)
    ctx.wait_idle()
    return {
        "presence_course": presence,
        "presence_course_open": presence_at_rate,
        "session_join": join,
        "online_sockets": held,
    }


# -- 5. presence storm -------------------------------------------------------------------------
