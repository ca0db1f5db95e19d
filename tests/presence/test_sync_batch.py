"""A batch of presence syncs (services.presence_sync_many) is the same syncs one by one:
the same rows, the same announcements in the same order per course room, in a constant
number of statements; and sockets connecting or leaving together are synced in batches
(presence.consumers' group commit). Real PostgreSQL (and SQLite) and Redis."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext

from collab.realtime import leases
from collab.realtime.testing import capture_broadcasts
from presence import consumers, services
from presence.models import UserPresence
from tests.concurrency import run_at_once
from tests.conftest import client_for, ws_connect
from tests.factories import CourseFactory, EnrollmentFactory, UserFactory
from tests.sockets import drain

pytestmark = pytest.mark.django_db(transaction=True)

EARLIER = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SEEN = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)

# Every kind of user a batch may meet, by name: (row as stored, or None; lease live).
KINDS = {
    "comes online": ({"announced_status": "offline"}, True),
    "new, live": (None, True),
    "new, not live": (None, False),
    "lease gone": ({"announced_status": "online", "activity": "Quiz"}, False),
    "invisible": ({"status": "offline", "activity": "secret", "announced_status": "offline"}, True),
    "unchanged": ({"status": "busy", "activity": "Reading", "announced_status": "busy"}, True),
    "away comes online": ({"status": "away", "announced_status": "offline"}, True),
}


def _world() -> dict:
    """One set of users of every kind, members of a fresh course (the first also of a
    second course, one in no course at all), plus a deleted user with a live lease.
    Returns {"ids": the request order (with a repeat), "rooms": [course rooms],
    "index": {user id: its place in the request order}}."""
    first, second = CourseFactory(), CourseFactory()
    ids = []
    for name, (row, live) in KINDS.items():
        user = UserFactory(name=name)
        EnrollmentFactory(course=first, user=user)
        if row is not None:
            UserPresence.objects.create(user=user, last_seen_at=EARLIER, shown_last_seen_at=EARLIER, **row)
        if live:
            leases.lease_touch(user_id=user.id, lease_id="ws:t")
        ids.append(user.id)
    EnrollmentFactory(course=second, user_id=ids[0])
    loner = UserFactory(name="no course")
    leases.lease_touch(user_id=loner.id, lease_id="ws:t")
    ghost = UserFactory(name="deleted")
    leases.lease_touch(user_id=ghost.id, lease_id="ws:t")
    ghost_id = ghost.id
    ghost.delete()
    # Not in id order, a repeat, strings and UUIDs mixed: the batch keeps the order asked.
    order = [ids[3], str(ghost_id), ids[0], loner.id, *ids[4:], str(ids[1]), ids[2], ids[0]]
    return {
        "ids": order,
        "rooms": [f"course-{first.id}", f"course-{second.id}"],
        "index": {str(user_id): order.index(user_id) for user_id in order},  # the first place
        "users": [*ids, loner.id],
        "ghost": ghost_id,
    }


def _said(sent, world) -> list[list[tuple]]:
    """Per room of the world, what was said about whom (by place in the request order)."""
    return [
        [
            (world["index"][item.data["userId"]], item.event, item.data["status"], item.data["activity"])
            for item in sent.to_room(room)
        ]
        for room in world["rooms"]
    ]


def _rows(world) -> list[tuple]:
    rows = {row.user_id: row for row in UserPresence.objects.filter(user_id__in=world["users"])}
    return [
        (
            r.status,
            r.activity,
            r.announced_status,
            r.last_seen_at,
            r.shown_last_seen_at,
        )
        if (r := rows.get(user_id))
        else None
        for user_id in world["users"]
    ]


@pytest.mark.usefixtures("uncoalesced")
def test_a_batch_gives_what_the_same_syncs_one_by_one_give():
    batched, alone = _world(), _world()
    with capture_broadcasts() as sent_batched:
        results = services.presence_sync_many(user_ids=batched["ids"], seen_at=SEEN)
    with capture_broadcasts() as sent_alone:
        one_by_one = [services.presence_sync(user_id=user_id, seen_at=SEEN) for user_id in alone["ids"]]

    assert results == one_by_one
    assert _said(sent_batched, batched) == _said(sent_alone, alone)
    assert _rows(batched) == _rows(alone)

    # And what they are: the ghost (1) and the repeat (last) say nothing.
    assert results == [True, False, True, True, False, False, True, True, False, False]
    course_room, other_room = _said(sent_batched, batched)
    assert course_room == [
        (0, "presence-changed", "offline", ""),  # lease gone
        (2, "presence-changed", "online", ""),  # comes online
        (6, "presence-changed", "away", ""),  # away comes online
        (7, "presence-changed", "online", ""),  # new, live
    ]
    assert other_room == [(2, "presence-changed", "online", "")]
    by_name = dict(zip([*KINDS, "no course"], _rows(batched), strict=True))
    assert by_name["new, not live"] == ("online", "", "offline", SEEN, SEEN)
    assert by_name["new, live"] == ("online", "", "online", SEEN, SEEN)
    # Invisible: seen now, yet what others see of lastSeenAt stands still.
    assert by_name["invisible"] == ("offline", "secret", "offline", SEEN, EARLIER)
    assert by_name["no course"] == ("online", "", "online", SEEN, SEEN)
    assert not UserPresence.objects.filter(user_id=batched["ghost"]).exists()
    # Heartbeats skip the database for a while after the batch wrote lastSeenAt.
    marked = [leases.sync_redis().exists(leases.seen_key(user_id)) for user_id in batched["users"]]
    assert marked == [1] * len(batched["users"])
    assert not leases.sync_redis().exists(leases.seen_key(batched["ghost"]))


def test_with_coalescing_a_batch_sends_the_frames_one_by_one_sends(settings):
    """The batch offers its changes to each room in one Redis call (fanout.announce_many):
    the first change of a quiet room goes at once, the others in one presence-batch at
    the window's end, as they do offered one by one."""
    settings.PRESENCE_BROADCAST_WINDOW = 1.0
    batched, alone = _world(), _world()

    def frames(sent, world) -> list[list[tuple]]:
        index = world["index"]
        return [
            [
                # A presence-batch holds one entry per user, in no particular order.
                (item.event, sorted(index[user["userId"]] for user in item.data.get("users", [item.data])))
                for item in sent.to_room(room)
            ]
            for room in world["rooms"]
        ]

    with capture_broadcasts() as sent_batched:
        services.presence_sync_many(user_ids=batched["ids"], seen_at=SEEN)
        time.sleep(1.6)
    with capture_broadcasts() as sent_alone:
        for user_id in alone["ids"]:
            services.presence_sync(user_id=user_id, seen_at=SEEN)
        time.sleep(1.6)
    assert frames(sent_batched, batched) == frames(sent_alone, alone)
    assert frames(sent_batched, batched) == [
        [("presence-changed", [0]), ("presence-batch", [2, 6, 7])],
        [("presence-changed", [2])],
    ]


