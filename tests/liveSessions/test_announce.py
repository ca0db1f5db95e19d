"""Join and leave announcements: per change in small rooms, one coalesced
`session-participants-batch` per window in large ones (liveSessions.announce), and the
Redis-shared window itself (collab.realtime.coalesce)."""

from __future__ import annotations

import time

import pytest
from channels.db import database_sync_to_async

from collab.core.redis_client import sync_redis
from collab.realtime.broadcast import broadcast_committed
from collab.realtime.coalesce import BATCHED, SINGLE, Coalescer
from collab.realtime.testing import capture_broadcasts
from liveSessions import services
from liveSessions.models import SessionAttendance, SessionStatus
from tests.conftest import ws_connect
from tests.factories import EnrollmentFactory, UserFactory
from tests.liveSessions.factories import live_session

db = database_sync_to_async


def wait_for(condition, timeout: float = 10.0) -> None:
    """Polls `condition` (windows drain on timer threads); generous for a loaded machine."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def students(course, n: int) -> list:
    users = [UserFactory() for _ in range(n)]
    for user in users:
        EnrollmentFactory(course=course, user=user)
    return users


# -- the coalescer ------------------------------------------------------------------------


@pytest.mark.django_db
def test_coalescer_sends_single_below_threshold_then_batches_and_keeps_the_latest_per_key():
    sent: list[tuple[str, list[dict]]] = []
    # A window long enough for the offers below on a loaded machine.
    coalescer = Coalescer(f"test-{time.time_ns()}", lambda: 2.0, lambda room, items: sent.append((room, items)))
    room = "session-x"
    assert coalescer.offer(room, "a", {"k": "a", "v": 1}, open_window=False) == SINGLE
    assert sent == []
    # A large room opens a window: this change goes out at once, as a batch of one.
    assert coalescer.offer(room, "b", {"k": "b", "v": 1}, open_window=True) == BATCHED
    assert sent == [(room, [{"k": "b", "v": 1}])]
    # Inside the window every change waits, even one that would not open a window, and a
    # key's later change replaces its earlier one.
    assert coalescer.offer(room, "c", {"k": "c", "v": 1}, open_window=True) == BATCHED
    assert coalescer.offer(room, "c", {"k": "c", "v": 2}, open_window=False) == BATCHED
    assert coalescer.offer(room, "a", {"k": "a", "v": 2}, open_window=False) == BATCHED
    assert len(sent) == 1
    wait_for(lambda: len(sent) == 2)
    assert sorted(sent[1][1], key=lambda item: item["k"]) == [{"k": "a", "v": 2}, {"k": "c", "v": 2}]
    # The next window finds nothing and closes: a change after it is the caller's again.
    window_key = coalescer._keys(room)[0]
    wait_for(lambda: not sync_redis().exists(window_key))
    assert coalescer.offer(room, "d", {"k": "d"}, open_window=False) == SINGLE
    assert len(sent) == 2


@pytest.mark.django_db
def test_offer_many_sends_the_singles_before_the_batch_it_opens_and_the_rest_wait():
    calls: list = []
    coalescer = Coalescer("test-many", lambda: 5.0, lambda room, items: calls.append(("batch", items)))
    modes = coalescer.offer_many(
        "session-m",
        [("a", {"k": "a"}, False), ("b", {"k": "b"}, False), ("c", {"k": "c"}, True), ("d", {"k": "d"}, False)],
        send_singles=lambda indexes: calls.append(("singles", indexes)),
    )
    # a and b go out alone (small room); c opens the window and goes out as a batch of
    # one, after them; d waits for the window.
    assert modes == [SINGLE, SINGLE, BATCHED, BATCHED]
    assert calls == [("singles", [0, 1]), ("batch", [{"k": "c"}])]
    # One call, one Redis round trip, whatever the number of changes: the next offer
    # of the room finds the window open.
    assert coalescer.offer("session-m", "e", {"k": "e"}, open_window=False) == BATCHED


@pytest.mark.django_db
def test_coalescer_with_window_zero_is_off():
    coalescer = Coalescer("test-off", lambda: 0.0, lambda room, items: pytest.fail("nothing is batched"))
    assert coalescer.offer("session-y", "a", {}, open_window=True) == SINGLE


# -- the service's announcements ----------------------------------------------------------


# Real commits (transaction=True): attendee frames are written to the outbox in their own
# transaction after the change's commit, and a drain timer writes batches from its thread.


@pytest.mark.django_db(transaction=True)
def test_small_room_hears_each_join_as_before(course, student, settings):
    settings.LIVE_SESSION_BATCH_THRESHOLD = 3
    live = live_session(course=course, status=SessionStatus.LIVE)
    with capture_broadcasts() as sent:
        services.attendance_join(actor=student, session_id=live.id, channel_name="tab-1")
    assert sent.events() == ["attendee-joined", "session-participant-joined"]
    assert sent.named("attendee-joined")[0].data["activeAttendees"] == 1


@pytest.mark.django_db(transaction=True)
def test_large_room_hears_batches_with_the_latest_change_of_each_user(course, settings):
    settings.LIVE_SESSION_BATCH_THRESHOLD = 2
    # Long enough that c's and d's changes fall in b's window even on a loaded machine.
    settings.LIVE_SESSION_BATCH_WINDOW = 5.0
    live = live_session(course=course, status=SessionStatus.LIVE)
    a, b, c, d = students(course, 4)
    room = f"session-{live.id}"
    with capture_broadcasts() as sent:
        for user in (a, b, c, d):
            services.attendance_join(actor=user, session_id=live.id, channel_name=f"tab-{user.id}")
        # d leaves while the window is open: the batch says so, never "joined".
        services.attendance_socket_exit(actor=d, session_id=live.id, channel_name=f"tab-{d.id}")
        wait_for(lambda: len(sent.named("session-participants-batch")) == 2, timeout=30)

    # One seat taken: small, each change on its own. Two: the window opens with b.
    assert sent.events()[:3] == ["attendee-joined", "session-participant-joined", "session-participants-batch"]
    first, second = (item.data for item in sent.named("session-participants-batch"))
    assert first == {
        "sessionId": str(live.id),
        "activeAttendees": 2,
        "joined": [{"userId": str(b.id), "name": b.name}],
        "left": [],
    }
    assert {item["userId"] for item in second["joined"]} == {str(c.id)}
    assert second["left"] == [{"userId": str(d.id), "name": d.name}]
    assert second["activeAttendees"] == 3
    assert all(item.room == room for item in sent)
    # Nothing was skipped in the database: four rows, three present.
    assert SessionAttendance.objects.filter(session=live, present_since__isnull=False).count() == 3


@pytest.mark.django_db(transaction=True)
def test_rest_leave_in_a_large_room_still_moves_the_sockets_out(course, settings):
    settings.LIVE_SESSION_BATCH_THRESHOLD = 1
    settings.LIVE_SESSION_BATCH_WINDOW = 0.2
    live = live_session(course=course, status=SessionStatus.LIVE)
    a, b = students(course, 2)
    for user in (a, b):
        services.attendance_join(actor=user, session_id=live.id, channel_name=f"tab-{user.id}")
    # One seat still taken after the leave: the room is large whether or not the joins'
    # window is still open.
    with capture_broadcasts() as sent:
        services.attendance_leave(actor=a, session_id=live.id)

        def leaving_batch():
            # b's join may still be in a window of its own first.
            return [item.data for item in sent.named("session-participants-batch") if item.data["left"]]

        wait_for(leaving_batch, timeout=30)
    assert sent.named("attendee-left") == [] and sent.named("session-participant-left") == []
    batch = leaving_batch()[0]
    assert batch["left"] == [{"userId": str(a.id), "name": a.name}] and batch["activeAttendees"] == 1
    assert SessionAttendance.objects.get(user=a).socket_channels == []


@pytest.mark.django_db(transaction=True)
async def test_a_refused_join_hears_nothing_of_the_room(course, instructor, settings):
    """The socket listens to the room before the join's checks (so it misses nothing
    committed after its own join); a refused join must not deliver anything of it."""
    session = await db(live_session)(course=course, status=SessionStatus.LIVE)
    sid = str(session.id)
    outsider = await db(UserFactory)()
    (member,) = await db(students)(course, 1)
    teacher = await ws_connect(instructor)
    stranger = await ws_connect(outsider)
    learner = await ws_connect(member)
    try:
        await teacher.send_json_to({"event": "join-live-session", "data": {"sessionId": sid}, "ref": "t"})
        assert (await teacher.receive_json_from(timeout=5))["event"] == "ack"
        await stranger.send_json_to({"event": "join-live-session", "data": {"sessionId": sid}, "ref": "s"})
        refused = await stranger.receive_json_from(timeout=5)
        assert refused["event"] == "error" and refused["data"]["code"] == "session_not_found"
        await learner.send_json_to({"event": "join-live-session", "data": {"sessionId": sid}, "ref": "l"})
        await teacher.send_json_to({"event": "session-message", "data": {"sessionId": sid, "message": "hello"}})
        while (await teacher.receive_json_from(timeout=5))["event"] != "session-new-message":
            pass
        assert await stranger.receive_nothing(timeout=0.5)
    finally:
        for comm in (teacher, stranger, learner):
            await comm.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_frame_committed_right_after_a_join_reaches_the_joiner(course, instructor, monkeypatch):
    """The joiner's seq is read before its join, not after: a frame of the room committed
    between the join's commit and that read (the next joiner of a storm) counted as
    delivered and was dropped (1 of 100 storm members had an incomplete attendee list)."""
    session = await db(live_session)(course=course, status=SessionStatus.LIVE)
    sid = str(session.id)
    (member,) = await db(students)(course, 1)
    real_join = services.attendance_join_many

    def join_then_someone_else_writes(**kwargs):
        outcomes = real_join(**kwargs)  # committed (its own transaction)
        if any(request.actor.id == member.id for request in kwargs["requests"]):
            broadcast_committed(f"session-{sid}", "test-right-after", {"n": 1})
        return outcomes

    monkeypatch.setattr(services, "attendance_join_many", join_then_someone_else_writes)
    learner = await ws_connect(member)
    try:
        await learner.send_json_to({"event": "join-live-session", "data": {"sessionId": sid}, "ref": "j"})
        seen = []
        while "test-right-after" not in seen:
            seen.append((await learner.receive_json_from(timeout=5))["event"])
        assert "ack" in seen
    finally:
        await learner.disconnect()


# -- on real sockets ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_members_of_a_large_room_get_batches_and_know_everyone(course, instructor, settings):
    settings.LIVE_SESSION_BATCH_THRESHOLD = 2
    settings.LIVE_SESSION_BATCH_WINDOW = 0.3
    session = await db(live_session)(course=course, status=SessionStatus.LIVE)
    sid = str(session.id)
    others = await db(students)(course, 3)
    teacher = await ws_connect(instructor)
    sockets = [await ws_connect(user) for user in others]
    try:
        # The host takes no seat; the first student makes one seat (small), the second
        # opens the window.
        # The host's own entry is a participant change too: it must land before the
        # window opens, or the batch rightly lists the host among `joined`.
        await teacher.send_json_to({"event": "join-live-session", "data": {"sessionId": sid}, "ref": "t"})
        while (await teacher.receive_json_from(timeout=5)).get("ref") != "t":
            pass
        for comm in sockets:
            await comm.send_json_to({"event": "join-live-session", "data": {"sessionId": sid}, "ref": "j"})
            while (await comm.receive_json_from(timeout=5)).get("ref") != "j":
                pass
        heard: set[str] = set()
        singles = 0
        while len(heard) < 3:
            frame = await teacher.receive_json_from(timeout=5)
            if frame["event"] == "session-participants-batch":
                heard |= {item["userId"] for item in frame["data"]["joined"]}
            elif frame["event"] == "attendee-joined":
                heard.add(frame["data"]["userId"])
                singles += 1
        assert heard == {str(user.id) for user in others}
        assert singles == 1  # only the join into a room of one seat
    finally:
        for comm in (teacher, *sockets):
            await comm.disconnect()
