"""The production shape, started and stopped by the bench: its own PostgreSQL database
(collab_bench, dropped and created each run), its own redis-server on a free port, a
Celery worker and two ASGI server processes (daphne or uvicorn) with DEBUG off.

Every child is started in its own process group and remembered; `Processes.stop_all`
(called from a finally block, atexit and the SIGINT/SIGTERM handlers) ends exactly those
groups, so nothing outlives the run and nothing else on the machine is touched.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# BENCH_DB_NAME keeps two benchmark runs on one PostgreSQL server apart.
DB_NAME = os.environ.get("BENCH_DB_NAME", "collab_bench")
PG = "postgres://postgres@127.0.0.1:5432"
PEER_DIR = ROOT / "bench" / "peers" / "socketio"


def free_port(preferred: int | None = None) -> int:
    if preferred:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", preferred))
                return preferred
            except OSError:
                pass
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def raise_file_limit() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit; children (servers, load generators) inherit it."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1_048_576
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            # As root the hard limit may be raised too.
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (65536, 65536))
            except (ValueError, OSError):
                pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


@dataclass
class Processes:
    """Every process group the bench started, ended in reverse order."""

    procs: list[tuple[str, subprocess.Popen]] = field(default_factory=list)

    def start(self, name: str, cmd: list[str], env: dict[str, str], log_dir: Path) -> subprocess.Popen:
        log_dir.mkdir(parents=True, exist_ok=True)
        log = open(log_dir / f"{name}.log", "ab")
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.procs.append((name, proc))
        return proc

    def stop(self, proc: subprocess.Popen, timeout: float = 10.0) -> None:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=5)
        self.procs = [(n, p) for n, p in self.procs if p is not proc]

    def stop_all(self) -> None:
        for _name, proc in reversed(list(self.procs)):
            try:
                self.stop(proc, timeout=5)
            except Exception:
                pass


PROCESSES = Processes()
atexit.register(PROCESSES.stop_all)


def _on_signal(signum, frame):
    PROCESSES.stop_all()
    raise KeyboardInterrupt


def install_signal_handlers() -> None:
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)


def psql(sql: str) -> None:
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-qtAc", sql],
        check=True,
        stdout=subprocess.DEVNULL,
    )


@dataclass
class Stack:
    log_dir: Path
    redis_port: int = 0
    redis: subprocess.Popen | None = None
    worker: subprocess.Popen | None = None
    servers: list[tuple[int, subprocess.Popen]] = field(default_factory=list)
    server_kind: str = ""
    peer: subprocess.Popen | None = None
    secret: str = field(default_factory=lambda: "bench-" + os.urandom(24).hex())

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "collab.settings",
            "DATABASE_URL": f"{PG}/{DB_NAME}",
            "REDIS_URL": self.redis_url,
            "DEBUG": "false",
            "SECURE_SSL_REDIRECT": "false",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECRET_KEY": self.secret,
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            "CHANNEL_LAYER_PREFIX": "bench",
            "CACHE_KEY_PREFIX": "bench",
        }

    # -- Redis and PostgreSQL -----------------------------------------------------------

    def start_redis(self) -> None:
        self.redis_port = free_port(6390)
        self.redis = PROCESSES.start(
            "redis",
            [
                "redis-server",
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--maxclients",
                "10000",
                "--dir",
                str(self.log_dir),
            ],
            os.environ.copy(),
            self.log_dir,
        )
        self._wait(lambda: self.redis_cmd("PING") == "PONG", "redis")

    def redis_cmd(self, *args: str) -> str | None:
        import redis

        try:
            client = redis.Redis(host="127.0.0.1", port=self.redis_port, socket_timeout=2, decode_responses=True)
            try:
                value = client.execute_command(*args)
                return "PONG" if value is True and args[0] == "PING" else value
            finally:
                client.close()
        except redis.RedisError:
            return None

    def flush_redis(self) -> None:
        self.redis_cmd("FLUSHALL")

    def create_database(self) -> None:
        psql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        psql(f"CREATE DATABASE {DB_NAME}")
        subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=self.env(), check=True)

    def seed(self, course_students: int, open_students: int) -> dict:
        import json

        out = self.log_dir / "seed.json"
        subprocess.run(
            [
                PYTHON,
                "-m",
                "bench.seed",
                "--course-students",
                str(course_students),
                "--open-students",
                str(open_students),
                "--out",
                str(out),
            ],
            cwd=ROOT,
            env=self.env(),
            check=True,
        )
        return json.loads(out.read_text())

    # -- Celery and the ASGI servers ------------------------------------------------------

    def start_worker(self) -> None:
        self.worker = PROCESSES.start(
            "celery",
            [PYTHON, "-m", "celery", "-A", "collab", "worker", "--loglevel", "WARNING", "--concurrency", "2"],
            self.env(),
            self.log_dir,
        )

    def server_cmd(self, kind: str, port: int) -> list[str]:
        if kind == "daphne":
            # -v 0: no access log line per request (the proxy in front logs requests).
            return [
                PYTHON,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "-v",
                "0",
                "--proxy-headers",
                "collab.asgi:application",
            ]
        if kind in ("uvicorn", "uvicorn-deflate", "uvicorn-legacy"):
            # The Procfile turns permessage-deflate off, and so do "uvicorn" and
            # "uvicorn-legacy": browsers offer it and uvicorn accepts it by default, which
            # costs a zlib context per socket (about 90 KiB) and a compression per recipient
            # per frame; daphne does not negotiate it at all. "uvicorn-deflate" keeps it on.
            # (Until 2026-11-30 the legacy kind ran with it on, and its memory per socket was
            # compared with the deflate-less one's.)
            deflate = ["--ws-per-message-deflate", "false"] if kind != "uvicorn-deflate" else []
            return [
                PYTHON,
                "-m",
                "uvicorn",
                "collab.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--loop",
                "uvloop",
                "--http",
                "httptools",
                "--ws",
                # The Procfile's "websockets-sansio"; "uvicorn-legacy": uvicorn's older
                # `websockets` implementation (deprecated since uvicorn 0.35, it warns at
                # start-up), kept to compare (docs/performance.md).
                "websockets" if kind == "uvicorn-legacy" else "websockets-sansio",
                "--ws-max-size",
                os.environ.get("SOCKET_MAX_FRAME_BYTES", "65536"),
                "--lifespan",
                "off",
                "--no-access-log",
                "--proxy-headers",
                "--backlog",
                "4096",
                "--log-level",
                "warning",
                *deflate,
            ]
        raise ValueError(kind)

    def start_servers(self, kind: str, count: int = 2) -> list[int]:
        self.server_kind = kind
        ports = []
        for index in range(count):
            port = free_port()
            proc = PROCESSES.start(f"{kind}-{index}", self.server_cmd(kind, port), self.env(), self.log_dir)
            self.servers.append((port, proc))
            ports.append(port)
        for port, proc in self.servers:
            self._wait(lambda port=port, proc=proc: self._healthy(port, proc), f"{kind} on {port}", timeout=60)
        return ports

    def _healthy(self, port: int, proc: subprocess.Popen) -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}; see {self.log_dir}")
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    # -- the Socket.IO peer (issue 16) ------------------------------------------------------

    def start_peer(self) -> tuple[int | None, subprocess.Popen | None, str]:
        """Node 20 + bench/peers/socketio: installs node and npm from apt when missing (as
        root), runs `npm ci` when node_modules is missing or older than the lock file, and
        starts one process. Returns (port, process, "") or (None, None, why not)."""
        node = shutil.which("node")
        if node is None:
            if os.geteuid() == 0 and shutil.which("apt-get"):
                for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "nodejs", "npm"]):
                    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
                node = shutil.which("node")
            if node is None:
                return None, None, "node not found, and it could not be installed from apt (needs root and apt-get)"
        version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
        if not version.startswith("v") or int(version[1:].split(".")[0]) < 18:
            return None, None, f"node {version} is too old for socket.io 4.8 (bench/peers/socketio needs 18+)"
        installed = PEER_DIR / "node_modules" / ".package-lock.json"
        lock = PEER_DIR / "package-lock.json"
        if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
            npm = shutil.which("npm")
            if npm is None:
                return None, None, "npm not found (needed once to install socket.io: npm ci)"
            done = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"], cwd=PEER_DIR, capture_output=True, text=True, check=False
            )
            if done.returncode != 0:
                return None, None, f"npm ci failed: {(done.stderr or done.stdout).strip()[-300:]}"
        port = free_port()
        env = {
            **os.environ,
            "PORT": str(port),
            "JWT_SIGNING_KEY": os.environ.get("JWT_SIGNING_KEY", self.secret),
            "NODE_ENV": "production",
        }
        proc = PROCESSES.start("peer-socketio", [node, str(PEER_DIR / "server.js")], env, self.log_dir)

        def listening() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"the Socket.IO peer exited with {proc.returncode}; see {self.log_dir}")
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", port)) == 0

        try:
            self._wait(listening, "socket.io peer", timeout=30)
        except RuntimeError as exc:
            PROCESSES.stop(proc)
            return None, None, str(exc)
        self.peer = proc
        return port, proc, ""

    def stop_peer(self) -> None:
        if self.peer is not None:
            PROCESSES.stop(self.peer)
            self.peer = None

    def stop_servers(self) -> None:
        for _port, proc in self.servers:
            PROCESSES.stop(proc)
        self.servers = []

    def server_pids(self) -> list[int]:
        return [proc.pid for _port, proc in self.servers]

    def server_ps(self) -> list[psutil.Process]:
        return [psutil.Process(pid) for pid in self.server_pids()]

    @staticmethod
    def _wait(check, what: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.2)
        raise RuntimeError(f"{what} did not come up within {timeout:.0f}s")

    def close(self) -> None:
        PROCESSES.stop_all()
