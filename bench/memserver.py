"""uvicorn as the bench starts it, with Python's allocation tracer for bench/sockmem.py.

    BENCH_TRACEMALLOC=25 BENCH_SNAPSHOT=/tmp/snap python -m bench.memserver collab.asgi:application ...

takes the same arguments as `python -m uvicorn`. With BENCH_TRACEMALLOC=N (frames per
allocation) tracemalloc is on from the first import, and each SIGUSR1 writes a snapshot
(after a full collection) to BENCH_SNAPSHOT-<pid>.<n>, n = 1, 2, ... Without it the process is
plain uvicorn, so its RSS is the production figure. A debugging tool: never in the
Procfile.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import tracemalloc


def main() -> None:
    frames = int(os.environ.get("BENCH_TRACEMALLOC", "0") or 0)
    if frames:
        tracemalloc.start(frames)
    taken = 0

    def snapshot(signum, frame) -> None:
        nonlocal taken
        taken += 1
        gc.collect()
        path = f"{os.environ.get('BENCH_SNAPSHOT', '/tmp/collab-snapshot')}-{os.getpid()}.{taken}"
        if tracemalloc.is_tracing():
            tracemalloc.take_snapshot().dump(path + ".tmp")
            os.replace(path + ".tmp", path)
        else:
            with open(path, "w") as handle:
                handle.write("no tracemalloc\n")

    signal.signal(signal.SIGUSR1, snapshot)
    from uvicorn.main import main as uvicorn_main

    sys.argv[0] = "uvicorn"
    uvicorn_main()


if __name__ == "__main__":
    main()
