"""A batch of joins (services.attendance_join_many) is the same joins one after another:
the same outcomes, refusals, rows and announcements, in order; and the socket event
batches the joins of a session that arrive while one batch runs (collab.realtime.groupcommit)."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async

from collab.core.errors import DomainError
from collab.realtime.testing import capture_broadcasts
from liveSessions import consumers, services
from liveSessions.models import AttendanceInterval, SessionAttendance, SessionStatus
from liveSessions.services import JoinRequest
from tests.conftest import ws_connect
from tests.factories import EnrollmentFactory, UserFactory
from tests.liveSessions.factories import live_session

db = database_sync_to_async


def students(course, n: int) -> list:
    users = [UserFactory() for _ in range(n)]
    for user in users:
        EnrollmentFactory(course=course, user=user)
    return users


def summary(result) -> tuple:
    """What a caller learns from one join: the refusal's code, or the outcome's figures."""
    if isinstance(result, DomainError):
        return ("refused", result.code)
    return ("joined", result.active_attendees, result.newly_present, result.first_socket)


def mixed_requests(course, instructor, session) -> list[JoinRequest]:
    """Everything a batch may meet, in an order that matters: a host (no seat), members up
    to and past the capacity, a stranger, one user's second socket, a REST join."""
    a, b, c, d = students(course, 4)
    stranger = UserFactory()
    return [
        JoinRequest(a, "tab-a1"),
        JoinRequest(instructor, "tab-host"),
        JoinRequest(stranger, "tab-x"),
        JoinRequest(a, "tab-a2"),
        JoinRequest(b, "tab-b"),
        JoinRequest(a, "tab-a1"),
        JoinRequest(c, None),
        JoinRequest(d, "tab-d"),
    ]


@pytest.mark.django_db(transaction=True)
def test_a_batch_gives_what_the_same_joins_one_by_one_give(course, instructor):
    batched = live_session(course, status=SessionStatus.LIVE, capacity=3)
    alone = live_session(course, status=SessionStatus.LIVE, capacity=3)
    requests = mixed_requests(course, instructor, batched)

    with capture_broadcasts() as sent_batched:
        results = services.attendance_join_many(session_id=batched.id, requests=requests)
    one_by_one = []
    with capture_broadcasts() as sent_alone:
        for request in requests:
            try:
                one_by_one.append(
                    services.attendance_join(
                        actor=request.actor, session_id=alone.id, channel_name=request.channel_name
                    )
                )
            except DomainError as refusal:
                one_by_one.append(refusal)

    assert [summary(r) for r in results] == [summary(r) for r in one_by_one]
    assert [summary(r) for r in results] == [
        ("joined", 1, True, True),  # a
        ("joined", 1, True, True),  # the host takes no seat
        ("refused", "session_not_found"),  # not a member: the session does not exist for them
        ("joined", 1, False, False),  # a's second tab
        ("joined", 2, True, True),  # b
        ("joined", 2, False, False),  # a's first tab again: nothing changes
        ("joined", 3, True, False),  # c by REST: no socket
        ("refused", "session_full"),  # d: three seats taken
    ]

    def rows(session):
        return sorted(
            (str(row.user_id), sorted(row.socket_channels), row.present_since is not None)
            for row in SessionAttendance.objects.filter(session=session)
        )

    assert [r[1:] for r in rows(batched)] == [r[1:] for r in rows(alone)]
    a = requests[0].actor
    assert sorted(SessionAttendance.objects.get(session=batched, user=a).socket_channels) == ["tab-a1", "tab-a2"]
    assert AttendanceInterval.objects.filter(attendance__session=batched, left_at__isnull=True).count() == 4

    def said(sent, kind):
        return [(item.data.get("userId"), item.data.get("activeAttendees")) for item in sent if item.event == kind]

    # Each kind in the same order (a batch sends its attendee frames, then its participant
    # frames: docs/protocol/liveSessions.md).
    for kind in ("attendee-joined", "session-participant-joined"):
        assert said(sent_batched, kind) == said(sent_alone, kind)
    assert sorted(item.event for item in sent_batched) == sorted(item.event for item in sent_alone)
    assert [item.event for item in sent_batched] == ["attendee-joined"] * 4 + ["session-participant-joined"] * 3


@pytest.mark.django_db(transaction=True)
def test_a_refused_join_refuses_only_itself(course):
    ended = live_session(course, status=SessionStatus.SCHEDULED)
    a, b = students(course, 2)
    # A socket join needs a live session; a REST join of a scheduled one is fine.
    results = services.attendance_join_many(
        session_id=ended.id, requests=[JoinRequest(a, "tab-a"), JoinRequest(b, None)]
    )
    assert summary(results[0]) == ("refused", "session_not_live")
    assert summary(results[1]) == ("joined", 1, True, False)
    assert list(SessionAttendance.objects.filter(session=ended).values_list("user_id", flat=True)) == [b.id]


@pytest.mark.django_db(transaction=True)
def test_a_batch_of_a_missing_session_is_refused_whole(student):
    import uuid

    with pytest.raises(DomainError) as refused:
        services.attendance_join_many(session_id=uuid.uuid4(), requests=[JoinRequest(student, "tab")])
    assert refused.value.code == "session_not_found"


