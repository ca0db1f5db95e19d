"""Session chat under real concurrency (PostgreSQL, threads with their own connections):
a message sent while the session's row is locked by its end, and messages of one room
sent at once down both write paths (the one-statement write of
collab.realtime.fused_write and the general transaction)."""

from __future__ import annotations

import contextlib
import threading
import time

import orjson
import pytest
from django.db import connection, transaction

from collab.core.errors import Conflict
from collab.realtime.models import RoomEvent, RoomSequence
from liveSessions import services
from liveSessions.events import session_room
from liveSessions.models import SessionMessage, SessionStatus
from liveSessions.services.common import session_lock
from tests.concurrency import waiting_on_a_lock
from tests.factories import EnrollmentFactory, UserFactory
from tests.liveSessions.factories import live_session

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres_only(reason="row locks and the one-statement chat write are PostgreSQL's"),
]


@pytest.mark.parametrize("in_transaction", [False, True], ids=["one statement", "general transaction"])
def test_a_message_sent_while_the_end_holds_the_session_is_refused_or_stored_before_it(
    course, instructor, student, in_transaction
):
    """The end locks the session row, then (at its commit) the session room's seq; a
    message must not take them in the other order (the room's seq, then the session row
    for its foreign key, checked at COMMIT), or the two deadlock and PostgreSQL kills one
    of them. Both write paths of the chat."""
    live = live_session(course, status=SessionStatus.LIVE)
    locked, go = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def end() -> None:
        try:
            with transaction.atomic():
                session_lock(live.id)
                locked.set()
                go.wait(10)
                services.live_session_end(actor=instructor, session_id=live.id)
            outcome["end"] = "ended"
        except Exception as exc:
            outcome["end"] = exc
        finally:
            connection.close()

    def chat() -> None:
        try:
            with transaction.atomic() if in_transaction else contextlib.nullcontext():
                services.session_message_send(actor=student, session_id=live.id, message="last words")
            outcome["chat"] = "stored"
        except Exception as exc:
            outcome["chat"] = exc
        finally:
            connection.close()

    ender = threading.Thread(target=end)
    ender.start()
    assert locked.wait(10)
    sender = threading.Thread(target=chat)
    sender.start()
    deadline = time.monotonic() + 10
    while not waiting_on_a_lock() and time.monotonic() < deadline:
        time.sleep(0.02)
    go.set()
    ender.join(15)
    sender.join(15)
    assert outcome["end"] == "ended", outcome
    assert outcome["chat"] == "stored" or (
        isinstance(outcome["chat"], Conflict) and outcome["chat"].code == "session_not_live"
    ), outcome
    events = list(RoomEvent.objects.filter(room=session_room(live.id)).order_by("seq").values_list("event", flat=True))
    assert events[-1] == "session-ended"
    assert events.count("session-new-message") == SessionMessage.objects.count()


def test_messages_of_one_room_sent_at_once_down_both_paths_get_gapless_seqs_each_once(course):
    """Eight senders, half in a transaction (the general path), half not (one statement),
    each sending five messages at once: the room's seqs run 1..40 without gap or repeat,
    each message has exactly one frame, and a frame's text carries its row's seq."""
    live = live_session(course, status=SessionStatus.LIVE)
    room = session_room(live.id)
    senders = []
    for _ in range(8):
        user = UserFactory()
        EnrollmentFactory(course=course, user=user)
        senders.append(user)
    start = threading.Barrier(len(senders))
    failures: list[BaseException] = []

    def send(index: int, user) -> None:
        try:
            start.wait(10)
            for n in range(5):
                text = f"{index}-{n}"
                if index % 2:
                    with transaction.atomic():
                        services.session_message_send(actor=user, session_id=live.id, message=text)
                else:
                    services.session_message_send(actor=user, session_id=live.id, message=text)
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(i, u)) for i, u in enumerate(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []
    rows = list(RoomEvent.objects.filter(room=room).order_by("pos").values_list("seq", "message"))
    assert [seq for seq, _ in rows] == list(range(1, 41))  # commit order is seq order
    texts = [orjson.loads(message["text"]) for _, message in rows]
    assert all(text["seq"] == seq == message["seq"] for text, (seq, message) in zip(texts, rows, strict=True))
    stored = set(SessionMessage.objects.values_list("id", flat=True))
    assert sorted(str(i) for i in stored) == sorted(text["data"]["id"] for text in texts)
    assert RoomSequence.objects.get(room=room).seq == 40
