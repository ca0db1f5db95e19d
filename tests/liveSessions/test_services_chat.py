"""Services: live-session chat: a message stored and broadcast once, the hot path's statement
count, chat only while live, refusals, moderation, and the check constraints behind the
serializer."""

from __future__ import annotations

import pytest

from collab.core.errors import Conflict, InvalidInput, NotFound
from collab.core.jsonframes import iso
from collab.realtime.testing import capture_broadcasts
from liveSessions import selectors, services
from liveSessions.models import (
    LiveSession,
    SessionMessage,
)
from tests.liveSessions.conftest import S

pytestmark = pytest.mark.django_db


# -- chat ----------------------------------------------------------------------------------


def test_message_is_stored_and_broadcast_once(live, student, django_capture_on_commit_callbacks):
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        message = services.session_message_send(actor=student, session_id=live.id, message="  hello  ")
    assert message.body == "hello"
    assert sent.events() == ["session-new-message"]
    assert sent[0].room == f"session-{live.id}"
    assert sent[0].data == {
        "id": str(message.id),
        "sessionId": str(live.id),
        "userId": str(student.id),
        "name": student.name,
        "message": "hello",
        "sentAt": iso(message.sent_at),
    }


@pytest.mark.django_db(transaction=True)
def test_message_hot_path_is_one_statement_on_postgresql_and_one_read_one_insert_plus_the_outbox_elsewhere(
    live, student
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        services.session_message_send(actor=student, session_id=live.id, message="hi")
    captured = [q["sql"] for q in ctx.captured_queries if not q["sql"].startswith("BEGIN")]
    assert not any("FOR UPDATE" in sql for sql in captured)
    if connection.vendor == "postgresql":
        # The check, the message, the room's seq and the outbox row in one statement
        # (collab.realtime.fused_write; tests/realtime/test_fused_write.py), then the mark.
        assert [sql.split()[0] for sql in captured] == ["WITH", "UPDATE"]
        return
    commit = captured.index("COMMIT")
    queries, after = captured[:commit], captured[commit + 1 :]
    statements = [sql.split()[0] for sql in queries]
    # The read and the message; then, just before COMMIT, the room's seq (upsert) and the
    # outbox row. Nothing locks but the room's counter row, and only for the commit.
    assert statements == ["SELECT", "INSERT", "INSERT", "INSERT"]
    assert "realtime_roomsequence" in queries[2] and "realtime_roomevent" in queries[3]
    # After it, the send is marked (batched per second in a web process; at once here).
    assert [sql.split()[0] for sql in after] == ["UPDATE"] and "realtime_roomevent" in after[0]


@pytest.mark.parametrize("status", [S.SCHEDULED, S.ENDED, S.CANCELLED])
def test_chat_only_while_live(make_session, student, status):
    with pytest.raises(Conflict) as exc:
        services.session_message_send(actor=student, session_id=make_session(status).id, message="hi")
    assert exc.value.code == "session_not_live"


def test_chat_refuses_outsiders_and_bad_bodies(live, other_student, student):
    with pytest.raises(NotFound):
        services.session_message_send(actor=other_student, session_id=live.id, message="hi")
    with pytest.raises(InvalidInput) as exc:
        services.session_message_send(actor=student, session_id=live.id, message="x" * 2001)
    assert exc.value.code == "invalid" and exc.value.fields == {"message": ["At most 2000 characters."]}
    with pytest.raises(InvalidInput):
        services.session_message_send(actor=student, session_id=live.id, message="   ")
    with pytest.raises(InvalidInput):
        services.session_message_send(actor=student, session_id=live.id, message="a\x00b")
    assert services.session_message_send(actor=student, session_id=live.id, message="x" * 2000)
    assert SessionMessage.objects.count() == 1


def test_moderation_delete_hides_and_tells_the_room(live, student, admin_user, django_capture_on_commit_callbacks):
    message = services.session_message_send(actor=student, session_id=live.id, message="oops")
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        services.session_message_delete(message=message, actor=admin_user)
    assert sent.events() == ["session-message-deleted"]
    assert sent[0].data == {"id": str(message.id), "sessionId": str(live.id)}
    assert selectors.session_messages(session=live, limit=10) == ([], None)
    with pytest.raises(Conflict):
        services.session_message_delete(message=message, actor=admin_user)


def test_check_constraints_back_the_serializer(course):
    from django.db import IntegrityError, transaction

    from tests.liveSessions.factories import live_session

    for bad in ({"duration": 0}, {"capacity": 0}, {"duration": 1441}):
        with pytest.raises(IntegrityError), transaction.atomic():
            live_session(course, **bad)
    assert LiveSession.objects.count() == 0
