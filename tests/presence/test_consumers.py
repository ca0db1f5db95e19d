"""Presence over real sockets (the ASGI app, PostgreSQL, Redis)."""

import asyncio

import pytest
from asgiref.sync import sync_to_async

from collab.realtime import leases
from presence.models import UserPresence
from tests.conftest import client_for, ws_connect
from tests.presence.helpers import presence_frames
from tests.sockets import drain, receive_event

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _short_window(settings):
    """Coalescing stays on, with a window shorter than the helpers' quiet time."""
    settings.PRESENCE_BROADCAST_WINDOW = 0.15


async def _get(viewer, path: str):
    return await sync_to_async(lambda: client_for(viewer).get(path))()


async def test_connect_takes_a_lease_and_announces_online_to_course_mates(course, student, instructor):
    mate = await ws_connect(instructor)
    await drain(mate)
    tab = await ws_connect(student)
    frame = await receive_event(mate, "presence-changed")
    assert frame["room"] == f"course-{course.id}"
    assert frame["data"]["userId"] == str(student.id)
    assert frame["data"]["status"] == "online"
    assert frame["data"]["activity"] == ""
    assert frame["data"]["lastSeenAt"] is not None
    assert frame["data"]["name"] == student.name
    assert set(frame["data"]) == {"userId", "name", "status", "activity", "lastSeenAt"}
    assert await sync_to_async(leases.is_live)(student.id)
    await tab.disconnect()
    await mate.disconnect()


async def test_multi_tab_second_tab_and_closing_one_send_nothing_last_close_sends_once(course, student, instructor):
    mate = await ws_connect(instructor)
    await drain(mate)
    tab1 = await ws_connect(student)
    assert (await receive_event(mate, "presence-changed"))["data"]["status"] == "online"
    await drain(tab1)

    tab2 = await ws_connect(student)
    assert await mate.receive_nothing(timeout=0.5)
    assert await tab1.receive_nothing(timeout=0.1)

    await tab2.disconnect()
    assert await mate.receive_nothing(timeout=0.5)
    response = await _get(instructor, f"/api/presence/user/{student.id}")
    assert response.json()["status"] == "online"

    await tab1.disconnect()
    frames = presence_frames(await drain(mate, quiet=0.6))
    assert len(frames) == 1
    assert frames[0]["data"]["userId"] == str(student.id)
    assert frames[0]["data"]["status"] == "offline"
    response = await _get(instructor, f"/api/presence/user/{student.id}")
    assert response.json()["status"] == "offline"
    row = await UserPresence.objects.aget(user=student)
    assert row.announced_status == "offline"
    await mate.disconnect()


async def test_invisible_user_appears_offline_to_mates_but_connected_to_themselves(course, student, instructor):
    mate = await ws_connect(instructor)
    await drain(mate)
    tab = await ws_connect(student)
    await receive_event(mate, "presence-changed")
    await drain(tab)

    invisible = {"status": "offline", "activity": "secret"}
    await tab.send_json_to({"event": "update-presence", "data": invisible, "ref": "1"})
    frames = await drain(tab)
    ack = next(frame for frame in frames if frame["event"] == "ack")
    assert ack["ref"] == "1"
    assert ack["data"]["status"] == "offline"
    assert ack["data"]["connected"] is True
    assert ack["data"]["activity"] == "secret"
    # The user's own room hears their real choice.
    own = [f for f in presence_frames(frames, student.id) if f["room"] == f"user-{student.id}"]
    assert own and own[-1]["data"]["status"] == "offline" and own[-1]["data"]["connected"] is True

    seen = presence_frames(await drain(mate), student.id)
    assert len(seen) == 1
    assert seen[0]["data"] == {
        "userId": str(student.id),
        "name": student.name,
        "status": "offline",
        "activity": "",
        "lastSeenAt": seen[0]["data"]["lastSeenAt"],
    }

    as_mate = (await _get(instructor, f"/api/presence/user/{student.id}")).json()
    assert as_mate["status"] == "offline"
    assert as_mate["activity"] == ""
    assert "connected" not in as_mate
    as_self = (await _get(student, f"/api/presence/user/{student.id}")).json()
    assert as_self["status"] == "offline"
    assert as_self["connected"] is True
    assert as_self["activity"] == "secret"
    online = (await _get(instructor, "/api/presence/online")).json()
    assert str(student.id) not in [user["userId"] for user in online["users"]]
    in_course = (await _get(instructor, f"/api/presence/course/{course.id}")).json()
    assert str(student.id) not in [user["userId"] for user in in_course["users"]]

    # While invisible: a second tab, activity changes and leaving show nothing to mates.
    tab2 = await ws_connect(student)
    await tab2.send_json_to({"event": "update-activity", "data": {"activity": "still secret"}, "ref": "2"})
    await drain(tab2)
    await tab2.disconnect()
    await tab.disconnect()
    assert presence_frames(await drain(mate, quiet=0.6), student.id) == []
    await mate.disconnect()


