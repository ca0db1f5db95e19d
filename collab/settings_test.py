"""Settings for the test suite: the production settings on PostgreSQL and a real Redis.

Only what a test run needs differs: plain HTTP, a fast password hasher, and defaults
that point at the local PostgreSQL and Redis (each overridable from the environment,
so parallel runs can use their own database and Redis db).
"""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/collab")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/1")
# Under pytest-xdist each worker gets its own Redis db (tests flush theirs) and database.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _worker.startswith("gw"):
    _base, _, _ = os.environ["REDIS_URL"].rpartition("/")
    os.environ["REDIS_URL"] = f"{_base}/{8 + int(_worker[2:])}"
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("THROTTLE_AUTH_RATE", "10000/min")
# Tests open and drop their databases themselves; a process-wide pool would hold them open.
os.environ.setdefault("DB_POOL", "false")
# Leases are re-taken every second in tests, so the sweep trusts a fresh test Redis after 7 s
# (collab.realtime.leases.leases_settled) rather than two minutes.
os.environ.setdefault("PRESENCE_REASSERT_INTERVAL", "1")

from collab.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The browser tests add the origin of the server they start (its console page opens the socket).
SOCKET_ALLOWED_ORIGINS = ["http://allowed.example", *env.list("TEST_EXTRA_SOCKET_ORIGINS", default=[])]  # noqa: F405

# Sockets reach the database from worker threads; closing after each use lets the test
# database be dropped at the end of the run.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405

# Fault injection for tests/realtime/test_faults_e2e.py only: the seconds a web process
# waits between the commit and the send of a frame of this event (it is killed meanwhile).
OUTBOX_SEND_DELAY = float(os.environ.get("TEST_OUTBOX_SEND_DELAY", "0"))
OUTBOX_SEND_DELAY_EVENT = os.environ.get("TEST_OUTBOX_SEND_DELAY_EVENT", "")
