"""Where an idle socket's memory goes (issue 16: 10,000 sockets at <= 40 KiB each).

    python -m bench.sockmem --ws websockets-sansio,websockets --steps 2500,5000,10000 --open-students 4000
    python -m bench.sockmem --ws websockets-sansio --steps 100,600 --servers 1 --tracemalloc 10
    python -m bench.sockmem --ws websockets-sansio,websockets-sansio@/tmp/old-checkout --steps 5000

Starts what the bench starts (its own redis-server, the bench database, seeded open
students, the servers with the Procfile's uvicorn flags, through bench/memserver.py), opens
idle authenticated sockets from two load generators in steps (the sockets-held workload's
pace, heartbeats every 60 s), and reports per step the servers' RSS and the marginal cost
per socket between steps: (RSS(b) - RSS(a)) / (sockets(b) - sockets(a)), which leaves out
what a process allocates once (imports, pools, the first connections) and is what 10,000
sockets cost. With --tracemalloc N the servers trace Python allocations (N frames each,
much slower, RSS meaningless) and the difference between the first and the last step's
snapshots is written per socket by owner (the server's WebSocket protocol, the consumer,
the channel layer, Channels' routing, ...), by allocating line and by traceback; the legacy
implementation needs a slower pace under the tracer (`--rate 15 --concurrency 4`).

`impl@DIR` runs the app imported from DIR (uvicorn's --app-dir: e.g. an export of the
previous commit, for before/after figures in one run); `--extra-args` adds uvicorn options.
Results: bench/results/sockmem-<date>.json. A diagnostic, not a goal check: `make bench
ARGS="--only 2"` is the figure of record.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import time
import tracemalloc
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from bench import infra
from bench.loadgen import LoadGen, split

RESULTS = Path(__file__).resolve().parent / "results"


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def server_cmd(stack: infra.Stack, kind: str, port: int, ws: str, extra: list[str]) -> list[str]:
    cmd = stack.server_cmd("uvicorn", port)
    cmd[cmd.index("-m") + 1] = "bench.memserver"
    cmd[cmd.index("--ws") + 1] = ws
    return cmd + extra


APPS = ("collab", "presence", "liveSessions", "studygroups", "officehours", "bench")


def owner(filename: str) -> str:
    """A frame's file relative to its package root: site-packages, the stdlib, or this
    project (whichever checkout it was imported from)."""
    path = filename.replace("\\", "/")
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1]
    stdlib = re.split(r"/lib/python3\.\d+/", path, maxsplit=1)
    if len(stdlib) == 2:
        return stdlib[1]
    parts = path.split("/")
    for index, part in enumerate(parts):
        if part in APPS:
            return "/".join(parts[index:])
    return path


# Who asked for the memory: the innermost frame of a traceback in one of these files
# (first match wins), grouped as in docs/performance.md. Stdlib frames (asyncio's queues,
# events, tasks) are skipped, so an empty `asyncio.Queue` counts for whoever created it.
OWNERS = [
    ("uvicorn/protocols/websockets/", "server protocol", "uvicorn WebSocket protocol"),
    ("websockets/legacy/", "server protocol", "websockets legacy protocol"),
    ("websockets/", "server protocol", "websockets sans-I/O (handshake, headers, parser)"),
    ("uvicorn/protocols/http/", "server protocol", "uvicorn HTTP protocol (handshake)"),
    ("channels_redis/", "channel layer", "channels_redis"),
    ("redis/", "channel layer", "redis-py"),
    ("collab/realtime/flood.py", "consumer", "flood guard"),
    ("collab/realtime/consumer.py", "consumer", "consumer"),
    ("collab/", "consumer", "collab (credentials, rooms, leases)"),
    ("presence/", "consumer", "the apps' socket hooks"),
    ("liveSessions/", "consumer", "the apps' socket hooks"),
    ("studygroups/", "consumer", "the apps' socket hooks"),
    ("officehours/", "consumer", "the apps' socket hooks"),
    ("channels/", "channels routing", "channels"),
    ("django/", "user row", "django"),
    ("psycopg", "user row", "psycopg"),
    ("asgiref/", "asgiref", "asgiref (thread hops in flight)"),
    ("uvicorn/_compat.py", "uvloop", "uvloop objects (allocated under the loop's run)"),
]


def requester(trace: tracemalloc.Traceback) -> tuple[str, str, str]:
    """(group, part, file:line) of the innermost frame of interest (a Traceback is oldest
    first, so it is walked backwards)."""
    for frame in reversed(trace):
        name = owner(frame.filename)
        for pattern, group, part in OWNERS:
            if pattern in name:
                return group, part, f"{name}:{frame.lineno}"
    frame = trace[-1]
    return "other", "other", f"{owner(frame.filename)}:{frame.lineno}"


def analyse(before: Path, after: Path, sockets: int, top: int = 40) -> dict:
    """What the `after` snapshot holds more than `before`, per socket (`sockets` opened in
    between): by owner group and part (with their largest lines), by allocating line, and
    the largest tracebacks (most recent call first)."""
    a = tracemalloc.Snapshot.load(str(before))
    b = tracemalloc.Snapshot.load(str(after))
    filters = [
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
    ]
    a, b = a.filter_traces(filters), b.filter_traces(filters)
    diff = b.compare_to(a, "traceback")
    total = sum(d.size_diff for d in diff)
    groups: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    for d in diff:
        group, part, line = requester(d.traceback)
        groups[group][part][line] += d.size_diff

    def kib(value: float) -> float:
        return round(value / sockets / 1024, 2)

    by_owner = {}
    for group, parts in sorted(groups.items(), key=lambda kv: -sum(sum(p.values()) for p in kv[1].values())):
        by_owner[group] = {
            "kib_per_socket": kib(sum(sum(p.values()) for p in parts.values())),
            "parts": {
                part: {
                    "kib_per_socket": kib(sum(lines.values())),
                    "lines": {k: round(v / sockets) for k, v in sorted(lines.items(), key=lambda kv: -kv[1])[:8]},
                }
                for part, lines in sorted(parts.items(), key=lambda kv: -sum(kv[1].values()))
            },
        }
    lines = []
    for d in sorted(diff, key=lambda d: -d.size_diff)[:top]:
        frames = [f"{owner(f.filename)}:{f.lineno}" for f in reversed(d.traceback)][:10]
        lines.append(
            {
                "bytes_per_socket": round(d.size_diff / sockets),
                "count_per_socket": round(d.count_diff / sockets, 2),
                "frames": frames,
            }
        )
    by_line: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for d in b.compare_to(a, "lineno"):
        f = d.traceback[-1]
        by_line[f"{owner(f.filename)}:{f.lineno}"][0] += d.size_diff
        by_line[f"{owner(f.filename)}:{f.lineno}"][1] += d.count_diff
    return {
        "sockets": sockets,
        "traced_kib_per_socket": kib(total),
        "by_owner": by_owner,
        "by_line": [
            {"line": k, "bytes_per_socket": round(v[0] / sockets), "blocks_per_socket": round(v[1] / sockets, 2)}
            for k, v in sorted(by_line.items(), key=lambda kv: -kv[1][0])[:top]
        ],
        "by_traceback": lines,
    }


def snapshot_all(pids: list[int], base: str, n: int, timeout: float = 300) -> list[Path]:
    paths = []
    for pid in pids:
        os.kill(pid, signal.SIGUSR1)
    for pid in pids:
        path = Path(f"{base}-{pid}.{n}")
        deadline = time.time() + timeout
        while not path.exists():
            if time.time() > deadline:
                raise TimeoutError(f"no snapshot from {pid}")
            time.sleep(0.5)
        paths.append(path)
    return paths


def run_kind(stack, gen, seed, spec: str, args, log_dir: Path) -> dict:
    """One configuration: `impl` (uvicorn's --ws) or `impl@DIR`, the app imported from DIR
    (uvicorn --app-dir: another checkout, e.g. the code before a change)."""
    ws, _, app_dir = spec.partition("@")
    extra = args.extra_args.split() + (["--app-dir", app_dir] if app_dir else [])
    tag = ws + ("-" + Path(app_dir).name if app_dir else "")
    env = stack.env()
    ports = []
    stack.stop_servers()
    for index in range(args.servers):
        port = infra.free_port()
        penv = dict(env)
        if args.tracemalloc:
            penv["BENCH_TRACEMALLOC"] = str(args.tracemalloc)
        penv["BENCH_SNAPSHOT"] = str(log_dir / f"snap-{tag}")
        proc = infra.PROCESSES.start(f"{tag}-{index}", server_cmd(stack, "uvicorn", port, ws, extra), penv, log_dir)
        stack.servers.append((port, proc))
        ports.append(port)
    for port, proc in stack.servers:
        stack._wait(lambda port=port, proc=proc: stack._healthy(port, proc), f"{tag} on {port}", timeout=120)
    pids = stack.server_pids()
    log(f"{tag}: servers {pids} on {ports}")
    users = seed["openStudents"]
    url = lambda i: f"ws://127.0.0.1:{ports[i % len(ports)]}/ws/"  # noqa: E731
    baseline = sum(p.memory_info().rss for p in stack.server_ps())
    rows = []
    opened = 0
    snaps: list[list[Path]] = []
    for step in args.steps:
        entries = [
            {"id": users[i % len(users)]["id"], "token": users[i % len(users)]["token"], "url": url(i)}
            for i in range(opened, step)
        ]
        parts = split(entries, len(gen))
        t0 = time.time()
        replies = gen.call_all(
            "connect",
            per_worker=[{"entries": p} for p in parts],
            group=f"s{step}",
            ramp=len(entries) / args.rate,
            concurrency=args.concurrency,
        )
        failed = sum(r["failed"] for r in replies)
        connect_seconds = round(time.time() - t0, 1)
        gen.call_all("heartbeats", group=f"s{step}", interval=60.0)
        opened = step
        time.sleep(args.settle)
        cpu0 = [sum(p.cpu_times()[:2]) for p in stack.server_ps()]
        time.sleep(args.hold)
        cpu = [sum(p.cpu_times()[:2]) for p in stack.server_ps()]
        status = gen.call_all("status")
        held = sum(s["sockets"] for s in status)
        closed: dict[str, int] = {}
        for s in status:
            for code, n in s["closed_by_server"].items():
                closed[code] = closed.get(code, 0) + n
        ps = stack.server_ps()
        rss = sum(p.memory_info().rss for p in ps)
        row = {
            "target": step,
            "held": held,
            "failed": failed,
            "closed_by_server": closed,
            "connect_seconds": connect_seconds,
            "rss_mb": round(rss / 2**20, 1),
            "kib_per_socket_from_baseline": round((rss - baseline) / 1024 / max(1, held), 1),
            "idle_cpu_percent": round(100 * (sum(cpu) - sum(cpu0)) / max(args.hold, 0.1), 1),
            "loadavg": [round(x, 1) for x in os.getloadavg()],
        }
        if rows:
            prev = rows[-1]
            row["kib_per_socket_marginal"] = round(
                (rss / 2**20 - prev["rss_mb"]) * 1024 / max(1, held - prev["held"]), 1
            )
        rows.append(row)
        log(f"  {tag} {row}")
        if args.tracemalloc:
            snaps.append(snapshot_all(pids, str(log_dir / f"snap-{tag}"), len(snaps) + 1))
    gen.call_all("close", group=None, timeout=300)
    result = {
        "ws": ws,
        "app_dir": app_dir or None,
        "servers": args.servers,
        "extra_args": args.extra_args,
        "baseline_rss_mb": round(baseline / 2**20, 1),
        "steps": rows,
    }
    if args.tracemalloc and len(snaps) >= 2:
        per_server = (rows[-1]["held"] - rows[0]["held"]) / args.servers
        result["tracemalloc"] = [
            analyse(a, b, max(1, int(per_server))) for a, b in zip(snaps[0], snaps[-1], strict=True)
        ]
    stack.stop_servers()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ws", default="websockets-sansio,websockets")
    parser.add_argument("--steps", default="500,2500")
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--tracemalloc", type=int, default=0, help="frames per traced allocation (0: off)")
    parser.add_argument("--settle", type=float, default=8.0, help="seconds after each step before measuring")
    parser.add_argument("--hold", type=float, default=10.0, help="seconds of idleness the CPU is measured over")
    parser.add_argument("--rate", type=float, default=500.0, help="connects per second (the bench's 500)")
    parser.add_argument("--concurrency", type=int, default=25, help="handshakes in flight per load generator")
    parser.add_argument("--extra-args", default="", help="more uvicorn options for every server")
    parser.add_argument("--open-students", type=int, default=2000)
    parser.add_argument("--analyse", nargs=2, metavar=("BEFORE", "AFTER"), help="only compare two snapshots")
    parser.add_argument("--sockets", type=int, default=1, help="with --analyse: sockets between the snapshots")
    args = parser.parse_args()
    if args.analyse:
        print(json.dumps(analyse(Path(args.analyse[0]), Path(args.analyse[1]), args.sockets), indent=1))
        return
    args.steps = [int(x) for x in args.steps.split(",")]
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%S")
    log_dir = RESULTS / "logs" / f"sockmem-{stamp}"
    log_dir.mkdir(parents=True, exist_ok=True)
    infra.install_signal_handlers()
    infra.raise_file_limit()
    stack = infra.Stack(log_dir=log_dir)
    gen = None
    report = {"started": stamp, "loadavg_at_start": os.getloadavg(), "runs": []}
    try:
        stack.start_redis()
        stack.create_database()
        seed = stack.seed(0, args.open_students)
        gen = LoadGen(2)
        for ws in args.ws.split(","):
            report["runs"].append(run_kind(stack, gen, seed, ws, args, log_dir))
    finally:
        if gen is not None:
            gen.close()
        stack.close()
    out = RESULTS / f"sockmem-{stamp}.json"
    out.write_text(json.dumps(report, indent=1))
    log(f"written {out}")
    for run in report["runs"]:
        for tm in run.get("tracemalloc", []):
            summary = {group: value["kib_per_socket"] for group, value in tm["by_owner"].items()}
            print(
                json.dumps({"sockets": tm["sockets"], "traced_kib_per_socket": tm["traced_kib_per_socket"], **summary})
            )


if __name__ == "__main__":
    main()
