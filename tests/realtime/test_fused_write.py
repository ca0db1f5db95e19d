"""A guarded insert and its room frame in one statement (collab.realtime.fused_write), as
the session chat uses it: what it writes is what the general transaction writes (the
message, the room's next seq, the frame's exact text, sent and marked), refusals write
nothing and use no seq, the statement compiled once per shape answers every later
caller with that caller's own ids, and it falls back where it does not apply."""

from __future__ import annotations

import uuid

import orjson
import pytest
from django.db import connection, transaction

from collab.core.errors import Conflict, NotFound
from collab.realtime import fused_write
from collab.realtime.models import RoomEvent, RoomSequence
from collab.realtime.testing import capture_broadcasts
from liveSessions import services
from liveSessions.events import session_room
from liveSessions.models import LiveSession, SessionMessage, SessionStatus
from tests.factories import CourseFactory, EnrollmentFactory, UserFactory
from tests.liveSessions.factories import live_session

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres_only(reason="SQLite has no data-modifying WITH: the chat takes the general transaction"),
]


@pytest.fixture(autouse=True)
def _fresh_statements():
    # Each test compiles its shapes itself (the cache is per process).
    fused_write._statements.clear()
    yield
    fused_write._statements.clear()


def frames(room: str) -> list[dict]:
    rows = RoomEvent.objects.filter(room=room).order_by("pos").values("seq", "event", "message", "sent_at", "id")
    return list(rows)


def seq_of(room: str) -> int:
    return RoomSequence.objects.filter(room=room).values_list("seq", flat=True).first() or 0


def test_a_chat_message_and_its_frame_are_one_statement_and_the_frame_is_what_the_outbox_writes(course, student):
    live = live_session(course, status=SessionStatus.LIVE)
    room = session_room(live.id)
    from django.test.utils import CaptureQueriesContext

    with capture_broadcasts() as sent, CaptureQueriesContext(connection) as queries:
        stored = services.session_message_send(actor=student, session_id=live.id, message="  hello  ")
    statements = [q["sql"] for q in queries.captured_queries]
    # One statement (no BEGIN/COMMIT: PostgreSQL runs it as its own transaction), then
    # the send's mark (at once outside a web process).
    assert len(statements) == 2 and statements[0].startswith("WITH change AS (INSERT INTO")
    assert statements[1].startswith("UPDATE") and "realtime_roomevent" in statements[1]
    assert SessionMessage.objects.get().body == "hello" and stored.id == SessionMessage.objects.get().id
    assert sent.events() == ["session-new-message"] and sent[0].room == room
    [row] = frames(room)
    assert row["seq"] == 1 and row["event"] == "session-new-message" and row["sent_at"] is not None
    text = row["message"]["text"]
    assert orjson.loads(text) == {
        "event": "session-new-message",
        "room": room,
        "seq": 1,
        "id": str(row["id"]),
        "data": sent[0].data,
    }
    # The exact bytes the general path writes for the same frame.
    assert text.startswith(f'{{"event":"session-new-message","room":"{room}","seq":1,"id":')
    assert {k: v for k, v in row["message"].items() if k != "text"} == {"type": "room.frame", "room": room, "seq": 1}
    assert seq_of(room) == 1


def test_seqs_run_on_across_both_paths(course, student, instructor):
    live = live_session(course, status=SessionStatus.LIVE)
    room = session_room(live.id)
    services.session_message_send(actor=student, session_id=live.id, message="one")
    with transaction.atomic():  # inside a transaction: the general path
        services.session_message_send(actor=instructor, session_id=live.id, message="two")
    services.session_message_send(actor=instructor, session_id=live.id, message="three")
    assert [(f["seq"], orjson.loads(f["message"]["text"])["data"]["message"]) for f in frames(room)] == [
        (1, "one"),
        (2, "two"),
        (3, "three"),
    ]
    assert seq_of(room) == 3


@pytest.mark.parametrize("status", [SessionStatus.SCHEDULED, SessionStatus.ENDED, SessionStatus.CANCELLED])
def test_a_session_not_live_refuses_and_nothing_is_written(course, student, status):
    live = live_session(course, status=status)
    with pytest.raises(Conflict) as exc:
        services.session_message_send(actor=student, session_id=live.id, message="hi")
    assert exc.value.code == "session_not_live"
    assert not SessionMessage.objects.exists() and not RoomEvent.objects.exists()
    assert seq_of(session_room(live.id)) == 0


