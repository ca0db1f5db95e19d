"""collab side by side with the seed's own stack (issue 16): one collab web process (the
Procfile's command) against one Node process running socket.io 4.8 with the seed's
events (bench/peers/socketio), driven by the same load generators through the same
client code (bench/wire.py), alternating within the run so both see the same machine.

Two workloads: the class-start storm (here) and the fan-out (bench.workloads.fanout).
"""

from __future__ import annotations

import time

from bench.loadgen import percentile, split
from bench.targets import Target
from bench.workloads import Ctx, fanout, loadavg, ms


def class_storm(ctx: Ctx, target: Target, members: int, concurrency: int) -> dict:
    """`members` students of course A each fetch a ticket (collab), connect and send
    `join-live-session` with an acknowledgement, `concurrency` of them in flight at any
    moment (split over the load generators). Reports the time from the first start to the
    last acknowledgement and each join's own time.

    Then checks what everyone knows, from the frames each member heard after its own join
    and the acks' `activeAttendees` (joins of one session are serialised by both servers,
    so a member's count is its place in the order): member k must have heard every member
    placed after it join (those before it are in the attendee list it would read), and
    nobody else; the seat count (collab: the session's `activeAttendees` and the REST
    attendee list; the peer: the last ack) must be exactly `members`."""
    students = ctx.seed["courseStudents"][:members]
    session = target.new_session(ctx, "Class start")
    entries = [
        {
            "id": s["id"],
            "token": s["token"],
            "url": target.ws_url(i),
            "proto": target.proto,
            "session": session,
            "ticketUrl": target.ticket_url(i),
        }
        for i, s in enumerate(students)
    ]
    parts = split(entries, len(ctx.gen))
    # `concurrency` in flight in all: each load generator takes its share.
    shares = [concurrency // len(parts) + (1 if i < concurrency % len(parts) else 0) for i in range(len(parts))]
    load = loadavg()
    cpu0 = target.cpu()
    profiling = ctx.start_profile("class-storm", 60 if not ctx.quick else 15) if target.is_collab else []
    start_at = time.time() + 1.0
    replies = ctx.gen.call_all(
        "class_storm",
        per_worker=[{"entries": p, "concurrency": max(1, c)} for p, c in zip(parts, shares, strict=True)],
        group="classstorm",
        start_at=start_at,
    )
    joined: dict[str, dict] = {}
    failures: dict[str, int] = {}
    for reply in replies:
        joined.update(reply["members"])
        for text, n in reply["failures"].items():
            failures[text] = failures.get(text, 0) + n
    first = min((m["started"] for m in joined.values()), default=start_at)
    last = max((m["done"] for m in joined.values()), default=start_at)
    cpu = target.cpu_percent_since(cpu0)
    settle = ctx.wait_quiet(quiet=2.0, timeout=120)
    profile = ctx.finish_profile(profiling)
    views: dict[str, list[str]] = {}
    for reply in ctx.gen.call_all("attendee_views", group="classstorm"):
        views.update(reply["views"])
    frames = sum(sum(s["events"].values()) for s in ctx.gen.call_all("status"))

    positions = {uid: m["position"] for uid, m in joined.items()}
    unique = sorted(positions.values()) == list(range(1, len(joined) + 1))
    everyone = set(joined)
    wrong = 0
    for uid, k in positions.items():
        heard = set(views.get(uid, ())) - {uid}
        expected = {other for other, j in positions.items() if j > k}
        if not expected <= heard or not heard <= everyone:
            wrong += 1
    if target.is_collab:
        detail = ctx.api("GET", f"/api/live-sessions/{session}", ctx.instructor["token"])
        listing = ctx.api("GET", f"/api/live-sessions/{session}/attendees?limit=10000", ctx.instructor["token"])
        present = {str(a["userId"]) for a in listing["attendees"] if a["present"] and not a["isHost"]}
        seats = detail["activeAttendees"]
        listed_exact = present == everyone
    else:
        seats = max(positions.values(), default=0)
        listed_exact = None
    target.end_session(ctx, session)
    ctx.gen.call_all("close", group="classstorm")
    ctx.gen.call_all("reset_counters")
    ctx.wait_quiet(timeout=60)
    ctx.wait_idle()
    each = [m["done"] - m["started"] for m in joined.values()]
    # Where a member's time goes: ticket + handshake (the peer: handshake), then the join.
    opening = [m["opened"] - m["started"] for m in joined.values()]
    joining = [m["done"] - m["opened"] for m in joined.values()]
    ticketing = [m["ticket"] for m in joined.values() if m.get("ticket") is not None]
    return {
        "target": target.name,
        "loadavg": load,
        "members": members,
        "concurrency": concurrency,
        "joined": len(joined),
        "failures": failures,
        "seconds": round(last - first, 2),
        "join_p50_ms": ms(percentile(each, 50)),
        "join_p99_ms": ms(percentile(each, 99)),
        "open_p50_ms": ms(percentile(opening, 50)),
        "ticket_p50_ms": ms(percentile(ticketing, 50)) if ticketing else None,
        "join_only_p50_ms": ms(percentile(joining, 50)),
        "frames_received": frames,
        "frames_per_member": round(frames / max(1, len(joined)), 1),
        "positions_unique": unique,
        "members_with_wrong_attendee_view": wrong if unique else None,
        "seat_count": seats,
        "seat_count_exact": seats == members,
        "attendee_list_exact": listed_exact,
        "server_cpu_percent": cpu,
        "settle_seconds": round(settle, 1),
        "profile": profile,
    }


def ratio(collab: float | None, peer: float | None) -> float | None:
    if not collab or not peer:
        return None
    return round(collab / peer, 2)


def side_by_side(ctx: Ctx, peer: Target | None, collab: Target, config: dict, log, only: set[int]) -> dict:
    """`config["rounds"]` rounds; each runs the storm, then the fan-out, on both targets,
    the peer first in odd rounds and collab first in even ones."""
    rounds = []
    for n in range(config["rounds"]):
        order = [peer, collab] if n % 2 == 0 else [collab, peer]
        order = [t for t in order if t is not None]
        row: dict = {"round": n + 1}
        if 6 in only:
            for target in order:
                log(f"[round {n + 1}] class-start storm on {target.name}")
                result = class_storm(ctx, target, **config["storm"])
                row[f"storm_{target.name}"] = result
                log(f"  { {k: v for k, v in result.items() if k != 'profile'} }")
        if 1 in only:
            for target in order:
                log(f"[round {n + 1}] fan-out on {target.name}")
                result = fanout(ctx, **config["fanout"], target=target)
                row[f"fanout_{target.name}"] = result
                log(f"  { {k: v for k, v in result.items() if k != 'profile'} }")
        if peer is not None:
            storm_c, storm_p = row.get("storm_collab"), row.get("storm_socketio")
            if storm_c and storm_p:
                row["storm_ratio"] = ratio(storm_c["seconds"], storm_p["seconds"])
            fan_c, fan_p = row.get("fanout_collab"), row.get("fanout_socketio")
            if fan_c and fan_p:
                row["fanout_p50_ratio"] = ratio(fan_c["last_member_p50_ms"], fan_p["last_member_p50_ms"])
                row["fanout_p99_ratio"] = ratio(fan_c["last_member_p99_ms"], fan_p["last_member_p99_ms"])
        rounds.append(row)
    return {"rounds": rounds}
