"""SOCKET_MAX_PER_USER: one more socket than the cap is refused (4008) before accept;
the user's open sockets are kept, and a closed one frees its place."""

from __future__ import annotations

import asyncio

import pytest

from collab.realtime.consumer import CLOSE_TOO_MANY_SOCKETS
from tests.conftest import ws_connect

pytestmark = pytest.mark.django_db(transaction=True)


async def test_one_socket_over_the_cap_is_refused_and_the_open_ones_stay(student, other_student, settings):
    settings.SOCKET_MAX_PER_USER = 3
    sockets = [await ws_connect(student) for _ in range(3)]
    try:
        extra = await ws_connect(student, connect=False)
        connected, code = await extra.connect(timeout=5)
        assert not connected and code == CLOSE_TOO_MANY_SOCKETS
        for socket in sockets:
            await socket.send_json_to({"event": "no-such-event", "ref": "1"})
            assert (await socket.receive_json_from(timeout=5))["ref"] == "1"
        # Another user has a budget of their own.
        theirs = await ws_connect(other_student)
        await theirs.disconnect()
        # Closing one frees its place.
        await sockets.pop().disconnect()
        sockets.append(await ws_connect(student))
    finally:
        for socket in sockets:
            await socket.disconnect()


async def test_sockets_opened_at_once_never_exceed_the_cap(student, settings):
    settings.SOCKET_MAX_PER_USER = 4
    communicators = [await ws_connect(student, connect=False) for _ in range(12)]
    try:
        results = await asyncio.gather(*(c.connect(timeout=10) for c in communicators))
        assert sum(1 for connected, _ in results if connected) == 4
        assert {code for connected, code in results if not connected} == {CLOSE_TOO_MANY_SOCKETS}
    finally:
        for communicator in communicators:
            await communicator.disconnect()


async def test_the_supervisor_renews_every_open_sockets_lease_in_one_go(student):
    """The leases are renewed per process (a supervisor hook), not by a timer per socket:
    after the renewal each open socket's lease lapses SOCKET_LEASE_SECONDS from now."""
    import time

    from collab.core.redis_client import async_redis
    from collab.realtime import caps, supervisor

    sockets = [await ws_connect(student) for _ in range(2)]
    try:
        key = caps._key(student.id)
        before = dict(await async_redis().zrange(key, 0, -1, withscores=True))
        assert len(before) == 2
        await asyncio.sleep(0.05)
        opened = [socket for socket in supervisor.open_sockets() if getattr(socket, "user", None) == student]
        assert len(opened) == 2
        await caps.socket_leases_renew(opened)
        after = dict(await async_redis().zrange(key, 0, -1, withscores=True))
        assert set(after) == set(before)
        assert all(after[member] > before[member] for member in after)
        assert all(abs(after[member] - (time.time() + caps.SOCKET_LEASE_SECONDS)) < 5 for member in after)
    finally:
        for socket in sockets:
            await socket.disconnect()


@pytest.mark.parametrize("failure", ["redis_down", "crash"])
async def test_a_handshake_refused_after_taking_its_lease_gives_it_back(student, settings, monkeypatch, failure):
    """The lease is taken before the socket subscribes to its rooms: a handshake that ends
    there (1013 when Redis drops meanwhile, or a handshake that crashes) must give it
    back, not leave it to lapse after SOCKET_LEASE_SECONDS: with a cap of 1 the user
    could not connect again for a minute and a half."""
    import redis

    from collab.core.redis_client import async_redis
    from collab.realtime import caps
    from collab.realtime.consumer import CLOSE_TRY_AGAIN, CollabConsumer

    settings.SOCKET_MAX_PER_USER = 1
    real_join_rooms = CollabConsumer.join_rooms

    async def failing_join_rooms(self, rooms):
        if failure == "redis_down":
            raise redis.exceptions.ConnectionError("Redis went away")
        raise RuntimeError("a handshake bug")

    monkeypatch.setattr(CollabConsumer, "join_rooms", failing_join_rooms)
    refused = await ws_connect(student, connect=False)
    if failure == "redis_down":
        assert await refused.connect(timeout=10) == (False, CLOSE_TRY_AGAIN)
        await refused.wait(timeout=5)
    else:
        # The application ends with the error (a server closes the handshake).
        with pytest.raises(RuntimeError):
            await refused.connect(timeout=2)
            await refused.wait(timeout=5)
    assert await async_redis().zrange(caps._key(student.id), 0, -1) == []

    monkeypatch.setattr(CollabConsumer, "join_rooms", real_join_rooms)
    again = await ws_connect(student)
    await again.disconnect()
