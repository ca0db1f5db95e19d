"""A real Celery worker and beat (the Procfile's commands) on the test database and the
test Redis: every entry of beat's schedule names a task the worker has registered, and a
tick of each is seen to run in the worker."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time

import pytest

from tests.servers import ROOT
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
    assert set(schedule) == {"presence-sweep", "live-session-reminders", "live-session-auto-end", "office-hours-tick"}
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
