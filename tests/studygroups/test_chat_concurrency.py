"""Study-group chat under real concurrency (PostgreSQL, threads with their own
connections): a message sent while a join holds the group's row. The join locks the
group, then (at its commit) the group's room seq; the message bumps the room's seq, then
its foreign key needs the group row: with the group locked FOR UPDATE the two waited on
each other and PostgreSQL killed one ("deadlock detected")."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from studygroups import services
from studygroups.events import group_room
from studygroups.models import StudyGroupMember, StudyGroupMessage
from studygroups.services.common import lock_group
from tests.concurrency import waiting_on_a_lock
from tests.studygroups.conftest import enrolled_student, make_group

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres_only(reason="row locks are PostgreSQL's (SQLite has one writer at a time)"),
]


def test_a_message_sent_while_a_join_holds_the_group_is_stored_and_neither_deadlocks(course, student):
    group = make_group(course, student)
    joiner = enrolled_student(course)
    locked, go = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def join() -> None:
        try:
            with transaction.atomic():
                lock_group(actor=joiner, group_id=group.id)
                locked.set()
                go.wait(10)
                services.study_group_join(actor=joiner, group_id=group.id)
            outcome["join"] = "joined"
        except Exception as exc:
            outcome["join"] = exc
        finally:
            connection.close()

    def chat() -> None:
        try:
            services.study_group_message_send(actor=student, group_id=group.id, body="welcome")
            outcome["chat"] = "stored"
        except Exception as exc:
            outcome["chat"] = exc
        finally:
            connection.close()

    joining = threading.Thread(target=join)
    joining.start()
    assert locked.wait(10)
    sender = threading.Thread(target=chat)
    sender.start()
    # The message must not wait for the join's lock (it needs only the key of the row).
    sender.join(5)
    waited = waiting_on_a_lock()
    go.set()
    joining.join(15)
    sender.join(15)
    assert outcome == {"join": "joined", "chat": "stored"}, outcome
    assert not waited
    assert StudyGroupMessage.objects.filter(group=group).count() == 1
    assert StudyGroupMember.objects.filter(group=group, user=joiner).exists()
    from collab.realtime.models import RoomEvent

    seqs = list(RoomEvent.objects.filter(room=group_room(group.id)).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
