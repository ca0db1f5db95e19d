"""The benchmark: `make bench` (full) or `make bench-quick` / `make bench ARGS=--quick`.

Starts the production shape itself (PostgreSQL database collab_bench, its own
redis-server, a Celery worker, two ASGI server processes with DEBUG off), creates demo
users, drives the servers from separate load-generator processes with real WebSocket and
HTTP clients, prints a table and writes bench/results/<date>.json.

Order: for each ASGI server (daphne, then uvicorn) workloads 2 (sockets held), 1
(fan-out), 5 (presence storm) and 4 (REST); then, on the faster server (restarted),
workload 3 (throughput). Each workload closes its sockets, so the next starts with
everyone offline.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import infra, workloads
from bench.loadgen import LoadGen

RESULTS = Path(__file__).resolve().parent / "results"

FULL = {
    "fanout": {"members": 500, "messages": 200, "rate": 5.0},
    "sockets": {"steps": [1000, 2500, 5000, 7500, 10000], "hold": 10.0},
    "throughput": {"sessions": 20, "members": 200, "rates": [1, 2, 3, 3.5, 4, 5, 7, 10, 15, 20], "step_seconds": 10.0},
    "rest": {"online": 200, "concurrency": 64, "duration": 15.0},
    "storm": {"members": 500, "ramp": 5.0, "follow": 25.0},
    "course_students": 500,
    "open_students": 4000,
    "loadgens": 4,
}
QUICK = {
    # The same five workloads, scaled down so that both servers and all of it fit in under
    # two minutes; the figures that count are the full run's.
    "fanout": {"members": 100, "messages": 10, "rate": 5.0},
    "sockets": {"steps": [200, 500], "hold": 0.5},
    "throughput": {"sessions": 4, "members": 50, "rates": [5, 20], "step_seconds": 1.5},
    "rest": {"online": 50, "concurrency": 64, "duration": 1.5, "open_rate": 500.0},
    "storm": {"members": 100, "ramp": 2.0, "follow": 2.0},
    "course_students": 500,
    "open_students": 500,
    "loadgens": 2,
}

GOALS = {
    "fanout_p99_ms": 100,
    "sockets": 10000,
    "throughput_dps": 20000,
    "rest_presence_rps": 1000,
    "rest_presence_p99_ms": 50,
    "storm_seconds": 5,
    "storm_frames_per_second": 2,
}


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def faster(results: dict) -> tuple[str, str]:
    """uvicorn replaces daphne only when it wins a majority of: fan-out last-member p99,
    presence-read requests/s and join requests/s."""
    d, u = results.get("daphne"), results.get("uvicorn")
    if not d or not u:
        return "daphne", "only one server measured"
    wins = []
    try:
        wins.append(u["fanout"]["last_member_p99_ms"] < d["fanout"]["last_member_p99_ms"])
        wins.append(u["rest"]["presence_course"]["rps"] > d["rest"]["presence_course"]["rps"])
        wins.append(u["rest"]["session_join"]["rps"] > d["rest"]["session_join"]["rps"])
    except (KeyError, TypeError):
        return "daphne", "comparison incomplete"
    reason = f"uvicorn won {sum(wins)} of 3 (fan-out p99, presence rps, join rps)"
    return ("uvicorn" if sum(wins) >= 2 else "daphne"), reason


def table(report: dict) -> str:
    rows: list[tuple[str, str, str, str]] = []

    def add(name, server, value, goal=""):
        rows.append((name, server, str(value), goal))

    for kind, res in report["servers"].items():
        f = res.get("fanout")
        if f:
            add(
                f"1 fan-out {f['members']} members, {f['messages_sent']} msgs @ {f['rate']}/s",
                kind,
                f"last p50 {f['last_member_p50_ms']} / p99 {f['last_member_p99_ms']}"
                f" / max {f['last_member_max_ms']} ms, lost {f['lost']}",
                "p99 ≤ 100 ms, 0 lost",
            )
        s = res.get("sockets")
        if s:
            for step in s["steps"]:
                add(
                    f"2 sockets held {step['target']}",
                    kind,
                    f"held {step['held']}, {step['kb_per_socket']} KiB/socket, RSS {step['server_rss_mb']} MiB,"
                    f" idle CPU {step['idle_cpu_percent']}%",
                    "10,000 held",
                )
        r = res.get("rest")
        if r:
            p, j = r["presence_course"], r["session_join"]
            add(
                "4 REST GET presence/course (64 clients)",
                kind,
                f"{p['rps']} req/s, p50 {p['p50_ms']} / p99 {p['p99_ms']} ms, non-2xx {p['requests'] - p['ok']}",
                "≥ 1,000 req/s, p99 ≤ 50 ms",
            )
            o = r.get("presence_course_open")
            if o:
                add(
                    f"4 REST GET presence/course, {o['offered_rps']:g}/s offered",
                    kind,
                    f"{o['rps']} req/s, p50 {o['p50_ms']} / p99 {o['p99_ms']} ms, non-2xx {o['requests'] - o['ok']}",
                    "p99 ≤ 50 ms",
                )
            add(
                "4 REST POST live-sessions/:id/join (64)",
                kind,
                f"{j['rps']} req/s, p50 {j['p50_ms']} / p99 {j['p99_ms']} ms, non-2xx {j['requests'] - j['ok']}",
                "",
            )
        st = res.get("storm")
        if st:
            add(
                f"5 presence storm {st['members']} in {st['ramp_seconds']}s",
                kind,
                f"all see all in {st['time_until_all_see_all_s']} s from the first connect,"
                f" {st.get('all_see_all_after_last_connect_s')} s after the last"
                f" ({st['members_missing_someone']} missing someone, {st['connected']} connected),"
                f" presence frames/member mean {st['presence_frames_per_member_mean']},"
                f" peak {st['presence_frames_peak_per_second']}/s",
                "≤ 5 s, ≤ 2 frames/s",
            )
        t = res.get("throughput")
        if t:
            add(
                f"3 throughput {t['sessions']}×{t['members_per_session']}",
                kind,
                f"{t['best_deliveries_per_second']} deliveries/s with 0 lost at p99 ≤ 250 ms "
                f"(rate {t['best_rate_per_session']}/s/session)",
                "≥ 20,000/s",
            )
            for step in t["steps"]:
                add(
                    f"   step {step['rate_per_session']}/s/session",
                    kind,
                    f"{step['deliveries_per_second']}/s, p50 {step['delivery_p50_ms']}"
                    f" / p99 {step['delivery_p99_ms']} ms, lost {step['lost']}",
                    "",
                )
    widths = [max(len(r[i]) for r in [*rows, ("workload", "server", "result", "goal")]) for i in range(4)]
    lines = [" | ".join(h.ljust(w) for h, w in zip(("workload", "server", "result", "goal"), widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    lines += [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smaller run that finishes in under 2 minutes")
    parser.add_argument(
        "--servers",
        default="daphne,uvicorn",
        help="ASGI servers to compare (comma separated): daphne, uvicorn, uvicorn-sansio, uvicorn-deflate; "
        "a server named again is measured again (results as uvicorn#2, …), to alternate them on a busy machine",
    )
    parser.add_argument("--only", default="1,2,3,4,5", help="workloads to run, e.g. 1,4")
    parser.add_argument("--out", default=None, help="result file (default bench/results/<date>.json)")
    parser.add_argument("--profile", action="store_true", help="py-spy the servers during fan-out and REST")
    args = parser.parse_args(argv)

    config = QUICK if args.quick else FULL
    only = {int(x) for x in args.only.split(",") if x}
    kinds = [k for k in args.servers.split(",") if k]
    started = datetime.now(UTC)
    stamp = started.strftime("%Y-%m-%dT%H%M%S")
    log_dir = RESULTS / "logs" / stamp
    log_dir.mkdir(parents=True, exist_ok=True)

    infra.install_signal_handlers()
    nofile = infra.raise_file_limit()
    report: dict = {
        "started": started.isoformat(),
        "mode": "quick" if args.quick else "full",
        "config": config,
        "machine": workloads.machine(),
        "file_limit": nofile,
        "servers": {},
        "goals": GOALS,
    }
    log(f"machine {report['machine']}, file limit {nofile}, logs in {log_dir}")
    stack = infra.Stack(log_dir=log_dir)
    gen = None
    try:
        stack.start_redis()
        log(f"redis on {stack.redis_port}; creating database {infra.DB_NAME}")
        stack.create_database()
        seed = stack.seed(config["course_students"], config["open_students"])
        gen = LoadGen(config["loadgens"])

        stack.start_worker()

        def phase(kind: str) -> workloads.Ctx:
            # Every workload closes its sockets, so leases and groups are released the way
            # the app releases them; Redis is not flushed behind the app's back.
            stack.stop_servers()
            ports = stack.start_servers(kind)
            log(f"{kind} on ports {ports} (pids {stack.server_pids()})")
            return workloads.Ctx(stack, gen, seed, ports, args.quick, log, profile=args.profile)

        seen: dict[str, int] = {}
        for kind in kinds:
            seen[kind] = seen.get(kind, 0) + 1
            res = report["servers"].setdefault(kind if seen[kind] == 1 else f"{kind}#{seen[kind]}", {})
            ctx = phase(kind)
            if 2 in only:
                log(f"[{kind}] workload 2: sockets held")
                res["sockets"] = workloads.sockets_held(ctx, **config["sockets"])
            if 1 in only:
                log(f"[{kind}] workload 1: fan-out")
                res["fanout"] = workloads.fanout(ctx, **config["fanout"])
                log(f"  { {k: v for k, v in res['fanout'].items() if k != 'profile'} }")
            if 5 in only:
                log(f"[{kind}] workload 5: presence storm")
                res["storm"] = workloads.storm(ctx, **config["storm"])
                log(f"  {res['storm']}")
            if 4 in only:
                log(f"[{kind}] workload 4: REST")
                res["rest"] = workloads.rest(ctx, **config["rest"])
        winner, reason = faster(report["servers"])
        if len(kinds) == 1:
            winner, reason = kinds[0], "the only server asked for (--servers)"
        report["faster_server"] = {"server": winner, "reason": reason}
        log(f"faster: {winner} ({reason})")
        if 3 in only:
            # Fresh processes for the full run; the quick run reuses the servers still running
            # when they are the faster kind (it has seconds to spare, not a restart).
            winner = winner.split("#")[0]
            if not (args.quick and stack.server_kind == winner and stack.servers):
                ctx = phase(winner)
            res = report["servers"].setdefault(winner, {})
            log(f"[{winner}] workload 3: throughput")
            res["throughput"] = workloads.throughput(ctx, **config["throughput"])
    except KeyboardInterrupt:
        log("interrupted; cleaning up")
        report["interrupted"] = True
    except Exception as exc:
        import traceback

        traceback.print_exc()
        report["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        if gen is not None:
            gen.close()
        stack.close()
        report["finished"] = datetime.now(UTC).isoformat()
        report["seconds"] = round((datetime.now(UTC) - started).total_seconds(), 1)
        out = Path(args.out) if args.out else RESULTS / f"{stamp}{'-quick' if args.quick else ''}.json"
        out.write_text(json.dumps(report, indent=2, default=str))
        print()
        try:
            print(table(report))
        except Exception as exc:  # a partial report still gets written
            print(f"(table incomplete: {exc})")
        print(f"\nwritten {out} in {report['seconds']} s")
    return 1 if ("error" in report or report.get("interrupted")) else 0


if __name__ == "__main__":
    sys.exit(main())
