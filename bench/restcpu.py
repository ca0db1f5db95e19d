"""CPU per request of one web process on the course presence read (issue 16's REST goal).

A smaller instrument than `bench.run --only 4`: one server process (the Procfile's web
command), its own Redis and database, `--online` members holding a lease (set directly,
no sockets), and keep-alive clients from bench/httpclient.py in this process. It prints,
per phase, requests/s and the server's CPU milliseconds per request read from
/proc/<pid>/stat (user + system), which stays meaningful on a shared machine where
wall-clock figures do not:

    BENCH_DB_NAME=collab_bench_restread python -m bench.restcpu --seconds 10

`--server-root DIR` runs the server from another checkout (before / after in one
sitting, on the same data). `--profile out.txt` runs py-spy on the server during the last phase (raw collapsed
stacks). `--keep` reuses a seeded database (its seed.json is in --state).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench import infra
from bench.httpclient import Connection

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SECRET = "bench-restcpu-secret-not-for-production-0123456789"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def env(redis_port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "collab.settings",
        "DATABASE_URL": f"{infra.PG}/{infra.DB_NAME}",
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECRET_KEY": SECRET,
        "LOG_LEVEL": "WARNING",
        "CHANNEL_LAYER_PREFIX": "bench",
        "CACHE_KEY_PREFIX": "bench",
    }


PREPARE = """
import json, sys, time, django
django.setup()
from collab.accounts.revocation import generation_publish
from collab.realtime import leases
from presence import services
seed = json.load(open(sys.argv[1]))
for student in seed["courseStudents"]:
    generation_publish(user_id=student["id"], generation=0)  # as a login does
for student in seed["courseStudents"][: int(sys.argv[2])]:
    # A lease an hour ahead: online for the whole run without a socket renewing it.
    leases.lease_touch(user_id=student["id"], lease_id="ws:restcpu", now=time.time() + 3600)
    services.presence_sync(user_id=student["id"])
"""


async def closed_loop(url: str, path: str, tokens: list[str], clients: int, seconds: float) -> tuple[int, dict, list]:
    stop = time.monotonic() + seconds
    statuses: dict[int, int] = {}
    latencies: list[float] = []

    async def client(index: int) -> None:
        connection = Connection(url)
        headers = {"Authorization": f"Bearer {tokens[index % len(tokens)]}"}
        while time.monotonic() < stop:
            started = time.monotonic()
            status, _ = await connection.request("GET", path, headers)
            latencies.append(time.monotonic() - started)
            statuses[status] = statuses.get(status, 0) + 1
        connection.close()

    await asyncio.gather(*(client(i) for i in range(clients)))
    return sum(statuses.values()), statuses, latencies


async def open_loop(url: str, path: str, tokens: list[str], clients: int, seconds: float, rate: float):
    """`rate` requests a second in all, each at its scheduled moment on the first free
    connection; latency counts from the scheduled moment (a late send is the server's)."""
    connections: asyncio.Queue = asyncio.Queue()
    for index in range(clients):
        connections.put_nowait((Connection(url), {"Authorization": f"Bearer {tokens[index % len(tokens)]}"}))
    statuses: dict[int, int] = {}
    latencies: list[float] = []

    async def one(at: float) -> None:
        connection, headers = await connections.get()
        try:
            status, _ = await connection.request("GET", path, headers)
        finally:
            connections.put_nowait((connection, headers))
        latencies.append(time.monotonic() - at)
        statuses[status] = statuses.get(status, 0) + 1

    start = time.monotonic() + 0.1
    tasks = []
    for n in range(int(seconds * rate)):
        at = start + n / rate
        delay = at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(at)))
    await asyncio.gather(*tasks)
    return sum(statuses.values()), statuses, latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--online", type=int, default=200)
    parser.add_argument("--phases", type=int, default=3)
    parser.add_argument("--rate", type=float, default=None, help="open loop at this many requests/s")
    parser.add_argument("--state", default="/tmp/restcpu")
    parser.add_argument("--keep", action="store_true", help="reuse the seeded database and seed.json")
    parser.add_argument("--profile", default=None)
    parser.add_argument("--server-root", default=str(ROOT), help="the checkout the server runs (A/B against another)")
    args = parser.parse_args()

    state = Path(args.state)
    state.mkdir(parents=True, exist_ok=True)
    redis_port = infra.free_port(6490)
    redis = subprocess.Popen(
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    server = None
    try:
        run_env = env(redis_port)
        seed_file = state / "seed.json"
        if not (args.keep and seed_file.exists()):
            infra.psql(f"DROP DATABASE IF EXISTS {infra.DB_NAME} WITH (FORCE)")
            infra.psql(f"CREATE DATABASE {infra.DB_NAME}")
            subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=run_env, check=True)
            subprocess.run(
                [PYTHON, "-m", "bench.seed", "--course-students", "500", "--open-students", "0", "--out", seed_file],
                cwd=ROOT,
                env=run_env,
                check=True,
            )
        time.sleep(0.5)
        subprocess.run([PYTHON, "-c", PREPARE, seed_file, str(args.online)], cwd=ROOT, env=run_env, check=True)
        seed = json.loads(seed_file.read_text())
        port = infra.free_port(8790)
        command = [
            PYTHON, "-m", "uvicorn", "collab.asgi:application", "--host", "127.0.0.1", "--port", str(port),
            "--loop", "uvloop", "--http", "httptools", "--ws", "websockets-sansio", "--ws-per-message-deflate",
            "false", "--lifespan", "off", "--no-access-log", "--proxy-headers", "--backlog", "4096",
        ]  # fmt: skip
        server = subprocess.Popen(command, cwd=args.server_root, env=run_env)
        url = f"http://127.0.0.1:{port}"
        path = f"/api/presence/course/{seed['courseId']}?limit=500"
        tokens = [s["token"] for s in seed["courseStudents"]]
        for _ in range(100):
            try:
                asyncio.run(closed_loop(url, path, tokens, 1, 0.01))
                break
            except OSError:
                time.sleep(0.2)
        asyncio.run(closed_loop(url, path, tokens, args.clients, 2.0))  # warm: snapshot built, caches filled
        for phase in range(args.phases):
            profiler = None
            if args.profile and phase == args.phases - 1:
                profiler = subprocess.Popen(
                    [str(Path(PYTHON).parent / "py-spy"), "record", "-p", str(server.pid), "-r", "200", "-f", "raw",
                     "-o", args.profile, "-d", str(int(args.seconds))],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
                time.sleep(1.0)
            cpu0, wall0 = cpu_seconds(server.pid), time.monotonic()
            if args.rate:
                load = open_loop(url, path, tokens, args.clients, args.seconds, args.rate)
            else:
                load = closed_loop(url, path, tokens, args.clients, args.seconds)
            count, statuses, latencies = asyncio.run(load)
            cpu, wall = cpu_seconds(server.pid) - cpu0, time.monotonic() - wall0
            latencies.sort()
            print(
                f"phase {phase + 1}: {count / wall:.0f} req/s, server CPU {1000 * cpu / count:.3f} ms/request "
                f"({100 * cpu / wall:.0f} % of a core), p50 {1000 * latencies[len(latencies) // 2]:.1f} ms, "
                f"p99 {1000 * latencies[int(len(latencies) * 0.99)]:.1f} ms, statuses {statuses}, "
                f"load average {os.getloadavg()[0]:.2f}",
                flush=True,
            )
            if profiler is not None:
                profiler.wait()
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        redis.terminate()
        redis.wait()


if __name__ == "__main__":
    main()
