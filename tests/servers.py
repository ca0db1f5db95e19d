"""Real ASGI server processes for end-to-end tests: the production entry point
(collab.asgi) under the Procfile's web server (uvicorn), on the test database and the test Redis."""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import redis
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_url() -> str:
    db = connection.settings_dict
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db.get('USER') or 'postgres'}{password}@{host}:{port}/{db['NAME']}"


class AsgiServer:
    def __init__(self, port: int, process: subprocess.Popen):
        self.port = port
        self.process = process

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/"

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to run disconnect handlers."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def server_environ() -> dict[str, str]:
    """This test process's environment for a process it starts, without the xdist worker
    name: settings_test would move the child's REDIS_URL to the worker's Redis db, also
    one a test gave it on purpose (a redis-server of its own). This process's REDIS_URL
    is already the worker's db, so a child given no other gets the same."""
    return {name: value for name, value in os.environ.items() if name != "PYTEST_XDIST_WORKER"}


def procfile_web_command(port: int, env: dict[str, str] | None = None) -> list[str]:
    """The Procfile's `web` command (the server production runs), on 127.0.0.1:`port`,
    run with this interpreter; `${NAME:-default}` expands from `env` as the shell would."""
    env = dict(os.environ if env is None else env, PORT=str(port), HOST="127.0.0.1")
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))
    command = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: env.get(m.group(1)) or m.group(2), line.removeprefix("web:"))
    program, *args = shlex.split(command)
    return [sys.executable, "-m", program, *args]


def start_server(
    extra_env: dict[str, str] | None = None,
    *,
    timeout: float = 30.0,
    port: int | None = None,
    log_path: Path | None = None,
) -> AsgiServer:
    """The Procfile's web command on `port` (a free one by default), healthy when returned.
    `log_path`: where its stdout and stderr go (the log a test reads for ERROR lines);
    discarded if None."""
    server = launch_server(extra_env, port=port, log_path=log_path)
    wait_until_healthy([server], timeout)
    return server


def launch_server(
    extra_env: dict[str, str] | None = None, *, port: int | None = None, log_path: Path | None = None
) -> AsgiServer:
    """start_server without the wait: the process is started, not yet known to answer."""
    port = port or free_port()
    env = {
        **server_environ(),
        "DJANGO_SETTINGS_MODULE": "collab.settings_test",
        "DATABASE_URL": test_database_url(),
        "DB_CONN_MAX_AGE": "0",
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    log_file = open(log_path, "ab") if log_path is not None else None
    process = subprocess.Popen(
        procfile_web_command(port, env),
        cwd=ROOT,
        env=env,
        stdout=log_file or subprocess.DEVNULL,
        stderr=subprocess.STDOUT if log_file else subprocess.DEVNULL,
    )
    if log_file is not None:
        log_file.close()
    return AsgiServer(port, process)


def wait_until_healthy(servers: list[AsgiServer], timeout: float = 30.0) -> None:
    """Waits until every one of `servers` answers /health with 200; stops them all and
    raises RuntimeError if one exits or `timeout` seconds pass first."""
    waiting = list(servers)
    deadline = time.monotonic() + timeout
    while waiting and time.monotonic() < deadline:
        for server in list(waiting):
            if server.process.poll() is not None:
                for other in servers:
                    other.stop()
                raise RuntimeError(f"ASGI server exited with {server.process.returncode}")
            try:
                if httpx.get(f"{server.http_url}/health", timeout=1).status_code == 200:
                    waiting.remove(server)
            except httpx.HTTPError:
                pass
        if waiting:
            time.sleep(0.1)
    if waiting:
        for server in servers:
            server.stop()
        raise RuntimeError("ASGI server did not become healthy in time")


@contextmanager
def running_servers(count: int = 1, extra_env: dict[str, str] | None = None) -> Iterator[list[AsgiServer]]:
    """`count` servers (start_server's), started side by side rather than one after the
    other: each spends its start-up importing, which the others need not wait for."""
    servers: list[AsgiServer] = []
    try:
        for _ in range(count):
            servers.append(launch_server(extra_env))
        wait_until_healthy(servers, 30.0 * count)
        yield servers
    finally:
        for server in servers:
            server.stop()


class RedisServer:
    """A redis-server of a test's own on a free port, without persistence: a restart
    (`kill` then `start`) loses everything. Fault tests stop and restart it at will."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no", "--bind", "127.0.0.1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if redis.Redis(port=self.port, socket_connect_timeout=0.5).ping():
                    return
            except redis.RedisError:
                time.sleep(0.1)
        self.kill()
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


# Course members' sockets hear presence frames whenever course-mates come and go; tests
# of other apps skip them.
PRESENCE_EVENTS = frozenset({"presence-changed", "presence-batch"})


async def recv_frame(ws, *, ignore: frozenset[str] = PRESENCE_EVENTS) -> dict:
    """The next frame of a real `websockets` client, skipping `ignore` events."""
    import json

    while True:
        frame = json.loads(await ws.recv())
        if frame.get("event") not in ignore:
            return frame
