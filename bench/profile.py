"""Summarises a py-spy raw profile (collapsed stacks): where the server's CPU went."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

# Leaf frames that mean "waiting", not working (py-spy --nonblocking samples idle threads too).
IDLE = (
    "Condition.wait",
    "EpollSelector.select",
    "Queue.get",
    "Event.wait",
    "_wait_for_tstate_lock",
    "select (",
    "poll (",
    "_worker (concurrent",
    "epoll",
    "sleep (",
)


def summarize(path: Path, top: int = 25) -> dict:
    own: Counter = Counter()
    cum: Counter = Counter()
    total = idle = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        if any(frames[-1].startswith(word) or word in frames[-1] for word in IDLE):
            idle += n
            continue
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            cum[frame] += n

    def pct(n: int) -> float:
        return round(100 * n / max(1, total), 1)

    return {
        "active_samples": total,
        "idle_samples": idle,
        "self": [(pct(n), frame) for frame, n in own.most_common(top)],
        "cumulative": [
            (pct(n), frame) for frame, n in cum.most_common(top * 3) if "site-packages/asyncio" not in frame
        ],
    }


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(summarize(Path(sys.argv[1])), indent=2))
