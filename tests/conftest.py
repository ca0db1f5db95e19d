"""Shared fixtures: users in every role, a course, authenticated REST clients, sockets.

The suite runs on a real Redis and twice over (scripts/test.sh): on PostgreSQL, and on
SQLite, the embedded default `make run` uses (collab.settings_test). Tests that use
sockets or threads need `@pytest.mark.django_db(transaction=True)`: the consumer reads
the database from other threads, which only see committed rows. Tests that need what
only PostgreSQL has (row locks under real concurrency) carry
`@pytest.mark.postgres_only(reason=...)` and are skipped on SQLite with that reason.
"""

from __future__ import annotations

import asyncio
import json
import os

import pytest
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from collab.asgi import application
from collab.core.redis_client import sync_redis
from tests.factories import AdminFactory, CourseFactory, EnrollmentFactory, InstructorFactory, UserFactory

# pytester: tests/core/test_suite_guards.py runs small suites of its own.
pytest_plugins = ["pytester"]


def _database_vendor() -> str:
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    return {"sqlite3": "sqlite"}.get(engine, engine)


def pytest_report_header(config):
    database = settings.DATABASES["default"]["NAME"]
    return f"collab: database {_database_vendor()} ({database}), redis {settings.REDIS_URL}"


def pytest_collection_modifyitems(config, items):
    """`postgres_only` tests are skipped, with the reason their marker gives, on any other
    database. Under pytest-xdist the long tests (`e2e`, `browser`, `slow`) are handed out
    first, so the short ones fill in at the end and the workers finish together instead
    of one running a long test alone at the end (scripts/test.sh: `--dist load` hands
    tests out in this order)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=lambda item: not any(item.get_closest_marker(name) for name in ("e2e", "browser", "slow")))
    vendor = _database_vendor()
    for item in items:
        marker = item.get_closest_marker("postgres_only")
        if marker is None:
            continue
        reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")
        if not reason:
            raise pytest.UsageError(f"{item.nodeid}: postgres_only needs reason=... (why SQLite cannot run it)")
        if vendor != "postgresql":
            item.add_marker(pytest.mark.skip(reason=f"PostgreSQL only: {reason}"))


# Under pytest-xdist: how many tests the workers collected, to check that as many ran.
_xdist_collected: dict[str, int] = {}


def pytest_xdist_node_collection_finished(node, ids):
    _xdist_collected["tests"] = len(ids)


def pytest_sessionfinish(session, exitstatus):
    """Fails the run when fewer tests reported than the workers collected: under
    `--dist loadgroup` (and loadfile) schemathesis ran one operation of 64 per test and
    pytest reported 2 passed instead of 128, green (scripts/test.sh)."""
    collected = _xdist_collected.get("tests")
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if collected is None or reporter is None or session.shouldfail or session.shouldstop:
        return
    outcomes = ("passed", "failed", "skipped", "xfailed", "xpassed")
    reported = sum(1 for outcome in outcomes for report in reporter.stats.get(outcome, []) if report.when != "teardown")
    if reported < collected:
        reporter.write_line(f"only {reported} of {collected} collected tests reported a result", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test database, checked to be on the vendor this pass claims
    (COLLAB_TEST_DB_VENDOR, set by scripts/test.sh). At the end, connections that async
    tests and socket threads left open are ended, so the database can be dropped."""
    expected = os.environ.get("COLLAB_TEST_DB_VENDOR")
    with django_db_blocker.unblock():
        assert connection.vendor == _database_vendor()
        if expected:
            assert connection.vendor == expected, f"this pass claims {expected} but runs on {connection.vendor}"
    yield
    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "select pg_terminate_backend(pid) from pg_stat_activity"
                    " where datname = current_database() and pid <> pg_backend_pid()"
                )
        connection.close()


# Set in the Redis db the suite uses: a db holding keys but not this key belongs to someone
# else (a `make run`, another suite's data) and is never flushed.
REDIS_OWNER_KEY = "collab-test-suite:owned"
_redis_checked = False


@pytest.fixture(autouse=True)
def _clean_redis():
    """Each test starts with an empty Redis db (tickets, cache, leases, channel layer).
    Refuses to flush a non-empty db the suite did not fill itself."""
    global _redis_checked
    client = sync_redis()
    if not _redis_checked:
        if client.dbsize() and not client.exists(REDIS_OWNER_KEY):
            pytest.exit(
                f"refusing to flush {settings.REDIS_URL}: it holds keys the test suite did not write "
                "(point TEST_REDIS_URL at an empty Redis db, or let scripts/test.sh start its own)",
                returncode=3,
            )
        _redis_checked = True
    client.flushdb()
    client.set(REDIS_OWNER_KEY, "1")
    yield