@pytest.mark.usefixtures("uncoalesced")
def test_without_seen_at_only_changed_rows_are_written_and_nothing_is_marked():
    world = _world()
    before = _rows(world)
    with capture_broadcasts() as sent:
        services.presence_sync_many(user_ids=world["ids"], seen_at=None)
    after = _rows(world)
    for kind, old, new in zip([*KINDS, "no course"], before, after, strict=True):
        if old is not None:
            assert new[3:] == old[3:], kind  # lastSeenAt untouched
    assert len(sent.named("presence-changed")) == 5
    assert not any(leases.sync_redis().exists(leases.seen_key(user_id)) for user_id in world["users"])


@pytest.mark.usefixtures("uncoalesced")
def test_a_batch_costs_the_same_statements_whatever_its_size():
    def cost(count: int) -> int:
        course = CourseFactory()
        users = [UserFactory() for _ in range(count)]
        for number, user in enumerate(users):
            EnrollmentFactory(course=course, user=user)
            leases.lease_touch(user_id=user.id, lease_id="ws:t")
            if number % 2:  # half have a row (an UPDATE), half not (an INSERT)
                UserPresence.objects.create(user=user)
        with CaptureQueriesContext(connection) as queries:
            assert all(services.presence_sync_many(user_ids=[user.id for user in users], seen_at=SEEN))
        return len(_statements(queries))

    assert cost(4) == cost(30)


def _statements(queries) -> list[str]:
    """The kinds of the statements run (SQLite's BEGIN IMMEDIATE left out; a UNION
    starts with a parenthesis on PostgreSQL)."""
    kinds = [query["sql"].lstrip("(").split()[0].upper() for query in queries.captured_queries]
    return [kind for kind in kinds if kind in ("SELECT", "INSERT", "UPDATE", "DELETE")]


@pytest.mark.usefixtures("uncoalesced")
def test_a_single_sync_is_as_cheap_as_before(course, student):
    UserPresence.objects.create(user=student)
    leases.lease_touch(user_id=student.id, lease_id="ws:t")
    with CaptureQueriesContext(connection) as queries:
        assert services.presence_sync(user_id=student.id, seen_at=SEEN)
    # The row lock, the courses to announce to, the UPDATE.
    statements = _statements(queries)
    assert statements == ["SELECT", "SELECT", "UPDATE"], statements
    other = UserFactory()
    with CaptureQueriesContext(connection) as queries:
        assert not services.presence_sync(user_id=other.id, seen_at=SEEN)  # no lease: nothing to say
    # The row lock (none), the user, the INSERT.
    statements = _statements(queries)
    assert statements == ["SELECT", "SELECT", "INSERT"], statements


