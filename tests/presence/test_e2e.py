"""Presence across real processes: two ASGI server processes on PostgreSQL + Redis, one killed."""

import asyncio
import json
import time

import httpx
import pytest
import websockets
from asgiref.sync import sync_to_async

from presence.tasks import presence_sweep
from tests.conftest import access_token_for
from tests.factories import CourseFactory, EnrollmentFactory, UserFactory
from tests.servers import running_servers
from tests.sockets import receive_event

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]

OFFLINE_AFTER = 3


async def _presence_of(ws, user_id: str, status: str, wait_for: float = 10.0) -> dict:
    """The next presence frame saying `user_id` is `status` (plain or within a batch),
    returned as a plain presence-changed frame."""

    async def wait() -> dict:
        while True:
            frame = json.loads(await ws.recv())
            if frame["event"] == "presence-changed":
                items = [frame["data"]]
            elif frame["event"] == "presence-batch":
                items = frame["data"]["users"]
            else:
                continue
            for item in items:
                if item["userId"] == user_id and item["status"] == status:
                    return {"event": "presence-changed", "room": frame["room"], "data": item}

    return await asyncio.wait_for(wait(), wait_for)


async def _heartbeats(ws, every: float = 1.0) -> None:
    while True:
        await ws.send(json.dumps({"event": "presence-heartbeat", "data": {}}))
        await asyncio.sleep(every)


def _socket(url: str, token: str):
    return websockets.connect(url, additional_headers={"Authorization": f"Bearer {token}"})


