"""Seats held by sockets of a dead server process are freed once the user's presence
leases lapse (services.attendance_release_lapsed, run after every presence sweep).

In-process a dead process is simulated by its traces: the socket stays on the
attendance row, and the user's presence leases lapse (a short PRESENCE_OFFLINE_AFTER
and a wait) or are gone from Redis (what a lapse leaves once swept)."""

from __future__ import annotations

import asyncio
import contextlib
import time

import httpx
import pytest
import websockets
from channels.db import database_sync_to_async

from collab.core.errors import Conflict
from collab.realtime import leases
from collab.realtime.testing import capture_broadcasts
from liveSessions import services
from liveSessions.models import AttendanceInterval, LeaveReason, SessionAttendance, SessionStatus
from presence.tasks import presence_sweep
from tests.concurrency import run_at_once
from tests.conftest import access_token_for, ws_connect
from tests.factories import CourseFactory, EnrollmentFactory, UserFactory
from tests.liveSessions.factories import live_session
from tests.servers import running_servers
from tests.sockets import request

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async


async def socket_join(user, session):
    """A connected socket of `user` inside the session (its channel on the row)."""
    comm = await ws_connect(user)
    ack = await request(comm, "join-live-session", {"sessionId": str(session.id)})
    assert ack["event"] == "ack", ack
    return comm


def attendance(session, user) -> SessionAttendance:
    return SessionAttendance.objects.get(session=session, user=user)


def reasons(session, user) -> list[str]:
    return list(
        AttendanceInterval.objects.filter(attendance__session=session, attendance__user=user)
        .order_by("joined_at")
        .values_list("left_reason", flat=True)
    )


def lapse(user) -> None:
    """What a killed process leaves once its leases lapsed and were swept: none."""
    leases.leases_drop_all(user_id=user.id)
    assert not leases.is_live(user.id)


@pytest.fixture
def mate(course):
    user = UserFactory()
    EnrollmentFactory(course=course, user=user)
    return user


@pytest.fixture
def one_seat(course):
    return live_session(course, status=SessionStatus.LIVE, capacity=1)


async def test_a_lapsed_socket_frees_the_last_seat_once(settings, one_seat, student, mate):
    settings.PRESENCE_OFFLINE_AFTER = 1
    comm = await socket_join(student, one_seat)
    try:
        with pytest.raises(Conflict) as full:
            await db(services.attendance_join)(actor=mate, session_id=one_seat.id)
        assert full.value.code == "session_full"

        # No traffic for longer than the lease's lifetime: the lease lapses by itself.
        await asyncio.sleep(1.5)
        assert not await db(leases.is_live)(student.id)

        with capture_broadcasts() as sent:
            assert await db(services.attendance_release_lapsed)() == 1
        room = f"session-{one_seat.id}"
        assert [(b.room, b.event) for b in sent if b.room == room] == [
            (room, "attendee-left"),
            (room, "session-participant-left"),
        ]
        left = sent.named("attendee-left")[0].data
        assert {key: value for key, value in left.items() if key != "attendee"} == {
            "sessionId": str(one_seat.id),
            "userId": str(student.id),
            "name": student.name,
            "activeAttendees": 0,
        }
        assert left["attendee"]["userId"] == str(student.id) and left["attendee"]["present"] is False

        row = await db(attendance)(one_seat, student)
        assert row.present_since is None and row.socket_channels == [] and row.last_left_at is not None
        assert await db(reasons)(one_seat, student) == [LeaveReason.CONNECTION_LOST]

        # The seat is free: someone else takes it.
        joined = await db(services.attendance_join)(actor=mate, session_id=one_seat.id)
        assert joined.newly_present and joined.active_attendees == 1

        # A second run finds nothing and says nothing.
        with capture_broadcasts() as again:
            assert await db(services.attendance_release_lapsed)() == 0
        assert again.named("attendee-left") == [] and again.named("session-participant-left") == []
        assert await db(reasons)(one_seat, student) == [LeaveReason.CONNECTION_LOST]
    finally:
        await comm.disconnect()
    # The late disconnect of that socket changes nothing either.
    assert await db(reasons)(one_seat, student) == [LeaveReason.CONNECTION_LOST]
    assert (await db(attendance)(one_seat, mate)).present_since is not None


async def test_the_presence_sweep_runs_the_release(one_seat, student, mate):
    comm = await socket_join(student, one_seat)
    try:
        await db(lapse)(student)
        with capture_broadcasts() as sent:
            await db(presence_sweep)()
        assert len(sent.named("attendee-left")) == 1
        assert (await db(attendance)(one_seat, student)).present_since is None
        await db(services.attendance_join)(actor=mate, session_id=one_seat.id)
    finally:
        await comm.disconnect()