@pytest.mark.usefixtures("uncoalesced")
@pytest.mark.parametrize("attempt", range(3))
def test_batches_racing_over_the_same_users_announce_each_once(course, attempt):
    """Two batches (and a single sync) at once over the same new users, in opposite
    orders: the first rows inserted make the others' INSERT fail; their retry locks the
    rows and finds nothing left to say. No deadlock, no duplicate, no row missing."""
    users = [UserFactory() for _ in range(12)]
    for user in users:
        EnrollmentFactory(course=course, user=user)
        leases.lease_touch(user_id=user.id, lease_id="ws:t")
    ids = [user.id for user in users]
    with capture_broadcasts() as sent:
        outcomes = run_at_once(
            [
                lambda: services.presence_sync_many(user_ids=ids, seen_at=SEEN),
                lambda: services.presence_sync_many(user_ids=ids[::-1], seen_at=SEEN),
                lambda: services.presence_sync(user_id=ids[5], seen_at=SEEN),
            ]
        )
    assert not [outcome for outcome in outcomes if isinstance(outcome, BaseException)], outcomes
    announced = sorted(item.data["userId"] for item in sent.named("presence-changed"))
    assert announced == sorted(str(user_id) for user_id in ids)
    assert UserPresence.objects.filter(user_id__in=ids, announced_status="online").count() == 12


# -- on sockets --------------------------------------------------------------------------


def _online_in(frames: list[dict], room: str) -> dict[str, str]:
    """The latest status heard of each user in `room`, from presence-changed and
    presence-batch frames."""
    heard: dict[str, str] = {}
    for frame in frames:
        if frame.get("room") != room:
            continue
        if frame["event"] == "presence-changed":
            heard[frame["data"]["userId"]] = frame["data"]["status"]
        elif frame["event"] == "presence-batch":
            heard.update({item["userId"]: item["status"] for item in frame["data"]["users"]})
    return heard


async def _hear(sock, room: str, wanted: dict[str, str], *, timeout: float = 15.0) -> dict[str, str]:
    """Reads the socket's frames until every user of `wanted` was last heard with the
    status wanted, or the timeout; returns what was heard."""
    frames: list[dict] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        heard = _online_in(frames, room)
        if all(heard.get(user_id) == status for user_id, status in wanted.items()):
            return heard
        try:
            frames.append(await sock.receive_json_from(timeout=max(deadline - loop.time(), 0.01)))
        except TimeoutError:
            break
    return _online_in(frames, room)


async def test_sockets_connecting_together_are_synced_in_batches_and_all_seen_online(
    course, instructor, settings, monkeypatch
):
    settings.PRESENCE_BROADCAST_WINDOW = 0.15
    room = f"course-{course.id}"

    def make_students():
        users = [UserFactory() for _ in range(12)]
        for user in users:
            EnrollmentFactory(course=course, user=user)
        return users

    students = await sync_to_async(make_students)()
    mate = await ws_connect(instructor)
    await drain(mate)
    sizes: list[int] = []
    real = services.presence_sync_many

    def counting(**kwargs):
        sizes.append(len(kwargs["user_ids"]))
        return real(**kwargs)

    monkeypatch.setattr(services, "presence_sync_many", counting)
    sockets = await asyncio.gather(*(ws_connect(user) for user in students))
    try:
        everyone_online = {str(user.id): "online" for user in students}
        assert await _hear(mate, room, everyone_online) == everyone_online
        # The ones that arrived while a batch ran waited and went together.
        assert sum(sizes) == 12
        assert len(sizes) < 12, sizes
        assert consumers.SYNC_BATCH_MAX >= 12

        # Every member reads everyone online (the instructor included).
        def course_online(user) -> set[str]:
            body = client_for(user).get(f"/api/presence/course/{course.id}").json()
            return {item["userId"] for item in body["users"] if item["status"] == "online"}

        expected = {str(instructor.id), *everyone_online}
        for user in students:
            assert await sync_to_async(course_online)(user) == expected
    finally:
        sizes.clear()
        await asyncio.gather(*(sock.disconnect() for sock in sockets))
    everyone_offline = {str(user.id): "offline" for user in students}
    assert await _hear(mate, room, everyone_offline) == everyone_offline
    assert sum(sizes) == 12
    assert len(sizes) < 12, sizes
    await mate.disconnect()
    # The instructor's own offline waits for the room's window: let its timer send it now,
    # not after the test session has ended.
    await asyncio.sleep(3 * settings.PRESENCE_BROADCAST_WINDOW)
    rows = await sync_to_async(list)(
        UserPresence.objects.filter(user__in=students).values_list("announced_status", flat=True)
    )
    assert rows == ["offline"] * 12
