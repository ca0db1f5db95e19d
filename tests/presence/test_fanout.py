"""The coalescing fan-out: at most one presence frame per course room per window."""

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async

from collab.realtime import broadcast
from collab.realtime.testing import capture_broadcasts
from presence import fanout
from tests.conftest import ws_connect
from tests.factories import EnrollmentFactory, UserFactory
from tests.sockets import drain

pytestmark = pytest.mark.django_db(transaction=True)

ROOM = "course-00000000-0000-0000-0000-000000000001"


def _payload(n: int, status: str = "online") -> dict:
    return {"userId": f"user-{n}", "status": status, "activity": "", "lastSeenAt": None}


@pytest.fixture
def window(settings):
    settings.PRESENCE_BROADCAST_WINDOW = 0.3
    return 0.3


def test_first_change_goes_at_once_then_one_batch_per_window(window):
    with capture_broadcasts() as sent:
        fanout.announce([ROOM], _payload(0))
        assert [(b.event, b.data["userId"]) for b in sent] == [("presence-changed", "user-0")]
        for n in range(1, 6):
            fanout.announce([ROOM], _payload(n))
        fanout.announce([ROOM], _payload(3, "offline"))  # the latest change per user wins
        assert len(sent) == 1
        time.sleep(window + 0.2)
        assert [b.event for b in sent] == ["presence-changed", "presence-batch"]
        batch = {item["userId"]: item["status"] for item in sent[1].data["users"]}
        assert batch == {
            "user-1": "online",
            "user-2": "online",
            "user-3": "offline",
            "user-4": "online",
            "user-5": "online",
        }
        # Nothing waited in the next window: it closed, and the next change goes at once.
        time.sleep(window + 0.2)
        fanout.announce([ROOM], _payload(9))
        assert [b.event for b in sent][-1] == "presence-changed"
        assert sent[-1].data["userId"] == "user-9"
        assert len(sent) == 3


def test_single_waiting_change_is_a_plain_presence_changed(window):
    with capture_broadcasts() as sent:
        fanout.announce([ROOM], _payload(0))
        fanout.announce([ROOM], _payload(1))
        time.sleep(window + 0.2)
    assert [(b.event, b.data["userId"]) for b in sent] == [
        ("presence-changed", "user-0"),
        ("presence-changed", "user-1"),
    ]


def test_rooms_are_coalesced_separately(window):
    other = "course-00000000-0000-0000-0000-000000000002"
    with capture_broadcasts() as sent:
        fanout.announce([ROOM, other], _payload(0))
    assert sorted(b.room for b in sent) == sorted([ROOM, other])


def test_changes_left_by_a_dead_owner_go_out_with_the_next_change(window, monkeypatch):
    monkeypatch.setattr(fanout._coalescer, "_schedule_drain", lambda *args: None)  # the owner "dies"
    with capture_broadcasts() as sent:
        fanout.announce([ROOM], _payload(0))
        fanout.announce([ROOM], _payload(1))
        time.sleep(window * 3 + 0.2)  # its window lapses
        fanout.announce([ROOM], _payload(2))
    assert [b.event for b in sent] == ["presence-changed", "presence-batch"]
    assert sorted(item["userId"] for item in sent[1].data["users"]) == ["user-1", "user-2"]


def test_window_zero_sends_every_change(settings):
    settings.PRESENCE_BROADCAST_WINDOW = 0
    with capture_broadcasts() as sent:
        for n in range(3):
            fanout.announce([ROOM], _payload(n))
    assert [b.event for b in sent] == ["presence-changed"] * 3


async def test_storm_of_connects_reaches_each_member_at_most_twice_a_second(course, instructor):
    """A small presence storm: 40 classmates connect at once; an observer in the course
    hears every one of them online, and the course room is sent no more than two
    presence frames in any second. (Send times are measured where they are decided:
    in one process, the test's own event loop would bunch up arrivals.)"""
    students = []
    for _ in range(40):
        user = await sync_to_async(UserFactory)()
        await sync_to_async(EnrollmentFactory)(course=course, user=user)
        students.append(user)
    observer = await ws_connect(instructor)
    await drain(observer, quiet=fanout.window_seconds() + 0.3)

    sends: list[float] = []
    room = f"course-{course.id}"

    def record(item) -> None:
        if item.room == room and item.event in ("presence-changed", "presence-batch"):
            sends.append(time.monotonic())

    broadcast._listeners.append(record)
    heard: set[str] = set()
    frames = 0
    try:
        sockets = await asyncio.gather(*(ws_connect(user) for user in students))
        while len(heard) < 40:
            frame = await observer.receive_json_from(timeout=5)
            if frame["event"] == "presence-changed":
                heard.add(frame["data"]["userId"])
            elif frame["event"] == "presence-batch":
                heard.update(item["userId"] for item in frame["data"]["users"])
            frames += 1
        assert await observer.receive_nothing(timeout=fanout.window_seconds() + 0.3)
    finally:
        broadcast._listeners.remove(record)
    assert heard == {str(user.id) for user in students}
    assert frames == len(sends) < 40
    for index, start in enumerate(sends):
        assert len([t for t in sends[index:] if t - start < 1.0]) <= 2, sends
    for comm in sockets:
        await comm.disconnect()
    await observer.disconnect()
