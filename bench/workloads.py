"""The workloads' shared context (`Ctx`) and helpers, the fan-out and the idle sockets; the
others are in bench/throughput.py, bench/rest.py and bench/presence_storm.py. Driven from
bench/run.py through the load generators."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psutil

from bench.loadgen import LoadGen, percentile, split, unpack
from bench.targets import Target, collab_target


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


class Ctx:
    def __init__(self, stack, gen: LoadGen, seed: dict, ports: list[int], quick: bool, log, profile: bool = False):
        self.stack, self.gen, self.seed, self.ports, self.quick, self.log = stack, gen, seed, ports, quick, log
        self.profile = profile
        self.instructor = seed["instructor"]
        self.http = httpx.Client(timeout=30)

    def ws_url(self, i: int) -> str:
        return f"ws://127.0.0.1:{self.ports[i % len(self.ports)]}/ws/"

    def http_url(self, i: int = 0) -> str:
        return f"http://127.0.0.1:{self.ports[i % len(self.ports)]}"

    def api(self, method: str, path: str, token: str, json: Any = None, expect: tuple = (200, 201)) -> Any:
        response = self.http.request(
            method, self.http_url() + path, json=json, headers={"Authorization": f"Bearer {token}"}
        )
        if response.status_code not in expect:
            raise RuntimeError(f"{method} {path} -> {response.status_code}: {response.text[:300]}")
        return response.json() if response.content else None

    def live_session(self, title: str, course_id: str | None) -> str:
        """A session created and started over REST by the instructor, as the client does."""
        body = {
            "title": title,
            "description": "benchmark",
            "scheduledAt": (datetime.now(UTC) + timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
            "duration": 120,
            "capacity": None,
        }
        if course_id:
            body["courseId"] = course_id
        token = self.instructor["token"]
        session = self.api("POST", "/api/live-sessions", token, body)
        self.api("POST", f"/api/live-sessions/{session['id']}/start", token)
        return session["id"]

    def wait_quiet(self, quiet: float = 1.5, timeout: float = 60.0) -> float:
        """Waits until no load generator got a frame for `quiet` seconds; returns the wait."""
        if self.quick:
            quiet = min(quiet, 1.0)
        started = time.time()
        while time.time() - started < timeout:
            last = max(s["last_frame"] for s in self.gen.call_all("status"))
            if time.time() - last >= quiet:
                break
            time.sleep(0.3)
        return time.time() - started

    def wait_idle(self, below: float = 15.0, timeout: float = 90.0) -> float:
        """Waits until the servers' CPU over one second is under `below` percent (their
        backlog of connects, disconnects and broadcasts is done); returns the wait."""
        if self.quick:
            below, timeout = 30.0, min(timeout, 5.0)
        started = time.time()
        while time.time() - started < timeout:
            before = self.server_cpu()
            time.sleep(1.0)
            if cpu_percent_since(self, before) < below:
                break
        return time.time() - started

    def start_profile(self, name: str, seconds: float) -> list:
        """py-spy samples every server process for `seconds` (when --profile is given);
        `finish_profile` waits and writes a summary of where the CPU went."""
        if not self.profile:
            return []
        import shutil
        import subprocess
        import sys
        from pathlib import Path

        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        jobs = []
        for index, pid in enumerate(self.stack.server_pids()):
            out = self.stack.log_dir / f"profile-{name}-{self.stack.server_kind}-{index}.txt"
            cmd = [
                spy,
                "record",
                # --native (C frames too, e.g. uvloop's) needs the process stopped per sample.
                *(["--native"] if os.environ.get("BENCH_PYSPY_NATIVE") else ["--nonblocking"]),
                "-r",
                "100",
                "-d",
                str(int(seconds)),
                "-f",
                "raw",
                "-o",
                str(out),
                "-p",
                str(pid),
            ]
            jobs.append((subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), out))
        return jobs

    def finish_profile(self, jobs: list) -> dict:
        from bench.profile import summarize

        summaries = {}
        for proc, out in jobs:
            try:
                proc.wait(timeout=120)
            except Exception:
                proc.kill()
            if out.exists():
                summaries[out.name] = summarize(out)
        return summaries

    def server_cpu(self) -> tuple[float, float]:
        total = 0.0
        for proc in self.stack.server_ps():
            times = proc.cpu_times()
            total += times.user + times.system
        return total, time.time()


def cpu_percent_since(ctx: Ctx, before: tuple[float, float]) -> float:
    after = ctx.server_cpu()
    return round(100 * (after[0] - before[0]) / max(1e-6, after[1] - before[1]), 1)


def merge_chat(results: list[dict]) -> tuple[dict[int, list], list[float], dict]:
    seqs: dict[int, list] = {}
    lat: list[float] = []
    errors: dict = {}
    for result in results:
        for seq, (count, worst) in result["seqs"].items():
            entry = seqs.setdefault(seq, [0, 0.0])
            entry[0] += count
            entry[1] = max(entry[1], worst)
        lat.extend(unpack(result["lat"]))
        for code, n in result["errors"].items():
            errors[code] = errors.get(code, 0) + n
    return seqs, lat, errors


def worst_by_period(seqs: dict) -> list:
    worst: dict[int, float] = {}
    for seq, (_count, latency) in seqs.items():
        n = int(seq) % 10_000
        worst[n] = max(worst.get(n, 0.0), latency)
    return [ms(worst[n]) for n in sorted(worst)]


def retries_of(ctx: Ctx) -> dict:
    merged: dict = {}
    for status in ctx.gen.call_all("status"):
        for text, n in status["retries"].items():
            merged[text] = merged.get(text, 0) + n
    return merged


def join_all(ctx: Ctx, group: str) -> dict:
    # A loaded machine can take minutes to answer a class of joins; a join counted as
    # failed that lands later would show up as negative "lost".
    replies = ctx.gen.call_all(
        "request", group=group, event="join-live-session", per_session=True, timeout=900, request_timeout=600
    )
    merged: dict = {}
    for reply in replies:
        for code, n in reply["results"].items():
            merged[code] = merged.get(code, 0) + n
    return merged


def connect(ctx: Ctx, entries: list[dict], group: str, ramp: float = 0.0, concurrency: int = 200) -> dict:
    parts = split(entries, len(ctx.gen))
    replies = ctx.gen.call_all(
        "connect", per_worker=[{"entries": p} for p in parts], group=group, ramp=ramp, concurrency=concurrency
    )
    failures: dict = {}
    for reply in replies:
        for text, n in reply["failures"].items():
            failures[text] = failures.get(text, 0) + n
    return {
        "opened": sum(r["opened"] for r in replies),
        "failed": sum(r["failed"] for r in replies),
        "failures": failures,
        "seconds": round(max(r["seconds"] for r in replies), 1),
    }


# -- 1. fan-out --------------------------------------------------------------------------------


def fanout(ctx: Ctx, members: int, messages: int, rate: float, target: Target | None = None) -> dict:
    """collab's web processes, or the Socket.IO peer (`target`), through the same driver."""
    target = target or collab_target(ctx)
    students = ctx.seed["courseStudents"][:members]
    session = target.new_session(ctx, "Fan-out")
    entries = [
        {"id": s["id"], "token": s["token"], "url": target.ws_url(i), "session": session, "proto": target.proto}
        for i, s in enumerate(students)
    ]
    # The instructor is the one sender; its own copy of each message is not counted.
    teacher = {
        "id": ctx.instructor["id"],
        "token": ctx.instructor["token"],
        "url": target.ws_url(0),
        "session": session,
        "counting": False,
        "rank": 0,
        "proto": target.proto,
    }
    ctx.gen.call_all("reset_counters")
    first = ctx.gen.call_all(
        "connect", per_worker=[{"entries": [teacher] if i == 0 else []} for i in range(len(ctx.gen))], group="fanout"
    )
    if first[0]["opened"] != 1:
        raise RuntimeError(f"the instructor's socket did not open: {first[0]}")
    opened = connect(ctx, entries, "fanout", concurrency=25)
    joins = join_all(ctx, "fanout")
    settle = ctx.wait_quiet(timeout=120) + ctx.wait_idle()
    retries = retries_of(ctx)
    ctx.log(
        f"  fan-out: {opened['opened']} sockets in {opened['seconds']}s (failed {opened['failures']}, "
        f"retried {retries}), joins {joins}, settled {settle:.1f}s"
    )

    # The server's CPU with everyone connected and nothing sent (heartbeats, timers), so
    # the CPU per delivery can be given net of it.
    idle0 = target.cpu()
    time.sleep(3.0)
    idle1 = target.cpu()
    idle_rate = (idle1[0] - idle0[0]) / max(1e-6, idle1[1] - idle0[1])

    tag = f"fan{int(time.time())}"
    start_at = time.time() + 1.0
    cpu0 = target.cpu()
    system0 = target.system_cpu()
    profiling = ctx.start_profile("fanout", messages / rate + 1) if target.is_collab else []
    sends = ctx.gen.call_all("send_chat", group="fanout", tag=tag, rate=rate, count=messages, start_at=start_at)
    ctx.wait_quiet(quiet=2.0, timeout=30)
    cpu = target.cpu_percent_since(cpu0)
    cpu1 = target.cpu()
    cpu_seconds = cpu1[0] - cpu0[0]
    net_seconds = cpu_seconds - idle_rate * (cpu1[1] - cpu0[1])
    system_seconds = target.system_cpu() - system0
    profile = ctx.finish_profile(profiling)
    seqs, lat, errors = merge_chat(ctx.gen.call_all("chat_stats", tag=tag))
    sent = sum(r["sent"].get("ok", 0) for r in sends)
    members_in = joins.get("ok", 0) - 1  # the instructor joined too
    expected = sent * members_in
    received = sum(c for c, _ in seqs.values())
    last = [worst for _, worst in seqs.values()]
    complete = sum(1 for c, _ in seqs.values() if c >= members_in)
    target.end_session(ctx, session)
    ctx.gen.call_all("close", group="fanout")
    ctx.wait_quiet(timeout=30)
    ctx.wait_idle()
    return {
        "target": target.name,
        "loadavg": loadavg(),
        "members": members_in,
        "sockets_failed": opened["failed"],
        "messages_sent": sent,
        "rate": rate,
        "expected_deliveries": expected,
        "received": received,
        "lost": expected - received,
        "messages_complete": complete,
        "last_member_p50_ms": ms(percentile(last, 50)),
        "last_member_p99_ms": ms(percentile(last, 99)),
        "last_member_max_ms": ms(max(last) if last else None),
        "delivery_p50_ms": ms(percentile(lat, 50)),
        "delivery_p99_ms": ms(percentile(lat, 99)),
        "server_cpu_percent": cpu,
        # The server's CPU for the whole send (chat handling + fan-out), per delivery.
        "server_cpu_us_per_delivery": round(1e6 * cpu_seconds / received, 1) if received else None,
        "server_idle_cpu_percent": round(100 * idle_rate, 1),
        "server_net_cpu_us_per_delivery": round(1e6 * net_seconds / received, 1) if received else None,
        "server_system_cpu_share": round(system_seconds / cpu_seconds, 2) if cpu_seconds else None,
        "socket_errors": errors,
        "join_results": joins,
        "connect_retries": retries,
        "settle_seconds": round(settle, 1),
        "profile": profile,
    }


