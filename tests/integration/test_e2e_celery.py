"""A real Celery worker and beat (the Procfile's commands) on the test database and the
test Redis: every entry of beat's schedule names a task the worker has registered, and a
tick of each is seen to run in the worker. A task whose worker is killed with SIGKILL
mid-run is run again (issue 13): at once when the pool process running it dies, by
another worker after the broker's visibility timeout when the whole worker dies."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from celery import Celery

from tests.servers import ROOT, RedisServer, server_environ
from tests.servers import test_database_url as database_url_of_the_test_run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


def procfile_command(name: str) -> list[str]:
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith(f"{name}:"))
    program, *args = shlex.split(line.removeprefix(f"{name}:").replace("${CELERY_CONCURRENCY:-2}", "1"))
    return [sys.executable, "-m", program, *args]


def beat_schedule() -> dict:
    from collab.celery import app

    return dict(app.conf.beat_schedule)


def test_every_beat_entry_names_a_registered_task():
    from collab.celery import app

    app.loader.import_default_modules()
    schedule = beat_schedule()
    assert set(schedule) == {
        "presence-sweep",
        "live-session-reminders",
        "live-session-auto-end",
        "office-hours-tick",
        "outbox-prune",
    }
    unknown = {name: entry["task"] for name, entry in schedule.items() if entry["task"] not in app.tasks}
    assert not unknown, f"beat would send tasks no worker knows: {unknown}"


def test_a_real_worker_and_beat_run_a_tick_of_every_entry(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "collab.settings_test",
        "DATABASE_URL": database_url_of_the_test_run(),
        "DB_CONN_MAX_AGE": "0",
        "PYTHONUNBUFFERED": "1",
        "CELERY_BEAT_SCHEDULE_FILENAME": str(tmp_path / "celerybeat-schedule"),
        # Every entry due each second, so a tick of each comes soon.
        "PRESENCE_SWEEP_INTERVAL": "1",
        "LIVE_SESSION_TICK_SECONDS": "1",
        "OFFICE_HOURS_TICK_SECONDS": "1",
        "OUTBOX_PRUNE_INTERVAL": "1",
    }
    tasks = {entry["task"] for entry in beat_schedule().values()}
    logs = {name: tmp_path / f"{name}.log" for name in ("worker", "beat")}
    processes = {
        name: subprocess.Popen(
            procfile_command(name), cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
        )
        for name, log in logs.items()
    }
    try:
        deadline = time.monotonic() + 180
        ran: set[str] = set()
        while time.monotonic() < deadline and ran != tasks:
            for name, process in processes.items():
                assert process.poll() is None, f"{name} exited with {process.returncode}:\n{logs[name].read_text()}"
            worker_log = logs["worker"].read_text(errors="replace")
            ran = {task for task in tasks if re.search(rf"Task {re.escape(task)}\[[^\]]+\] succeeded", worker_log)}
            time.sleep(0.5)
        worker_log = logs["worker"].read_text(errors="replace")
        assert ran == tasks, f"never seen succeeding: {tasks - ran}\n{worker_log}\n{logs['beat'].read_text()}"
        # The worker lists what it registered at start-up; beat's entries are all there.
        registered = set(re.findall(r"^\s+\. (\S+)$", worker_log, re.MULTILINE))
        assert tasks <= registered, registered
        assert "raised unexpected" not in worker_log, worker_log
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


# -- a worker killed mid-task ------------------------------------------------------------


def start_probe_worker(broker_url: str, log: Path) -> subprocess.Popen:
    """The Procfile's worker command on the probe app (collab's app plus the `hold` task),
    one pool process, in a process group of its own (so the whole worker can be killed)."""
    command = procfile_command("worker")
    command[command.index("collab")] = "tests.integration.celery_probe"
    env = {
        **server_environ(),
        "DJANGO_SETTINGS_MODULE": "collab.settings_test",
        "DATABASE_URL": database_url_of_the_test_run(),
        "DB_CONN_MAX_AGE": "0",
        "PYTHONUNBUFFERED": "1",
        "REDIS_URL": broker_url,
        "CELERY_BROKER_URL": broker_url,
        # A dead worker's unacknowledged task goes to another worker after this long.
        "CELERY_VISIBILITY_TIMEOUT": "4",
        "CELERY_UNACKED_RESTORE_INTERVAL": "1",
    }
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True
    )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        with_group = os.getpgid(process.pid)
        os.killpg(with_group, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(with_group, signal.SIGKILL)
            process.wait(timeout=10)


def wait_until(condition, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{log.read_text(errors='replace')}")
        time.sleep(0.2)


@pytest.fixture
def broker():
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.kill()


def send_hold(broker_url: str) -> str:
    key = f"probe-{uuid.uuid4()}"
    client = Celery("probe-client", broker=broker_url)
    try:
        client.send_task("tests.integration.celery_probe.hold", args=[key])
    finally:
        client.close()
    return key


def test_a_task_whose_pool_process_is_killed_is_run_again_at_once(broker, tmp_path):
    log = tmp_path / "worker.log"
    client = redis.Redis.from_url(broker.url)
    worker = start_probe_worker(broker.url, log)
    try:
        key = send_hold(broker.url)
        wait_until(lambda: client.llen(f"{key}:runs") == 1, 120, "the first run", log)
        child = int(client.lindex(f"{key}:runs", 0))
        assert child != worker.pid  # the pool process, not the worker itself
        os.kill(child, signal.SIGKILL)
        wait_until(lambda: client.llen(f"{key}:runs") == 2, 60, "the task run again", log)
        assert int(client.lindex(f"{key}:runs", 1)) != child
        client.set(f"{key}:release", 1)
        wait_until(lambda: client.llen(f"{key}:done") == 1, 60, "the second run to finish", log)
        time.sleep(1)
        assert client.llen(f"{key}:runs") == 2  # run again once, not more
    finally:
        stop(worker)


def test_a_task_whose_whole_worker_is_killed_is_run_by_another_worker(broker, tmp_path):
    log = tmp_path / "worker.log"
    client = redis.Redis.from_url(broker.url)
    doomed = start_probe_worker(broker.url, tmp_path / "doomed.log")
    other = None
    try:
        key = send_hold(broker.url)
        wait_until(lambda: client.llen(f"{key}:runs") == 1, 120, "the first run", tmp_path / "doomed.log")
        os.killpg(os.getpgid(doomed.pid), signal.SIGKILL)  # the worker and its pool, no goodbye
        doomed.wait(timeout=10)
        other = start_probe_worker(broker.url, log)
        wait_until(lambda: client.llen(f"{key}:runs") == 2, 120, "another worker to run it", log)
        client.set(f"{key}:release", 1)
        wait_until(lambda: client.llen(f"{key}:done") == 1, 60, "the second run to finish", log)
    finally:
        stop(doomed)
        if other is not None:
            stop(other)
