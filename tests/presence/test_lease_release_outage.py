"""A socket closed just after Redis came back, or while it is away, still takes its
user offline promptly, not when the lease lapses (PRESENCE_OFFLINE_AFTER). Our own
redis-server, stopped and restarted here; the real socket hooks, database and Redis."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from asgiref.sync import sync_to_async

from collab.realtime import leases
from collab.realtime.testing import capture_broadcasts
from presence import consumers
from presence.models import UserPresence
from tests.factories import CourseFactory, EnrollmentFactory, UserFactory
from tests.servers import RedisServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("uncoalesced")]


@pytest.fixture
def own_redis(settings):
    server = RedisServer()
    server.start()
    settings.REDIS_URL = server.url
    pending = getattr(consumers, "_unreleased", {})
    pending.clear()
    try:
        yield server
    finally:
        pending.clear()
        server.kill()


def _member():
    user = UserFactory()
    EnrollmentFactory(course=CourseFactory(), user=user)
    return user


async def _connect(user) -> SimpleNamespace:
    """A socket's presence as the connect hook leaves it: lease taken, user announced."""
    socket = SimpleNamespace(user=user, state={})
    await consumers.presence_take_lease(socket)
    await asyncio.gather(*consumers._background)
    assert await _announced(user) == "online"
    return socket


async def _announced(user) -> str:
    return await sync_to_async(lambda: UserPresence.objects.get(user=user).announced_status)()


def _offline_said(sent, user) -> bool:
    return (str(user.id), "offline") in [(i.data["userId"], i.data["status"]) for i in sent.named("presence-changed")]


async def test_a_socket_closed_after_a_restart_goes_offline_on_a_stale_pooled_connection(own_redis):
    user = await sync_to_async(_member)()
    socket = await _connect(user)  # the async pool now holds a connection to this Redis
    own_redis.kill()
    own_redis.start()  # same port, empty: the pooled connection is dead and does not know it
    # The re-assert re-took the lease (here through the other, synchronous client).
    await sync_to_async(leases.lease_touch)(user_id=user.id, lease_id=socket.state[consumers.STATE_LEASE])

    with capture_broadcasts() as sent:
        await consumers.presence_release_lease(socket)  # was: "Connection closed by server"

    assert await _announced(user) == "offline"
    assert _offline_said(sent, user)
    assert consumers._unreleased == {}
    assert not await sync_to_async(leases.is_live)(user.id)


async def test_a_release_that_fails_while_redis_is_away_is_retried_when_it_is_back(own_redis):
    user = await sync_to_async(_member)()
    socket = await _connect(user)
    own_redis.kill()

    with capture_broadcasts() as sent:
        await consumers.presence_release_lease(socket)  # no exception out of the hook
    assert [user_id for user_id, _ in consumers._unreleased] == [user.id]
    assert await _announced(user) == "online"
    # Still away: the re-assert's retry keeps it for later.
    await consumers.presence_reassert_leases([])
    assert len(consumers._unreleased) == 1

    own_redis.start()  # back, empty: the lease is gone, the row still says online
    with capture_broadcasts() as sent:
        await consumers.presence_reassert_leases([])  # what the supervisor runs when Redis is back

    assert consumers._unreleased == {}
    assert await _announced(user) == "offline"
    assert _offline_said(sent, user)


async def test_a_release_of_a_lease_redis_lost_still_reconciles_the_user(own_redis):
    user = await sync_to_async(_member)()
    socket = await _connect(user)
    own_redis.kill()
    own_redis.start()  # the lease is lost; nobody re-took it yet

    with capture_broadcasts() as sent:
        await consumers.presence_release_lease(socket)

    assert await _announced(user) == "offline"  # was: online until the sweep
    assert _offline_said(sent, user)