async def test_the_room_is_left_so_a_silent_socket_hears_no_more_of_it(one_seat, student, instructor):
    """A socket whose client went silent past the lease (not dead after all) is taken
    out of the session room with the attendance: room and attendance stay in step."""
    host = await socket_join(instructor, one_seat)
    comm = await socket_join(student, one_seat)
    try:
        await db(lapse)(student)
        assert await db(services.attendance_release_lapsed)() == 1
        got = []
        while not await host.receive_nothing(timeout=0.3):
            got.append(await host.receive_json_from())
        events = [f["event"] for f in got if f.get("room") == f"session-{one_seat.id}"]
        assert events.count("attendee-left") == 1 and events.count("session-participant-left") == 1
        await host.send_json_to({"event": "session-typing-start", "data": {"sessionId": str(one_seat.id)}})
        while not await comm.receive_nothing(timeout=0.3):
            frame = await comm.receive_json_from()
            assert frame.get("event") != "session-user-typing", frame
        refused = await request(comm, "session-message", {"sessionId": str(one_seat.id), "message": "hi"})
        assert refused["event"] == "error" and refused["data"]["code"] == "not_in_session"
    finally:
        await comm.disconnect()
        await host.disconnect()


async def test_another_live_tab_keeps_the_seat_until_it_goes_too(one_seat, student, mate):
    comm = await socket_join(student, one_seat)
    other_tab = None
    try:
        await db(lapse)(student)  # the process holding the session socket died...
        other_tab = await ws_connect(student)  # ...but the user is connected elsewhere
        with capture_broadcasts() as sent:
            assert await db(services.attendance_release_lapsed)() == 0
        assert sent.named("attendee-left") == []
        assert (await db(attendance)(one_seat, student)).present_since is not None
        with pytest.raises(Conflict):
            await db(services.attendance_join)(actor=mate, session_id=one_seat.id)

        # The other tab closes cleanly: no lease lapses, so no sweep ever lists the user,
        # yet the release reads the leases and frees the seat.
        await other_tab.disconnect()
        other_tab = None
        assert not await db(leases.is_live)(student.id)
        assert await db(services.attendance_release_lapsed)() == 1
        assert await db(reasons)(one_seat, student) == [LeaveReason.CONNECTION_LOST]
    finally:
        if other_tab is not None:
            await other_tab.disconnect()
        await comm.disconnect()


async def test_a_rest_joined_attendee_is_untouched(one_seat, student, mate):
    await db(services.attendance_join)(actor=student, session_id=one_seat.id)
    assert not await db(leases.is_live)(student.id)  # no socket, no heartbeat: no lease
    with capture_broadcasts() as sent:
        assert await db(services.attendance_release_lapsed)() == 0
        await db(presence_sweep)()
    assert sent.named("attendee-left") == []
    row = await db(attendance)(one_seat, student)
    assert row.present_since is not None and row.socket_channels == []
    with pytest.raises(Conflict):
        await db(services.attendance_join)(actor=mate, session_id=one_seat.id)


async def test_rest_join_then_a_socket_hands_the_attendance_to_the_socket(one_seat, student):
    """The documented rule: once a socket is on the row, the sockets hold it (its
    disconnect would have marked the user left too)."""
    await db(services.attendance_join)(actor=student, session_id=one_seat.id)
    comm = await socket_join(student, one_seat)
    try:
        await db(lapse)(student)
        assert await db(services.attendance_release_lapsed)() == 1
        assert await db(reasons)(one_seat, student) == [LeaveReason.CONNECTION_LOST]
    finally:
        await comm.disconnect()


def test_only_scheduled_or_live_sessions_are_looked_at(course, student):
    ended = live_session(course, status=SessionStatus.ENDED)
    # A row left inconsistent (present in an ended session) is not this service's business.
    SessionAttendance.objects.create(
        session=ended,
        user=student,
        first_joined_at=ended.started_at,
        present_since=ended.started_at,
        socket_channels=["specific.dead!1"],
    )
    assert services.attendance_release_lapsed() == 0
    assert SessionAttendance.objects.get(session=ended).present_since is not None