@pytest.mark.django_db(transaction=True)
async def test_joins_arriving_together_on_sockets_run_in_batches_and_everyone_gets_a_place(
    course, instructor, monkeypatch
):
    session = await db(live_session)(course=course, status=SessionStatus.LIVE)
    sid = str(session.id)
    members = await db(students)(course, 12)
    sizes: list[int] = []
    real = services.attendance_join_many

    def counting(**kwargs):
        sizes.append(len(kwargs["requests"]))
        return real(**kwargs)

    monkeypatch.setattr(services, "attendance_join_many", counting)
    sockets = [await ws_connect(user) for user in members]
    try:
        for number, comm in enumerate(sockets):
            await comm.send_json_to({"event": "join-live-session", "data": {"sessionId": sid}, "ref": f"j{number}"})

        async def ack(comm):
            while True:
                frame = await comm.receive_json_from(timeout=10)
                if frame["event"] == "ack":
                    return frame["data"]["activeAttendees"]
                assert frame["event"] != "error", frame

        places = await asyncio.gather(*(ack(comm) for comm in sockets))
    finally:
        for comm in sockets:
            await comm.disconnect()
    # Each join has its own place in the order, as if they had run one by one.
    assert sorted(places) == list(range(1, 13))
    assert sum(sizes) == 12
    # The ones sent while a batch ran waited and went together.
    assert len(sizes) < 12, sizes
    assert consumers.JOIN_BATCH_MAX >= 12


@pytest.mark.django_db(transaction=True)
async def test_a_join_committed_before_redis_failed_is_left_by_the_socket_disconnect(course, student, monkeypatch):
    # Redis goes away after the join committed and before the socket entered the room
    # (fault injected at the room entry: the join's commit is real). The socket is told
    # service_unavailable; its attendance holds its channel all the same, so its
    # disconnect must take it out (else the user stays present and holds a seat).
    import redis.exceptions

    from collab.realtime.consumer import CollabConsumer

    session = await db(live_session)(course=course, status=SessionStatus.LIVE, capacity=1)
    sid = str(session.id)
    real_join_room = CollabConsumer.join_room

    async def failing_join_room(self, room, *, seq=None):
        if room.startswith("session-"):
            raise redis.exceptions.ConnectionError("Redis went away")
        return await real_join_room(self, room, seq=seq)

    comm = await ws_connect(student)
    monkeypatch.setattr(CollabConsumer, "join_room", failing_join_room)
    await comm.send_json_to({"event": "join-live-session", "data": {"sessionId": sid}, "ref": "j"})
    reply = await comm.receive_json_from(timeout=10)
    assert reply["event"] == "error" and reply["data"]["code"] == "service_unavailable", reply
    monkeypatch.setattr(CollabConsumer, "join_room", real_join_room)
    await comm.disconnect()

    row = await db(SessionAttendance.objects.get)(session=session, user=student)
    assert row.socket_channels == []
    assert row.present_since is None, "the user stays present (and holds the seat) after their only socket closed"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("first", ["a", "b"])
async def test_joins_of_one_batch_hear_each_other_once_in_seq_order_and_never_themselves(
    course, instructor, monkeypatch, first
):
    import threading
    import time

    session = await db(live_session)(course=course, status=SessionStatus.LIVE)
    sid = str(session.id)
    host_user = instructor
    a, b = await db(students)(course, 2)
    real = services.attendance_join_many
    sizes: list[int] = []
    host_batch_running = threading.Event()

    def slow_first(**kwargs):
        sizes.append(len(kwargs["requests"]))
        if kwargs["requests"][0].actor.id == host_user.id:
            host_batch_running.set()
            time.sleep(0.5)  # the host's batch runs while a and b arrive: they go together
        return real(**kwargs)

    monkeypatch.setattr(services, "attendance_join_many", slow_first)
    host, sa, sb = await ws_connect(host_user), await ws_connect(a), await ws_connect(b)
    try:
        await host.send_json_to({"event": "join-live-session", "data": {"sessionId": sid}, "ref": "h"})
        assert await asyncio.to_thread(host_batch_running.wait, 10)
        # Which socket sends first only makes one order likelier: the test must hold either way.
        order = [(sa, "a"), (sb, "b")] if first == "a" else [(sb, "b"), (sa, "a")]
        for comm, ref in order:
            await comm.send_json_to({"event": "join-live-session", "data": {"sessionId": sid}, "ref": ref})

        async def frames_until_quiet(comm) -> list[dict]:
            out = []
            # receive_nothing: a receive that times out would cancel the socket's app.
            while not await comm.receive_nothing(timeout=1.5):
                out.append(await comm.receive_json_from(timeout=5))
            return out

        got = await asyncio.gather(*(frames_until_quiet(comm) for comm in (host, sa, sb)))
    finally:
        for comm in (host, sa, sb):
            await comm.disconnect()
    assert sizes == [1, 2]

    def joined(frames):
        return [f["data"]["userId"] for f in frames if f["event"] == "attendee-joined"]

    def seqs(frames):
        return [f["seq"] for f in frames if "seq" in f and f.get("room") == f"session-{sid}"]

    def ack(frames, ref):
        (reply,) = [f for f in frames if f.get("ref") == ref]
        assert reply["event"] == "ack", reply
        return reply["data"]

    host_frames, a_frames, b_frames = got
    # a's frame was sent first, but from another socket than b's: under load b's may
    # reach the server first. The server's order is the acks' seat counts (the host takes
    # no seat), and the room must hear the joins in that order.
    places = {str(a.id): ack(a_frames, "a")["activeAttendees"], str(b.id): ack(b_frames, "b")["activeAttendees"]}
    assert sorted(places.values()) == [1, 2], places
    in_server_order = sorted(places, key=places.__getitem__)
    assert joined(host_frames) == in_server_order
    assert {
        f["data"]["userId"]: f["data"]["activeAttendees"] for f in host_frames if f["event"] == "attendee-joined"
    } == places
    assert joined(a_frames) == [str(b.id)]
    assert joined(b_frames) == [str(a.id)]
    for frames in got:
        numbers = seqs(frames)
        assert numbers == sorted(set(numbers)), numbers