def test_the_shape_compiled_for_one_caller_checks_every_later_caller_with_their_own_ids(course, student):
    """The statement is compiled on the first send and reused: a later outsider, a later
    member of another course, a missing session are each judged on their own ids."""
    live = live_session(course, status=SessionStatus.LIVE)
    outsider = UserFactory()
    elsewhere = UserFactory()
    EnrollmentFactory(course=CourseFactory(), user=elsewhere)
    services.session_message_send(actor=student, session_id=live.id, message="first")  # compiles
    assert len(fused_write._statements) == 1 and next(iter(fused_write._statements.values())) is not False
    for actor, session_id in [(outsider, live.id), (elsewhere, live.id), (student, uuid.uuid4())]:
        with pytest.raises(NotFound) as exc:
            services.session_message_send(actor=actor, session_id=session_id, message="let me in")
        assert exc.value.code == "session_not_found"
    # A member of this course joins later: allowed with the same compiled statement.
    newcomer = UserFactory()
    EnrollmentFactory(course=course, user=newcomer)
    services.session_message_send(actor=newcomer, session_id=live.id, message="hi all")
    assert list(SessionMessage.objects.order_by("sent_at").values_list("author_id", "body")) == [
        (student.id, "first"),
        (newcomer.id, "hi all"),
    ]
    assert [f["seq"] for f in frames(session_room(live.id))] == [1, 2]
    assert len(fused_write._statements) == 1


def test_instructor_and_admin_shapes(course, instructor, admin_user):
    live = live_session(course, status=SessionStatus.LIVE)
    services.session_message_send(actor=instructor, session_id=live.id, message="from the front")
    services.session_message_send(actor=admin_user, session_id=live.id, message="from staff")
    assert SessionMessage.objects.count() == 2
    assert len(fused_write._statements) == 2  # member shape, admin shape
    ended = live_session(course, status=SessionStatus.ENDED)
    with pytest.raises(Conflict):
        services.session_message_send(actor=admin_user, session_id=ended.id, message="late")


def test_a_guard_whose_parameters_are_not_the_ids_is_compiled_every_time(course, student):
    """A guard that derives a parameter from an id (here the id's text in a LIKE) cannot
    be reused with other ids: it is found out on the first compile and never cached."""
    live = live_session(course, status=SessionStatus.LIVE)
    other = live_session(course, status=SessionStatus.LIVE)

    def contains_id(*, session_id):
        return LiveSession.objects.filter(id=session_id, status=SessionStatus.LIVE).extra(
            where=["CAST(id AS text) LIKE %s"], params=[f"{str(session_id)[:8]}%"]
        )

    for target in (live, other):
        message = SessionMessage(id=uuid.uuid4(), session_id=target.id, author=student, body="x")
        guard = fused_write.Guard(contains_id, "by text", session_id=target.id)
        assert fused_write.insert_with_frame(
            message, guard=guard, room=session_room(target.id), event="session-new-message", data={"n": 1}
        )
    assert [known for key, known in fused_write._statements.items() if key[-1] == "by text"] == [False]
    assert [f["seq"] for f in frames(session_room(other.id))] == [1]


def test_it_does_not_apply_inside_a_transaction():
    assert fused_write.available()
    with transaction.atomic():
        assert not fused_write.available()


def test_guards_of_one_model_built_by_different_functions_never_share_a_statement(course, student):
    """The shape names a queryset's structure within one guard function; two functions
    guarding writes of the same model with the same shape (a bare True/False, say) are
    still two statements, or the second would run the first's check."""
    live = live_session(course, status=SessionStatus.LIVE)
    scheduled = live_session(course, status=SessionStatus.SCHEDULED)

    def live_only(*, session_id):
        return LiveSession.objects.filter(id=session_id, status=SessionStatus.LIVE)

    def scheduled_only(*, session_id):
        return LiveSession.objects.filter(id=session_id, status=SessionStatus.SCHEDULED)

    def insert(build, target) -> bool:
        message = SessionMessage(id=uuid.uuid4(), session_id=target.id, author=student, body="x")
        guard = fused_write.Guard(build, False, session_id=target.id)
        return fused_write.insert_with_frame(
            message, guard=guard, room=session_room(target.id), event="session-new-message", data={"n": 1}
        )

    assert insert(live_only, live)
    assert insert(scheduled_only, scheduled)
    assert not insert(scheduled_only, live) and not insert(live_only, scheduled)
    assert SessionMessage.objects.count() == 2


