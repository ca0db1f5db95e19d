"""After Redis lost its leases (a restart), presence is reconciled in batches: a web process
re-taking the leases of all its sockets, and the sweep announcing offline those whose
sockets are gone, sync services.SYNC_CHUNK users per transaction (presence_sync_many),
with the outcome of one sync per user. Real database and Redis."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from asgiref.sync import sync_to_async

from collab.realtime import leases
from collab.realtime.testing import capture_broadcasts
from presence import consumers, services, sweep
from presence.models import UserPresence
from tests.factories import CourseFactory, EnrollmentFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("uncoalesced")]

EARLIER = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
MANY = services.SYNC_CHUNK + 50  # two batches


@pytest.fixture
def batches(monkeypatch) -> list[int]:
    """The size of each presence_sync_many call (the real one runs)."""
    sizes: list[int] = []
    real = services.presence_sync_many

    def recording(*, user_ids, seen_at=None):
        sizes.append(len(user_ids))
        return real(user_ids=user_ids, seen_at=seen_at)

    monkeypatch.setattr(services, "presence_sync_many", recording)
    return sizes


def _members(count: int, course, **row) -> list:
    users = [UserFactory() for _ in range(count)]
    for user in users:
        EnrollmentFactory(course=course, user=user)
        UserPresence.objects.create(user=user, last_seen_at=EARLIER, shown_last_seen_at=EARLIER, **row)
    return users


def _socket(user, lease: bool = True) -> SimpleNamespace:
    return SimpleNamespace(user=user, state={consumers.STATE_LEASE: leases.new_socket_lease_id()} if lease else {})


async def test_a_process_reasserts_many_sockets_in_batches(batches):
    course = await sync_to_async(CourseFactory)()
    # Connected before Redis restarted: the rooms were told they are online.
    announced = await sync_to_async(_members)(MANY, course, announced_status="online")
    # Connected while Redis was down: their first sync never ran, the rooms think them offline.
    unannounced = await sync_to_async(_members)(3, course, announced_status="offline")
    # Invisible: live again, but others keep seeing offline.
    invisible = await sync_to_async(_members)(2, course, status="offline", announced_status="offline")
    users = [*announced, *unannounced, *invisible]
    sockets = [_socket(user) for user in users]
    sockets += [_socket(announced[0]), _socket(unannounced[0]), _socket(invisible[0], lease=False)]
    assert await sync_to_async(leases.live_expiries)([str(user.id) for user in users]) == {}

    with capture_broadcasts() as sent:
        await consumers.presence_reassert_leases(sockets)

    live = await sync_to_async(leases.live_expiries)([str(user.id) for user in users])
    assert set(live) == {str(user.id) for user in users}
    # Every user synced once, in batches of SYNC_CHUNK (was one transaction per user).
    assert batches == [services.SYNC_CHUNK, len(users) - services.SYNC_CHUNK]
    # Only those the rooms had not been told of are announced, once each.
    said = sorted((item.data["userId"], item.data["status"]) for item in sent.named("presence-changed"))
    assert said == sorted((str(user.id), "online") for user in unannounced)
    rows = await sync_to_async(lambda: dict(UserPresence.objects.values_list("user_id", "announced_status")))()
    assert {rows[user.id] for user in announced + unannounced} == {"online"}
    assert {rows[user.id] for user in invisible} == {"offline"}
    # A re-assert is no sighting: lastSeenAt stands.
    seen = await sync_to_async(lambda: set(UserPresence.objects.values_list("last_seen_at", flat=True)))()
    assert seen == {EARLIER}

    # Once more (the periodic re-assert): no lease was lost, nothing to sync.
    batches.clear()
    await consumers.presence_reassert_leases(sockets)
    assert batches == []


def _wait_for_settled_leases() -> None:
    # The sweep trusts a fresh Redis only after two re-assert periods (7 s in tests).
    deadline = time.monotonic() + 15
    while not leases.leases_settled():
        assert time.monotonic() < deadline, "the test Redis never settled"
        time.sleep(0.5)


def test_the_sweep_announces_many_users_offline_in_batches(course, batches):
    _wait_for_settled_leases()
    # Sockets gone with Redis' data: rows announced online, no lease at all.
    gone = _members(MANY - 2, course, announced_status="online")
    # Sockets of a crashed process: their leases lapsed 10 s and 40 s ago.
    crashed = _members(2, course, announced_status="online")
    for user, ago in zip(crashed, (10, 40), strict=True):
        leases.lease_touch(user_id=user.id, lease_id="ws:crashed", now=time.time() - leases.lease_ttl() - ago)
    # Still connected.
    connected = _members(3, course, announced_status="online")
    for user in connected:
        leases.lease_touch(user_id=user.id, lease_id="ws:live")

    with capture_broadcasts() as sent:
        assert sweep.presence_sweep() == MANY
    assert batches == [services.SYNC_CHUNK, MANY - services.SYNC_CHUNK]
    said = sorted((item.data["userId"], item.data["status"]) for item in sent.named("presence-changed"))
    assert said == sorted((str(user.id), "offline") for user in gone + crashed)
    rows = {row.user_id: row for row in UserPresence.objects.all()}
    assert {rows[user.id].announced_status for user in gone + crashed} == {"offline"}
    assert {rows[user.id].announced_status for user in connected} == {"online"}
    # Each crashed user's lastSeenAt is their own lease's last renewal; the others' stands.
    for user, ago in zip(crashed, (10, 40), strict=True):
        assert abs(rows[user.id].last_seen_at.timestamp() - (time.time() - leases.lease_ttl() - ago)) < 5
    assert {rows[user.id].last_seen_at for user in gone + connected} == {EARLIER}

    with capture_broadcasts() as again:
        assert sweep.presence_sweep() == 0
    assert again == []


def test_a_failed_batch_of_the_sweep_is_retried_one_user_at_a_time(course, monkeypatch, caplog):
    _wait_for_settled_leases()
    gone = _members(5, course, announced_status="online")
    real = services.presence_sync_many

    def failing_for_batches(*, user_ids, seen_at=None):
        if len(user_ids) > 1:
            raise RuntimeError("batch failed")
        return real(user_ids=user_ids, seen_at=seen_at)

    monkeypatch.setattr(services, "presence_sync_many", failing_for_batches)
    with capture_broadcasts() as sent:
        assert sweep.presence_sweep() == 5
    assert sorted(item.data["userId"] for item in sent.named("presence-changed")) == sorted(str(u.id) for u in gone)
    assert "could not reconcile 5 users at once" in caplog.text


async def test_the_periodic_reassert_announces_connected_users_a_failed_sync_left_offline(batches):
    """ "Lease live, row offline": the first-lease sync of these users failed, so their
    leases are live but the rooms were never told. No lease is lost (nothing for the
    re-assert's own syncs) and the sweep leaves live users alone: before, they stayed
    offline until their next transition. The periodic re-assert finds them (one query
    per SYNC_CHUNK users) and announces them online, batched, as their first lease would."""
    course = await sync_to_async(CourseFactory)()
    settled = await sync_to_async(_members)(MANY, course, announced_status="online")
    left_offline = await sync_to_async(_members)(3, course, announced_status="offline")
    never_synced = [await sync_to_async(UserFactory)() for _ in range(2)]  # not even a row
    for user in never_synced:
        await sync_to_async(EnrollmentFactory)(course=course, user=user)
    invisible = await sync_to_async(_members)(2, course, status="offline", announced_status="offline")
    away = await sync_to_async(_members)(1, course, status="away", announced_status="offline")
    users = [*settled, *left_offline, *never_synced, *invisible, *away]
    sockets = [_socket(user) for user in users] + [_socket(left_offline[0])]
    for socket in sockets:  # every lease taken, as connect did before its sync failed
        await leases.lease_touch_async(user_id=socket.user.id, lease_id=socket.state[consumers.STATE_LEASE])

    with capture_broadcasts() as sent:
        await consumers.presence_reassert_leases(sockets)

    repaired = [*left_offline, *never_synced, *away]
    assert batches == [len(repaired)]
    said = sorted((item.data["userId"], item.data["status"]) for item in sent.named("presence-changed"))
    assert said == sorted([*((str(u.id), "online") for u in left_offline + never_synced), (str(away[0].id), "away")])
    assert sent.named("presence-changed")[0].room == f"course-{course.id}"
    rows = await sync_to_async(lambda: dict(UserPresence.objects.values_list("user_id", "announced_status")))()
    assert {rows[user.id] for user in settled + left_offline + never_synced} == {"online"}
    assert rows[away[0].id] == "away"
    assert {rows[user.id] for user in invisible} == {"offline"}

    # Repaired once: the next period has nothing to sync.
    batches.clear()
    with capture_broadcasts() as again:
        await consumers.presence_reassert_leases(sockets)
    assert batches == [] and again == []


async def test_a_user_whose_first_lease_sync_is_still_running_is_left_to_it(batches, monkeypatch, caplog):
    """The supervisor starts with a process's first socket and re-asserts at once, while
    that socket's first-lease sync is still on its way: its row says offline only because
    the sync has not committed. The repair leaves the user to their own sync (no warning,
    no second announcement); once the sync is done, a user still offline is repaired."""
    course = await sync_to_async(CourseFactory)()
    (joining,) = await sync_to_async(_members)(1, course, announced_status="offline")
    socket = _socket(joining)
    await leases.lease_touch_async(user_id=joining.id, lease_id=socket.state[consumers.STATE_LEASE])
    monkeypatch.setitem(consumers._first_syncs, joining.id, 1)  # its sync is on its way

    with capture_broadcasts() as sent, caplog.at_level("WARNING", logger="presence.consumers"):
        await consumers.presence_reassert_leases([socket])
    assert batches == [] and sent == [] and "shown offline" not in caplog.text

    del consumers._first_syncs[joining.id]  # done, yet the row still says offline: it failed
    with capture_broadcasts() as sent:
        await consumers.presence_reassert_leases([socket])
    assert batches == [1]
    assert [(item.data["userId"], item.data["status"]) for item in sent.named("presence-changed")] == [
        (str(joining.id), "online")
    ]


async def test_a_socket_whose_first_lease_sync_failed_is_announced_by_the_next_reassert(
    course, instructor, student, monkeypatch
):
    """The same over sockets: the first-lease sync behind a student's handshake fails; the
    instructor's socket in the course room hears them go online at the next re-assert."""
    from collab.realtime import supervisor
    from tests.conftest import ws_connect
    from tests.sockets import drain

    watcher = await ws_connect(instructor)
    await drain(watcher, quiet=0.5)
    real = services.presence_sync_many
    failed = []

    def failing(**kwargs):
        if student.id in [services._as_uuid(u) for u in kwargs["user_ids"]]:
            failed.append(True)
            raise RuntimeError("the database hiccuped")
        return real(**kwargs)

    monkeypatch.setattr(services, "presence_sync_many", failing)
    comm = await ws_connect(student)
    try:
        for _ in range(50):
            if failed:
                break
            await asyncio.sleep(0.1)
        assert failed
        monkeypatch.setattr(services, "presence_sync_many", real)
        frames = await drain(watcher, quiet=0.5)
        assert [f for f in frames if f["event"] == "presence-changed"] == []  # shown offline
        assert await sync_to_async(leases.is_live)(student.id)

        await consumers.presence_reassert_leases(supervisor.open_sockets())
        frames = await drain(watcher, quiet=1.0)
        changed = [f["data"] for f in frames if f["event"] == "presence-changed"]
        assert [(d["userId"], d["status"]) for d in changed] == [(str(student.id), "online")]
    finally:
        await comm.disconnect()
        await watcher.disconnect()
