"""The benchmark: `make bench` (full) or `make bench-quick` / `make bench ARGS=--quick`.

Starts the production shape itself (PostgreSQL database collab_bench, its own
redis-server, a Celery worker, two ASGI server processes with DEBUG off), creates demo
users, drives the servers from separate load-generator processes with real WebSocket and
HTTP clients, prints a table and writes bench/results/<date>.json.

Order: first collab side by side with the Socket.IO peer (bench/peers/socketio, issue
16): one collab web process (the Procfile's uvicorn) and one Node process, workloads 6
(class-start storm) and 1 (fan-out) on both, alternating, in `rounds` rounds. Then for
each ASGI server asked for (`--servers`, default uvicorn) on two processes workloads 2
(sockets held), 5 (presence storm) and 4 (REST); then, on the faster server
(restarted), workload 3 (throughput). Each workload closes its sockets, so the next
starts with everyone offline. Without Node the peer's half is skipped and the report
says why.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import infra, presence_storm, rest, throughput, workloads
from bench.loadgen import LoadGen

RESULTS = Path(__file__).resolve().parent / "results"

FULL = {
    "versus": {
        "rounds": 2,
        "storm": {"members": 500, "concurrency": 50},
        "fanout": {"members": 500, "messages": 200, "rate": 5.0},
    },
    "sockets": {"steps": [1000, 2500, 5000, 7500, 10000], "hold": 10.0},
    "throughput": {
        "sessions": 20,
        "members": 200,
        "rates": [1, 2, 3, 3.5, 4, 5, 6.25, 7, 10, 15, 20],
        "step_seconds": 10.0,
    },
    "rest": {"online": 200, "concurrency": 64, "duration": 15.0},
    "storm": {"members": 500, "ramp": 5.0, "follow": 25.0},
    "course_students": 500,
    "open_students": 4000,
    "loadgens": 4,
}
QUICK = {
    # The same five workloads, scaled down so that both servers and all of it fit in under
    # three minutes; the figures that count are the full run's.
    "versus": {
        "rounds": 1,
        "storm": {"members": 100, "concurrency": 50},
        "fanout": {"members": 100, "messages": 10, "rate": 5.0},
    },
    "sockets": {"steps": [200, 500], "hold": 0.5},
    "throughput": {"sessions": 4, "members": 50, "rates": [5, 20], "step_seconds": 1.5},
    "rest": {"online": 50, "concurrency": 64, "duration": 1.5, "open_rate": 500.0},
    "storm": {"members": 100, "ramp": 2.0, "follow": 2.0},
    "course_students": 500,
    "open_students": 500,
    "loadgens": 2,
}

# Issue 16's goals; the storm and fan-out ones are ratios to the peer in the same run.
GOALS = {
    "class_storm_ratio": 2.0,
    "fanout_p99_ratio": 1.5,
    "sockets": 10000,
    "kib_per_socket": 40,
    "throughput_dps": 25000,
    "throughput_p99_ms": 250,
    "rest_presence_offered_rps": 1000,
    "rest_presence_p99_ms": 50,
    "storm_seconds": 5,
    "storm_frames_per_second": 2,
}


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def faster(results: dict) -> tuple[str, str]:
    """uvicorn (the Procfile's) stays unless daphne wins a majority of what both measured:
    presence-read requests/s and join requests/s (the fan-out runs side by side with the
    peer on the Procfile's server only)."""
    d, u = results.get("daphne"), results.get("uvicorn")
    if not d or not u:
        return "uvicorn", "only one server measured"
    wins = []
    try:
        wins.append(u["rest"]["presence_course"]["rps"] >= d["rest"]["presence_course"]["rps"])
        wins.append(u["rest"]["session_join"]["rps"] >= d["rest"]["session_join"]["rps"])
    except (KeyError, TypeError):
        return "uvicorn", "comparison incomplete"
    reason = f"uvicorn won {sum(wins)} of 2 (presence rps, join rps)"
    return ("uvicorn" if sum(wins) >= 1 else "daphne"), reason


def versus_rows(report: dict, add) -> None:
    """The side-by-side rows: per round, the peer, collab and their ratio."""
    versus = report.get("versus") or {}
    if versus.get("peer_missing"):
        add("side by side with Socket.IO", "-", f"peer not run: {versus['peer_missing']}", "")
    for row in versus.get("rounds", []):
        n = row["round"]
        for name in ("socketio", "collab"):
            st = row.get(f"storm_{name}")
            if st:
                add(
                    f"6 class-start storm {st['members']} ({st['concurrency']} in flight), round {n}",
                    name,
                    f"{st['joined']} joined in {st['seconds']} s (join p50 {st['join_p50_ms']} / p99"
                    f" {st['join_p99_ms']} ms), failed {sum(st['failures'].values())},"
                    f" wrong views {st['members_with_wrong_attendee_view']}, seats {st['seat_count']},"
                    f" {st['frames_per_member']} frames/member, load {st['loadavg'][0]}",
                    "",
                )
        if row.get("storm_ratio") is not None:
            add(f"6 class-start storm, round {n}", "ratio", f"collab / Socket.IO = {row['storm_ratio']}×", "≤ 2×")
        for name in ("socketio", "collab"):
            f = row.get(f"fanout_{name}")
            if f:
                add(
                    f"1 fan-out {f['members']} members, {f['messages_sent']} msgs @ {f['rate']}/s, round {n}",
                    name,
                    f"last p50 {f['last_member_p50_ms']} / p99 {f['last_member_p99_ms']}"
                    f" / max {f['last_member_max_ms']} ms, lost {f['lost']}, load {f['loadavg'][0]}"
                    f", server CPU {f.get('server_cpu_us_per_delivery')} µs/delivery"
                    f" ({f.get('server_net_cpu_us_per_delivery')} net of idle)",
                    "",
                )
        if row.get("fanout_p99_ratio") is not None:
            add(
                f"1 fan-out, round {n}",
                "ratio",
                f"p50 {row['fanout_p50_ratio']}×, p99 {row['fanout_p99_ratio']}×",
                "p99 ≤ 1.5×, 0 lost",
            )


def table(report: dict) -> str:
    rows: list[tuple[str, str, str, str]] = []

    def add(name, server, value, goal=""):
        rows.append((name, server, str(value), goal))

    versus_rows(report, add)
    for kind, res in report["servers"].items():
        s = res.get("sockets")
        if s:
            for step in s["steps"]:
                add(
                    f"2 sockets held {step['target']}",
                    kind,
                    f"held {step['held']}, {step['kb_per_socket']} KiB/socket, RSS {step['server_rss_mb']} MiB,"
                    f" idle CPU {step['idle_cpu_percent']}%",
                    "10,000 held, ≤ 40 KiB",
                )
        r = res.get("rest")
        if r:
            p, j = r["presence_course"], r["session_join"]
            add(
                "4 REST GET presence/course (64 clients)",
                kind,
                f"{p['rps']} req/s, p50 {p['p50_ms']} / p99 {p['p99_ms']} ms, non-2xx {p['requests'] - p['ok']}",
                "",
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
                "≥ 25,000/s, p99 ≤ 250 ms",
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


def run_versus(args, config: dict, stack: infra.Stack, phase, only: set[int]) -> dict:
    """Workloads 6 and 1: one collab web process (the Procfile's uvicorn) and, when Node
    is there, the Socket.IO peer, alternating (bench.versus)."""
    from bench import targets, versus

    peer, missing = None, ""
    if args.no_peer:
        missing = "--no-peer"
    else:
        port, proc, missing = stack.start_peer()
        if port is not None:
            peer = targets.peer_target(port, proc.pid)
            log(f"socket.io peer on port {port} (pid {proc.pid})")
    if missing:
        log(f"the Socket.IO peer is not run: {missing}; collab's side only")
    ctx = phase(args.versus_server, count=1)
    result = versus.side_by_side(ctx, peer, targets.collab_target(ctx), config["versus"], log, only)
    result["server"] = args.versus_server
    if missing:
        result["peer_missing"] = missing
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smaller run that finishes in under 2 minutes")
    parser.add_argument(
        "--servers",
        default="uvicorn",
        help="ASGI servers for workloads 2-5 (comma separated): daphne, uvicorn (the Procfile's), uvicorn-legacy "
        "(--ws websockets), uvicorn-deflate; a server named again is measured again",
    )
    parser.add_argument("--only", default="1,2,3,4,5,6", help="workloads to run, e.g. 1,6")
    parser.add_argument("--rounds", type=int, default=None, help="side-by-side rounds (full: 2, quick: 1)")
    parser.add_argument(
        "--versus-server",
        default="uvicorn",
        help="collab's server for workloads 1 and 6 (default the Procfile's uvicorn; uvicorn-legacy to compare)",
    )
    parser.add_argument("--no-peer", action="store_true", help="skip the Socket.IO peer (collab's figures only)")
    parser.add_argument("--out", default=None, help="result file (default bench/results/<date>.json)")
    parser.add_argument("--profile", action="store_true", help="py-spy the servers during fan-out and REST")
    args = parser.parse_args(argv)

    config = QUICK if args.quick else FULL
    if args.rounds:
        config = {**config, "versus": {**config["versus"], "rounds": args.rounds}}
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

        def phase(kind: str, count: int = 2) -> workloads.Ctx:
            # Every workload closes its sockets, so leases and groups are released the way
            # the app releases them; Redis is not flushed behind the app's back.
            stack.stop_servers()
            ports = stack.start_servers(kind, count=count)
            log(f"{kind} on ports {ports} (pids {stack.server_pids()})")
            return workloads.Ctx(stack, gen, seed, ports, args.quick, log, profile=args.profile)

        if only & {1, 6}:
            report["versus"] = run_versus(args, config, stack, phase, only)
            stack.stop_peer()
        seen: dict[str, int] = {}
        for kind in kinds:
            if not only & {2, 4, 5}:
                break
            # A server named again is measured again (alternating on a busy machine): uvicorn#2, …
            seen[kind] = seen.get(kind, 0) + 1
            res = report["servers"].setdefault(kind if seen[kind] == 1 else f"{kind}#{seen[kind]}", {})
            ctx = phase(kind)
            if 2 in only:
                log(f"[{kind}] workload 2: sockets held")
                res["sockets"] = workloads.sockets_held(ctx, **config["sockets"])
            if 5 in only:
                log(f"[{kind}] workload 5: presence storm")
                res["storm"] = presence_storm.storm(ctx, **config["storm"])
                log(f"  {res['storm']}")
            if 4 in only:
                log(f"[{kind}] workload 4: REST")
                res["rest"] = rest.rest(ctx, **config["rest"])
        winner, reason = faster(report["servers"])
        if len(kinds) == 1:
            winner, reason = kinds[0], "the only server asked for (--servers)"
        report["faster_server"] = {"server": winner, "reason": reason}
        log(f"faster: {winner} ({reason})")
        if 3 in only:
            # Fresh processes for the full run; the quick run reuses the servers still running
            # when they are the faster kind (it has seconds to spare, not a restart).
            winner = winner.split("#")[0]
            if not (args.quick and stack.server_kind == winner and len(stack.servers) == 2):
                ctx = phase(winner)
            res = report["servers"].setdefault(winner, {})
            log(f"[{winner}] workload 3: throughput")
            res["throughput"] = throughput.throughput(ctx, **config["throughput"])
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