async def test_coming_back_from_invisible_is_announced(course, student, instructor):
    mate = await ws_connect(instructor)
    tab = await ws_connect(student)
    await tab.send_json_to({"event": "update-presence", "data": {"status": "offline"}})
    await drain(tab)
    await drain(mate)
    await tab.send_json_to({"event": "update-presence", "data": {"status": "busy", "activity": "Quiz 3"}})
    frame = await receive_event(mate, "presence-changed")
    assert frame["data"]["status"] == "busy"
    assert frame["data"]["activity"] == "Quiz 3"
    await tab.disconnect()
    await mate.disconnect()


async def test_stranger_socket_receives_nothing(course, student, other_student, admin_user):
    stranger = await ws_connect(other_student)
    await drain(stranger)
    tab = await ws_connect(student)
    await tab.send_json_to({"event": "update-presence", "data": {"status": "away", "activity": "Reading"}})
    await tab.send_json_to({"event": "update-activity", "data": {"activity": "Writing"}})
    await drain(tab)
    await tab.disconnect()
    assert await stranger.receive_nothing(timeout=0.5)
    await stranger.disconnect()


async def test_activity_change_reaches_mates_and_own_other_tabs(course, student, instructor):
    mate = await ws_connect(instructor)
    tab1 = await ws_connect(student)
    tab2 = await ws_connect(student)
    await drain(mate)
    await drain(tab1)
    await drain(tab2)
    await tab1.send_json_to({"event": "update-activity", "data": {"activity": "Viewing Course: JavaScript"}, "ref": 7})
    to_mate = await receive_event(mate, "presence-changed")
    assert to_mate["data"]["activity"] == "Viewing Course: JavaScript"
    other_tab = [f for f in presence_frames(await drain(tab2)) if f["room"] == f"user-{student.id}"]
    assert len(other_tab) == 1 and other_tab[0]["data"]["activity"] == "Viewing Course: JavaScript"
    # The same activity again changes nothing anyone sees.
    await tab1.send_json_to({"event": "update-activity", "data": {"activity": "Viewing Course: JavaScript"}})
    assert presence_frames(await drain(mate)) == []
    for comm in (tab1, tab2, mate):
        await comm.disconnect()


async def test_presence_heartbeat_acks_and_renews_the_lease(course, student):
    tab = await ws_connect(student)
    await drain(tab)
    before = (await sync_to_async(leases.live_expiries)([student.id]))[str(student.id)]
    await tab.send_json_to({"event": "presence-heartbeat", "data": {}, "ref": "hb"})
    ack = await receive_event(tab, "ack")
    assert ack == {"event": "ack", "ref": "hb", "data": {"expiresIn": 300}}
    after = (await sync_to_async(leases.live_expiries)([student.id]))[str(student.id)]
    assert after >= before
    await tab.disconnect()
    assert not await sync_to_async(leases.is_live)(student.id)