# -- 2. sockets held ---------------------------------------------------------------------------


def server_rss(ctx: Ctx) -> int:
    return sum(p.memory_info().rss for p in ctx.stack.server_ps())


def sockets_held(ctx: Ctx, steps: list[int], hold: float, heartbeat: float = 60.0) -> dict:
    users = ctx.seed["openStudents"]
    baseline = server_rss(ctx)
    rows = []
    opened_total = 0
    for step in steps:
        new = step - opened_total
        entries = [
            {"id": users[i % len(users)]["id"], "token": users[i % len(users)]["token"], "url": ctx.ws_url(i)}
            for i in range(opened_total, step)
        ]
        # Connects arrive paced (at most 500 a second) and at most 25 handshakes in flight per
        # load generator, as a fleet of real clients arrives; a refused one is retried.
        result = connect(ctx, entries, f"idle{step}", ramp=new / 500, concurrency=25)
        opened_total = step
        ctx.gen.call_all("heartbeats", group=f"idle{step}", interval=heartbeat)
        # Heartbeats keep frames flowing, so "quiet" never comes: give the connect's
        # side effects (presence, joins) a fixed moment to settle instead.
        time.sleep(0.5 if ctx.quick else 5.0)
        cpu0 = ctx.server_cpu()
        time.sleep(hold)
        cpu = cpu_percent_since(ctx, cpu0)
        status = ctx.gen.call_all("status")
        held = sum(s["sockets"] for s in status)
        closed: dict[str, int] = {}
        for s in status:
            for code, n in s.get("closed_by_server", {}).items():
                closed[code] = closed.get(code, 0) + n
        rss = server_rss(ctx)
        rows.append(
            {
                "target": step,
                "held": held,
                "connect_failed": result["failed"],
                # Opened, then ended by the server (close code: count); a drop in "held".
                "closed_by_server": closed,
                "failures": result["failures"],
                "connect_seconds": result["seconds"],
                "server_rss_mb": round(rss / 2**20, 1),
                "kb_per_socket": round((rss - baseline) / 1024 / max(1, held), 1),
                "idle_cpu_percent": cpu,
            }
        )
        ctx.log(f"  sockets: {rows[-1]}")
        if held < step * 0.9:
            break
    ctx.gen.call_all("close", group=None, timeout=300)
    ctx.wait_quiet(timeout=60)
    ctx.wait_idle(timeout=120)
    return {"baseline_rss_mb": round(baseline / 2**20, 1), "heartbeat_seconds": heartbeat, "steps": rows}


# -- 3. throughput -----------------------------------------------------------------------------


def loadavg() -> list[float]:
    """The machine's 1/5/15-minute load averages now: other sessions' work shares the cores."""
    import os

    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict:
    model = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os
    import platform

    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }
