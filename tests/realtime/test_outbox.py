"""The outbox's writes at the end of each transaction (collab.core.db.before_commit):
transactions that broadcast to the same rooms in opposite orders never deadlock on the
rooms' seq counters, seqs stay gapless and in commit order, and what a savepoint or a
whole transaction rolled back writes nothing and uses no seq."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from collab.core.db import before_commit
from collab.realtime.broadcast import broadcast_on_commit
from collab.realtime.models import RoomEvent, RoomSequence

pytestmark = pytest.mark.django_db(transaction=True)


def seqs(room: str) -> list[tuple[int, dict]]:
    rows = RoomEvent.objects.filter(room=room).order_by("pos").values_list("seq", "message")
    return [(seq, message) for seq, message in rows]


@pytest.mark.postgres_only(reason="SQLite has one writer at a time: two transactions never hold row locks at once")
def test_transactions_broadcasting_to_rooms_in_opposite_orders_do_not_deadlock():
    """Each transaction sends to both rooms, in opposite orders, and both have sent their
    first broadcast before either sends its second: had the first broadcast locked its
    room's counter (as the outbox once did), each would wait for the other's room and
    PostgreSQL would abort one with a deadlock."""
    rooms = ("course-aaa-outbox", "study-group-zzz-outbox")
    both_sent_first = threading.Barrier(2, timeout=30)
    errors: list[BaseException] = []

    def work(order: tuple[str, str], rounds: int) -> None:
        try:
            for n in range(rounds):
                with transaction.atomic():
                    broadcast_on_commit(order[0], "test-event", {"n": n, "first": order[0]})
                    both_sent_first.wait()
                    broadcast_on_commit(order[1], "test-event", {"n": n, "first": order[0]})
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            both_sent_first.abort()
        finally:
            connection.close()

    threads = [
        threading.Thread(target=work, args=(rooms, 10)),
        threading.Thread(target=work, args=(tuple(reversed(rooms)), 10)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    for room in rooms:
        got = seqs(room)
        assert [seq for seq, _ in got] == list(range(1, 21))  # gapless, in write order
        assert RoomSequence.objects.get(room=room).seq == 20


def test_one_transaction_numbers_its_frames_per_room_in_the_order_they_were_sent():
    with transaction.atomic():
        broadcast_on_commit("session-b-outbox", "test-event", {"n": 1})
        broadcast_on_commit("course-a-outbox", "test-event", {"n": 2})
        broadcast_on_commit("session-b-outbox", "test-event", {"n": 3})
    frames = RoomEvent.objects.order_by("pos").values_list("room", "seq", "event")
    # Rows in the order they were sent (the relay sends by row order); seqs per room.
    assert list(frames) == [
        ("session-b-outbox", 1, "test-event"),
        ("course-a-outbox", 1, "test-event"),
        ("session-b-outbox", 2, "test-event"),
    ]
    texts = [message["text"] for _, message in seqs("session-b-outbox")]
    assert '"seq":1' in texts[0] and '"n":1' in texts[0] and '"seq":2' in texts[1] and '"n":3' in texts[1]


def test_the_payload_is_the_one_of_the_moment_it_was_sent():
    data = {"n": 1}
    with transaction.atomic():
        broadcast_on_commit("course-c-outbox", "test-event", data)
        data["n"] = 2  # written just before commit, but encoded when it was sent
    [(_seq, message)] = seqs("course-c-outbox")
    assert '"data":{"n":1}' in message["text"]


def test_a_rolled_back_savepoint_or_transaction_writes_nothing_and_uses_no_seq():
    room = "course-d-outbox"
    with transaction.atomic():
        broadcast_on_commit(room, "test-event", {"n": 1})
        try:
            with transaction.atomic():
                broadcast_on_commit(room, "test-event", {"n": 2})
                raise RuntimeError("roll the savepoint back")
        except RuntimeError:
            pass
        broadcast_on_commit(room, "test-event", {"n": 3})
    try:
        with transaction.atomic():
            broadcast_on_commit(room, "test-event", {"n": 4})
            raise RuntimeError("roll everything back")
    except RuntimeError:
        pass
    got = seqs(room)
    assert [seq for seq, _ in got] == [1, 2]
    texts = [message["text"] for _, message in got]
    assert '"n":1' in texts[0] and '"n":3' in texts[1]
    assert RoomSequence.objects.get(room=room).seq == 2


def test_a_failing_before_commit_hook_rolls_the_whole_transaction_back():
    room = "course-e-outbox"

    def fail() -> None:
        raise ValueError("no")

    with pytest.raises(ValueError):
        with transaction.atomic():
            broadcast_on_commit(room, "test-event", {"n": 1})
            before_commit(fail)
    assert not RoomEvent.objects.filter(room=room).exists()
    assert not RoomSequence.objects.filter(room=room).exists()
    # The connection is usable and the next transaction starts clean.
    with transaction.atomic():
        broadcast_on_commit(room, "test-event", {"n": 2})
    assert [seq for seq, _ in seqs(room)] == [1]


def test_before_commit_needs_a_transaction():
    with pytest.raises(transaction.TransactionManagementError):
        before_commit(lambda: None)
