"""Workload 5: the presence storm (every member sees every other, frames per second)."""

from __future__ import annotations

import time

from bench.loadgen import percentile, split
from bench.workloads import (
    Ctx,
    cpu_percent_since,
)


def storm(ctx: Ctx, members: int, ramp: float, follow: float) -> dict:
    students = ctx.seed["courseStudents"][:members]
    course = ctx.seed["courseId"]
    entries = [
        {"id": s["id"], "token": s["token"], "url": ctx.ws_url(i), "http": ctx.http_url(i), "at": ramp * i / members}
        for i, s in enumerate(students)
    ]
    start_at = time.time() + 1.0
    parts = split(entries, len(ctx.gen))
    cpu0 = ctx.server_cpu()
    replies = ctx.gen.call_all(
        "storm",
        per_worker=[{"entries": p} for p in parts],
        group="storm",
        start_at=start_at,
        snapshot_path=f"/api/presence/course/{course}?limit=500",
    )
    # Let the last connects' frames arrive; stop early once quiet.
    deadline = start_at + ramp + follow
    while time.time() < deadline:
        last = max(s["last_frame"] for s in ctx.gen.call_all("status"))
        if time.time() - last > 2.0 and time.time() > start_at + ramp + 2:
            break
        time.sleep(0.5)
    cpu = cpu_percent_since(ctx, cpu0)
    logs: dict = {}
    for reply in ctx.gen.call_all("presence_logs", group="storm"):
        logs.update(reply["logs"])
    snapshots: dict = {}
    failures: dict = {}
    for reply in replies:
        snapshots.update(reply["_snapshots"])
        for text, n in reply["failures"].items():
            failures[text] = failures.get(text, 0) + n
    everyone = set(logs)
    times_all = []
    not_complete = 0
    frames_total = []
    frames_peak = []
    for uid, log in logs.items():
        seen: dict[str, float] = {}
        snap = snapshots.get(uid)
        if snap:
            for other in snap[1]:
                seen.setdefault(other, snap[0])
        stamps = list(log["frames"])  # one per frame, however many users a batch carries
        for t, other, status in log["items"]:
            if status and status != "offline":
                if other not in seen or t < seen[other]:
                    seen[other] = t
        others = everyone - {uid}
        if others <= set(seen):
            times_all.append(max(seen[o] for o in others) - start_at)
        else:
            not_complete += 1
        frames_total.append(len(stamps))
        stamps.sort()
        peak, lo = 0, 0
        for hi in range(len(stamps)):
            while stamps[hi] - stamps[lo] >= 1.0:
                lo += 1
            peak = max(peak, hi - lo + 1)
        frames_peak.append(peak)
    ctx.gen.call_all("close", group="storm")
    ctx.wait_quiet(timeout=60)
    ctx.wait_idle()
    return {
        "members": members,
        "connected": len(logs),
        "ramp_seconds": ramp,
        "failures": failures,
        "members_seeing_everyone": len(times_all),
        "members_missing_someone": not_complete,
        "time_until_all_see_all_s": round(max(times_all), 2) if times_all and not not_complete else None,
        # The ramp spreads connects over `ramp` seconds, so the figure above can never be
        # under the moment the last member connected; this is what comes after it.
        "all_see_all_after_last_connect_s": (
            round(max(times_all) - (max(log["connected_at"] for log in logs.values()) - start_at), 2)
            if times_all and not not_complete
            else None
        ),
        "p50_time_member_sees_all_s": round(percentile(times_all, 50), 2) if times_all else None,
        "presence_frames_per_member_mean": round(sum(frames_total) / max(1, len(frames_total)), 1),
        "presence_frames_per_member_max": max(frames_total) if frames_total else 0,
        "presence_frames_peak_per_second": max(frames_peak) if frames_peak else 0,
        "server_cpu_percent": cpu,
    }