def test_two_runs_at_once_release_each_seat_once(course):
    session = live_session(course, status=SessionStatus.LIVE, capacity=10)
    users = [UserFactory() for _ in range(4)]
    for number, user in enumerate(users):
        EnrollmentFactory(course=course, user=user)
        services.attendance_join(actor=user, session_id=session.id, channel_name=f"specific.dead!{number}")
    with capture_broadcasts() as sent:
        results = run_at_once([services.attendance_release_lapsed, services.attendance_release_lapsed])
    assert sorted(results) == [0, 4], results
    assert len(sent.named("attendee-left")) == 4
    assert sorted(b.data["userId"] for b in sent.named("attendee-left")) == sorted(str(u.id) for u in users)
    assert sorted(b.data["activeAttendees"] for b in sent.named("attendee-left")) == [0, 1, 2, 3]
    assert AttendanceInterval.objects.filter(attendance__session=session, left_at__isnull=True).count() == 0
    assert set(
        AttendanceInterval.objects.filter(attendance__session=session).values_list("left_reason", flat=True)
    ) == {LeaveReason.CONNECTION_LOST}


def test_the_leases_are_read_in_one_batch(course, monkeypatch):
    """Many lapsed holders in a few sessions: one Redis read for all users, then one
    per session under its lock (re-check), never one per user."""
    sessions = [live_session(course, status=SessionStatus.LIVE) for _ in range(2)]
    for session in sessions:
        for number in range(5):
            user = UserFactory()
            EnrollmentFactory(course=course, user=user)
            services.attendance_join(actor=user, session_id=session.id, channel_name=f"specific.x!{number}")
    calls = []
    real = leases.live_expiries
    monkeypatch.setattr(leases, "live_expiries", lambda ids, **kw: calls.append(len(ids)) or real(ids, **kw))
    assert services.attendance_release_lapsed() == 10
    assert sorted(calls) == [5, 5, 10]


# -- a real server killed with SIGKILL -------------------------------------------------

OFFLINE_AFTER = 3


@pytest.mark.e2e
async def test_a_killed_server_frees_its_users_seats_after_the_sweep(settings):
    """The learner's socket dies with its server (no disconnect handler runs). Once the
    lease lapses, beat's presence sweep (run here, on the same database and Redis)
    frees the seat: the attendees endpoint shows the learner gone and the last seat of
    the session goes to someone else."""
    settings.PRESENCE_OFFLINE_AFTER = OFFLINE_AFTER  # the sweep here uses the servers' lease lifetime

    def people():
        session = live_session(CourseFactory(), status=SessionStatus.LIVE, capacity=1)
        learner, latecomer = UserFactory(), UserFactory()
        for user in (learner, latecomer):
            EnrollmentFactory(course=session.course, user=user)
        tokens = {name: access_token_for(user) for name, user in (("learner", learner), ("late", latecomer))}
        tokens["teacher"] = access_token_for(session.instructor)
        return session, learner, tokens

    session, learner, tokens = await db(people)()
    auth = {name: {"Authorization": f"Bearer {token}"} for name, token in tokens.items()}
    sid = str(session.id)
    env = {"PRESENCE_OFFLINE_AFTER": str(OFFLINE_AFTER)}
    # Two servers: one to kill, one to ask afterwards (a client reconnects elsewhere).
    with running_servers(2, extra_env=env) as (doomed, survivor):
        ws = await websockets.connect(doomed.ws_url, additional_headers=auth["learner"])
        assert (await request(ws, "join-live-session", {"sessionId": sid}, "j"))["event"] == "ack"
        last_traffic = time.time()
        doomed.kill()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(), 2)

        async with (
            httpx.AsyncClient(base_url=survivor.http_url, timeout=10) as http,
            websockets.connect(survivor.ws_url, additional_headers=auth["late"]) as late,
        ):
            attendees = (await http.get(f"/api/live-sessions/{sid}/attendees", headers=auth["teacher"])).json()
            assert [(a["userId"], a["present"]) for a in attendees["attendees"]] == [(str(learner.id), True)]
            full = await request(late, "join-live-session", {"sessionId": sid}, "f")
            assert full["event"] == "error" and full["data"]["code"] == "session_full"

            # Before the lease lapses a sweep keeps the seat.
            await db(presence_sweep)()
            assert (await db(attendance)(session, learner)).present_since is not None

            await asyncio.sleep(max(0.0, last_traffic + OFFLINE_AFTER + 0.5 - time.time()))
            await db(presence_sweep)()

            attendees = (await http.get(f"/api/live-sessions/{sid}/attendees", headers=auth["teacher"])).json()
            assert attendees["activeAttendees"] == 0
            assert [(a["userId"], a["present"]) for a in attendees["attendees"]] == [(str(learner.id), False)]
            took = await request(late, "join-live-session", {"sessionId": sid}, "t")
            assert took["event"] == "ack" and took["data"]["activeAttendees"] == 1
        await db(presence_sweep)()
    assert await db(reasons)(session, learner) == [LeaveReason.CONNECTION_LOST]
