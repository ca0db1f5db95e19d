"""Shared fixtures: users in every role, a course, authenticated REST clients, sockets.

The suite runs on PostgreSQL and a real Redis (collab.settings_test). Tests that use
sockets or threads need `@pytest.mark.django_db(transaction=True)`: the consumer reads
the database from other threads, which only see committed rows.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from collab.asgi import application
from collab.core.redis_client import sync_redis
from tests.factories import AdminFactory, CourseFactory, EnrollmentFactory, InstructorFactory, UserFactory


@pytest.fixture(autouse=True)
def _clean_redis():
    """Each test starts with an empty Redis db (tickets, cache, leases, channel layer)."""
    sync_redis().flushdb()
    yield


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