@pytest.mark.parametrize(
    ("event", "data", "field"),
    [
        ("update-presence", {"status": "sleeping"}, "status"),
        ("update-presence", {}, "status"),
        ("update-presence", {"status": "away", "activity": "x" * 201}, "activity"),
        ("update-activity", {"activity": "x" * 201}, "activity"),
        ("update-activity", {}, "activity"),
    ],
)
async def test_bad_socket_input_is_an_error_frame_with_fields(course, student, event, data, field):
    tab = await ws_connect(student)
    await drain(tab)
    await tab.send_json_to({"event": event, "data": data, "ref": "e"})
    error = await receive_event(tab, "error")
    assert error["ref"] == "e"
    assert error["data"]["code"] == "invalid"
    assert field in error["data"]["fields"]
    # The socket stays open and usable.
    await tab.send_json_to({"event": "presence-heartbeat", "data": {}, "ref": "ok"})
    assert (await receive_event(tab, "ack"))["ref"] == "ok"
    await tab.disconnect()


async def test_traffic_renews_the_lease_coalesced(course, student, settings):
    settings.PRESENCE_OFFLINE_AFTER = 8  # renew_after() = 2 s: room for a slow machine
    tab = await ws_connect(student)
    await drain(tab)
    first = (await sync_to_async(leases.live_expiries)([student.id]))[str(student.id)]
    # Any accepted frame is traffic, even one its handler refuses; within the
    # coalescing window it does not touch Redis.
    await tab.send_json_to({"event": "update-activity", "data": {}})
    await receive_event(tab, "error")
    assert (await sync_to_async(leases.live_expiries)([student.id]))[str(student.id)] == first
    await tab.receive_nothing(timeout=2.2)
    await tab.send_json_to({"event": "update-activity", "data": {}})
    await receive_event(tab, "error")
    assert (await sync_to_async(leases.live_expiries)([student.id]))[str(student.id)] > first
    await tab.disconnect()


async def test_socket_heartbeats_write_last_seen_at_most_once_per_interval(course, student):
    tab = await ws_connect(student)
    await drain(tab)
    first = (await UserPresence.objects.aget(user=student)).last_seen_at
    assert first is not None
    for n in range(20):
        await tab.send_json_to({"event": "presence-heartbeat", "data": {}, "ref": str(n)})
        await receive_event(tab, "ack")
    assert (await UserPresence.objects.aget(user=student)).last_seen_at == first
    # Once the interval has passed (its Redis slot expired), the next heartbeat writes.
    await sync_to_async(leases.sync_redis().delete)(leases.seen_key(student.id))
    await tab.send_json_to({"event": "presence-heartbeat", "data": {}, "ref": "late"})
    await receive_event(tab, "ack")
    assert (await UserPresence.objects.aget(user=student)).last_seen_at > first
    await tab.disconnect()


@pytest.mark.parametrize("reconnects", [False, True], ids=["gone", "back"])
async def test_a_socket_closed_before_its_first_lease_sync_ran_leaves_the_truth(
    course, student, instructor, reconnects
):
    """The first-lease sync runs behind the handshake: a socket that closes at once (and,
    maybe, a new one of the same user) races it. Whatever order the syncs run in, mates
    end up told what is true, and the row says what they were told."""
    from presence.consumers import _background

    mate = await ws_connect(instructor)
    await drain(mate)
    for _ in range(3):
        tab = await ws_connect(student)
        await tab.disconnect()
    last = await ws_connect(student) if reconnects else None
    while _background:
        await asyncio.gather(*list(_background), return_exceptions=True)
    frames = presence_frames(await drain(mate, quiet=0.6), student.id)
    expected = "online" if reconnects else "offline"
    if frames or reconnects:
        assert frames[-1]["data"]["status"] == expected
    row = await UserPresence.objects.aget(user=student)
    assert row.announced_status == expected
    response = await _get(instructor, f"/api/presence/user/{student.id}")
    assert response.json()["status"] == expected
    if last is not None:
        await last.disconnect()
    await mate.disconnect()