@pytest.fixture(autouse=True)
def _no_supervisor(settings):
    """In-process tests drive the relay and catch-up themselves (tests/realtime); the
    supervisor runs in the real server processes of the end-to-end tests."""
    settings.REALTIME_SUPERVISOR = False


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """A new channel-layer instance per test: channels_redis keeps asyncio locks bound to
    the event loop that created them, and every async test has its own loop."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture
def student(db):
    return UserFactory()


@pytest.fixture
def other_student(db):
    return UserFactory()


@pytest.fixture
def instructor(db):
    return InstructorFactory()


@pytest.fixture
def other_instructor(db):
    return InstructorFactory()


@pytest.fixture
def admin_user(db):
    return AdminFactory()


@pytest.fixture
def course(db, instructor, student):
    """A course taught by `instructor` with `student` enrolled."""
    course = CourseFactory(instructor=instructor)
    EnrollmentFactory(course=course, user=student)
    return course


@pytest.fixture
def staff_client(admin_user):
    """A Django test client logged in as an admin (the Django admin's pages)."""
    client = Client()
    client.force_login(admin_user)
    return client


def access_token_for(user) -> str:
    return str(RefreshToken.for_user(user).access_token)


def client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token_for(user)}")
    return client


@pytest.fixture
def api():
    """`api(user)` is a REST client authenticated as `user` (None: anonymous)."""
    return client_for


# Every socket of a course member hears presence frames when course-mates connect. Tests
# of other apps are not about presence: their sockets skip these frames (the presence
# tests switch this off in tests/presence/conftest.py).
PRESENCE_EVENTS = frozenset({"presence-changed", "presence-batch"})
IGNORED_BY_DEFAULT = PRESENCE_EVENTS


class AppCommunicator(WebsocketCommunicator):
    """WebsocketCommunicator that skips `ignore_events` frames and waits longer by
    default (a loaded CI machine is slower than a second)."""

    def __init__(self, *args, ignore_events: frozenset[str] = frozenset(), **kwargs):
        super().__init__(*args, **kwargs)
        self.ignore_events = ignore_events

    def _ignored(self, message: dict) -> bool:
        if not self.ignore_events or message.get("type") != "websocket.send" or not message.get("text"):
            return False
        try:
            return json.loads(message["text"]).get("event") in self.ignore_events
        except ValueError:
            return False

    async def receive_output(self, timeout=5):
        while True:
            message = await super().receive_output(timeout)
            if not self._ignored(message):
                return message

    async def receive_from(self, timeout=5):
        return await super().receive_from(timeout)

    async def receive_json_from(self, timeout=5):
        return await super().receive_json_from(timeout)

    async def receive_nothing(self, timeout=0.1, interval=0.01):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if await super().receive_nothing(max(remaining, 0), interval):
                return True
            message = self.output_queue.get_nowait()
            if not self._ignored(message):
                # Put it back first in line: the test may read it next.
                self.output_queue._queue.appendleft(message)
                return False


async def handshake_settled(*users) -> None:
    """Waits until the sockets of `users` in this process have finished what their
    handshake started behind the accept (the re-read of their rooms' seqs and a catch-up
    of a room that moved, S19): a test that then writes frames knows they reach the
    sockets live, not through that catch-up."""
    import asyncio

    from collab.realtime import supervisor

    sockets = [s for s in supervisor.open_sockets() if getattr(s, "user", None) in users]
    for _ in range(1000):
        if not any(task is not s._layer_reader for s in sockets for task in s._helpers):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the handshakes' catch-up did not finish within 10 s")


async def ws_connect(
    user=None,
    *,
    headers: list | None = None,
    path: str = "/ws/",
    connect: bool = True,
    ignore_events: frozenset[str] | None = None,
):
    """A communicator on the real ASGI app, authenticated as `user` by bearer header.
    Returns it after a successful connect (asserted). Presence frames are skipped unless
    `ignore_events` says otherwise."""
    from channels.db import database_sync_to_async

    all_headers = list(headers or [])
    if user is not None:
        token = await database_sync_to_async(access_token_for)(user)
        all_headers.append((b"authorization", f"Bearer {token}".encode()))
    if ignore_events is None:
        ignore_events = IGNORED_BY_DEFAULT
    communicator = AppCommunicator(application, path, headers=all_headers, ignore_events=ignore_events)
    if connect:
        connected, code = await communicator.connect(timeout=5)
        assert connected, f"socket refused with {code}"
    return communicator


@pytest.fixture
def socket():
    return ws_connect


@pytest.fixture
def channel_layer():
    return get_channel_layer()


@pytest.fixture
def settings_redis_url():
    return settings.REDIS_URL


__all__ = ["access_token_for", "client_for", "ws_connect"]
_ = (InstructorFactory, UserFactory, AdminFactory, CourseFactory, EnrollmentFactory)
