"""make run's environment (collab.embedded.run_environment), without starting anything:
the e2e test of the whole run is tests/integration/test_embedded.py."""

from __future__ import annotations

from pathlib import Path

from collab.embedded import run_environment


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