def _outcome(actor, session_id) -> str:
    try:
        services.session_message_send(actor=actor, session_id=session_id, message="hi")
    except (NotFound, Conflict) as exc:
        return exc.code
    return "stored"


@pytest.mark.parametrize("status", [SessionStatus.LIVE, SessionStatus.SCHEDULED, SessionStatus.ENDED])
def test_who_may_chat_is_the_same_on_both_paths(status, instructor, student, admin_user):
    """Every kind of actor against a course session and a session without a course, each
    asked first down the one statement (compiling its shape with that actor's own ids),
    then in a transaction (the general path): the same answer, and what was stored is
    what each answer says."""
    from collab.courses.models import EnrollmentRole
    from tests.factories import InstructorFactory

    course = CourseFactory(instructor=instructor)
    EnrollmentFactory(course=course, user=student)
    ta = UserFactory()
    EnrollmentFactory(course=course, user=ta, role=EnrollmentRole.TA)
    host = InstructorFactory()  # hosts the course's session without teaching the course
    outsider, elsewhere = UserFactory(), UserFactory()
    EnrollmentFactory(course=CourseFactory(), user=elsewhere)
    sessions = {
        "course": live_session(course, instructor=host, status=status),
        "open": live_session(None, instructor=host, status=status),
    }
    actors = {
        "course instructor": instructor,
        "student": student,
        "ta": ta,
        "host": host,
        "admin": admin_user,
        "outsider": outsider,
        "member elsewhere": elsewhere,
    }
    strangers = {"outsider", "member elsewhere"}  # may chat in the open session only
    for kind, session in sessions.items():
        allowed = [name for name in actors if kind == "open" or name not in strangers]
        for name, actor in actors.items():
            if name not in allowed:
                expected = "session_not_found"
            else:
                expected = "stored" if status == SessionStatus.LIVE else "session_not_live"
            fused_write._statements.clear()  # compiled with this actor's own ids
            assert (_outcome(actor, session.id), name, kind) == (expected, name, kind)
            with transaction.atomic():  # the general path
                assert (_outcome(actor, session.id), name, kind) == (expected, name, kind)
            # Once more with the shape compiled by a refused caller (a stranger, a missing session).
            fused_write._statements.clear()
            assert _outcome(outsider if name != "admin" else actor, uuid.uuid4()) == "session_not_found"
            assert (_outcome(actor, session.id), name, kind) == (expected, name, kind)
        stored = SessionMessage.objects.filter(session_id=session.id).count()
        assert stored == (3 * len(allowed) if status == SessionStatus.LIVE else 0)
    assert RoomEvent.objects.count() == SessionMessage.objects.count()


def test_a_statement_that_fails_writes_nothing_uses_no_seq_and_sends_nothing(course, student):
    """A duplicate key (here the message's id) fails the whole statement: no frame, the
    room's seq unchanged, nothing sent; the connection goes on working."""
    from django.db import IntegrityError

    live = live_session(course, status=SessionStatus.LIVE)
    room = session_room(live.id)
    first = services.session_message_send(actor=student, session_id=live.id, message="one")
    again = SessionMessage(id=first.id, session_id=live.id, author=student, body="two")
    guard = fused_write.Guard(
        lambda *, session_id: LiveSession.objects.filter(id=session_id), "any", session_id=live.id
    )
    with capture_broadcasts() as sent, pytest.raises(IntegrityError):
        fused_write.insert_with_frame(again, guard=guard, room=room, event="session-new-message", data={"n": 2})
    assert sent.events() == [] and seq_of(room) == 1 and [f["seq"] for f in frames(room)] == [1]
    services.session_message_send(actor=student, session_id=live.id, message="three")
    assert [f["seq"] for f in frames(room)] == [1, 2]