async def _status_seen_by(http: httpx.AsyncClient, token: str, user_id: str) -> str:
    response = await http.get(f"/api/presence/user/{user_id}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return response.json()["status"]


async def test_killed_server_leaves_nobody_online_and_mates_on_another_server_hear_it(settings):
    # The sweep runs here, in the test process: it must use the same lease lifetime.
    settings.PRESENCE_OFFLINE_AFTER = OFFLINE_AFTER
    course = await sync_to_async(CourseFactory)()
    victim = await sync_to_async(UserFactory)()
    await sync_to_async(EnrollmentFactory)(course=course, user=victim)
    mate = course.instructor
    victim_token = await sync_to_async(access_token_for)(victim)
    mate_token = await sync_to_async(access_token_for)(mate)
    env = {"PRESENCE_OFFLINE_AFTER": str(OFFLINE_AFTER), "PRESENCE_SWEEP_INTERVAL": "1"}

    with running_servers(2, extra_env=env) as (doomed, survivor):
        async with (
            httpx.AsyncClient(base_url=survivor.http_url, timeout=10) as http,
            _socket(survivor.ws_url, mate_token) as mate_ws,
        ):
            # A live client heartbeats well within the lease's lifetime; the mate does.
            keepalive = asyncio.create_task(_heartbeats(mate_ws))
            victim_ws = await _socket(doomed.ws_url, victim_token)
            online = await _presence_of(mate_ws, str(victim.id), "online")
            assert online["room"] == f"course-{course.id}"
            assert await _status_seen_by(http, mate_token, str(victim.id)) == "online"

            # Traffic renews the lease; then the process dies without running any handler.
            await victim_ws.send(json.dumps({"event": "presence-heartbeat", "data": {}, "ref": "1"}))
            await receive_event(victim_ws, "ack")
            last_renewal = time.time()
            doomed.kill()
            assert await _status_seen_by(http, mate_token, str(victim.id)) == "online"

            # Past the lease's lifetime the API derives offline, even before any sweep.
            await asyncio.sleep(max(0.0, last_renewal + OFFLINE_AFTER + 0.5 - time.time()))
            assert await _status_seen_by(http, mate_token, str(victim.id)) == "offline"

            # One sweep (beat's task, run here on the same Redis and database) tells the
            # course-mate on the surviving server, once.
            assert await sync_to_async(presence_sweep)() == 1
            offline = await _presence_of(mate_ws, str(victim.id), "offline", wait_for=5)
            assert offline["room"] == f"course-{course.id}"
            assert offline["data"]["lastSeenAt"] is not None
            assert await sync_to_async(presence_sweep)() == 0
            with pytest.raises(asyncio.TimeoutError):
                await _presence_of(mate_ws, str(victim.id), "offline", wait_for=1)

            body = (await http.get("/api/presence/online", headers={"Authorization": f"Bearer {mate_token}"})).json()
            assert str(victim.id) not in [user["userId"] for user in body["users"]]
            victim_ws.transport.abort()  # its server is gone; nothing to close politely
            keepalive.cancel()


async def test_socket_on_one_server_and_rest_on_another_agree(settings):
    course = await sync_to_async(CourseFactory)()
    student = await sync_to_async(UserFactory)()
    await sync_to_async(EnrollmentFactory)(course=course, user=student)
    mate_token = await sync_to_async(access_token_for)(course.instructor)
    student_token = await sync_to_async(access_token_for)(student)

    with running_servers(2) as (first, second):
        async with (
            httpx.AsyncClient(base_url=second.http_url, timeout=10) as http,
            _socket(second.ws_url, mate_token) as mate_ws,
        ):
            tab1 = await _socket(first.ws_url, student_token)
            tab2 = await _socket(second.ws_url, student_token)
            await _presence_of(mate_ws, str(student.id), "online")
            await tab1.close()
            assert await _status_seen_by(http, mate_token, str(student.id)) == "online"
            with pytest.raises(asyncio.TimeoutError):
                await _presence_of(mate_ws, str(student.id), "offline", wait_for=1)
            await tab2.close()
            await _presence_of(mate_ws, str(student.id), "offline")
            assert await _status_seen_by(http, mate_token, str(student.id)) == "offline"


async def test_a_socket_closed_after_redis_restarted_goes_offline_promptly(settings):
    """A new-user pass: a socket closed ~12 s after "Redis is back" lost its lease release
    on a pooled connection the restart had killed ("Connection closed by server"), and its
    user showed online for PRESENCE_OFFLINE_AFTER. Our own redis-server, restarted here;
    a real web process; several sockets, so the process's pool holds several connections."""
    from collab.realtime import leases
    from presence.models import UserPresence
    from tests.servers import RedisServer

    course = await sync_to_async(CourseFactory)()
    users = [await sync_to_async(UserFactory)() for _ in range(6)]
    for user in users:
        await sync_to_async(EnrollmentFactory)(course=course, user=user)
    tokens = [await sync_to_async(access_token_for)(user) for user in users]
    redis_server = RedisServer()
    redis_server.start()
    settings.REDIS_URL = redis_server.url
    env = {"REDIS_URL": redis_server.url, "PRESENCE_OFFLINE_AFTER": "300", "PRESENCE_REASSERT_INTERVAL": "2"}

    def announced(user) -> str | None:
        row = UserPresence.objects.filter(user=user).values_list("announced_status", flat=True).first()
        return row

    async def until(condition, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not await sync_to_async(condition)():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.1)

    try:
        with running_servers(1, env) as (server,):
            sockets = await asyncio.gather(
                *(
                    websockets.connect(server.ws_url, additional_headers={"Authorization": f"Bearer {t}"})
                    for t in tokens
                )
            )
            try:
                await until(lambda: all(announced(user) == "online" for user in users), 20, "everyone online")
                redis_server.kill()
                redis_server.start()  # empty, same port: every pooled connection is dead
                # The process re-takes its sockets' leases once it sees Redis back.
                ids = [str(user.id) for user in users]
                await until(lambda: len(leases.live_expiries(ids)) == len(ids), 30, "leases re-taken")
                await asyncio.sleep(3)  # past a re-assert tick: the renewals cycled through the pool
                for ws in sockets[:3]:
                    await ws.close()
                # Was: online until the lease lapsed (PRESENCE_OFFLINE_AFTER, 300 s).
                await until(lambda: all(announced(user) == "offline" for user in users[:3]), 10, "closed ones offline")
                still = await sync_to_async(lambda: [announced(user) for user in users[3:]])()
                assert still == ["online"] * 3
            finally:
                for ws in sockets:
                    await ws.close()
    finally:
        redis_server.kill()
