"""Socket events, in-process: two real sockets (instructor and student) see the whole
lifecycle in order; a socket outside the course sees nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from collab.core.jsonframes import iso
from collab.courses.models import EnrollmentRole
from liveSessions import services
from liveSessions.models import AttendanceInterval, SessionAttendance, SessionMessage, SessionStatus
from tests.conftest import ws_connect
from tests.factories import CourseFactory, EnrollmentFactory, InstructorFactory, UserFactory
from tests.liveSessions.factories import live_session
from tests.sockets import drain, receive_frames, request, send

pytestmark = pytest.mark.django_db(transaction=True)

S = SessionStatus
db = database_sync_to_async


def names(items: list[dict]) -> list[tuple[str, str | None]]:
    return [(f["event"], f.get("room")) for f in items]


async def test_lifecycle_seen_by_instructor_and_student_and_nobody_outside(course, instructor, student):
    outsider = await db(UserFactory)()
    other_course = await db(CourseFactory)()
    await db(EnrollmentFactory)(course=other_course, user=outsider)
    teacher = await ws_connect(instructor)
    learner = await ws_connect(student)
    stranger = await ws_connect(outsider)
    croom = f"course-{course.id}"
    try:
        session = await db(services.live_session_create)(
            actor=instructor,
            title="Lifecycle",
            scheduled_at=timezone.now() + timedelta(minutes=5),
            duration=30,
            course_id=course.id,
        )
        sroom = f"session-{session.id}"
        for comm in (teacher, learner):
            (scheduled,) = await receive_frames(comm, 1)
            assert (scheduled["event"], scheduled["room"]) == ("live-session-scheduled", croom)
            assert scheduled["data"]["sessionId"] == str(session.id)
            assert scheduled["data"]["session"]["status"] == "scheduled"

        # Room entry waits for the start.
        refused = await request(learner, "join-live-session", {"sessionId": str(session.id)})
        assert refused["event"] == "error" and refused["data"]["code"] == "session_not_live"

        await db(services.live_session_start)(actor=instructor, session_id=session.id)
        for comm in (teacher, learner):
            (started,) = await receive_frames(comm, 1)
            assert (started["event"], started["room"]) == ("session-started", croom)
            assert started["data"]["session"]["status"] == "live"
            assert started["data"]["startedAt"]

        ack = await request(teacher, "join-live-session", {"sessionId": str(session.id)})
        assert ack["event"] == "ack" and ack["data"]["room"] == sroom
        ack = await request(learner, "join-live-session", {"sessionId": str(session.id)})
        assert ack["event"] == "ack" and ack["data"]["activeAttendees"] == 1

        joined, participant = await receive_frames(teacher, 2)
        assert names([joined, participant]) == [("attendee-joined", sroom), ("session-participant-joined", sroom)]
        assert joined["data"] == {
            "sessionId": str(session.id),
            "userId": str(student.id),
            "name": student.name,
            "activeAttendees": 1,
            "attendee": joined["data"]["attendee"],  # the REST list item: tests/core/test_wire_format.py
        }
        assert joined["data"]["attendee"]["userId"] == str(student.id) and joined["data"]["attendee"]["present"]
        assert participant["data"] == {"sessionId": str(session.id), "userId": str(student.id), "name": student.name}

        # Chat reaches both, the sender included, once; its ack carries the id.
        await send(learner, "session-message", {"sessionId": str(session.id), "message": "Hello class"}, ref="m")
        # The ack is sent straight back, the message comes through the room: either may be first.
        # The teacher's own join is announced after its commit (liveSessions.announce): when
        # that lands after the learner's join point, the learner hears it too, and may now.
        got: list[dict] = []
        while len(got) < 2:
            (frame,) = await receive_frames(learner, 1)
            if frame["event"] == "session-participant-joined" and frame["data"]["userId"] == str(instructor.id):
                continue
            got.append(frame)
        ack, new = sorted(got, key=lambda f: f["event"])
        assert (new["event"], ack["event"]) == ("session-new-message", "ack")
        assert ack["data"]["id"] == new["data"]["id"]
        (seen,) = await receive_frames(teacher, 1)
        assert seen == new
        assert seen["data"]["message"] == "Hello class" and seen["data"]["userId"] == str(student.id)
        assert seen["data"]["sessionId"] == str(session.id)

        # Typing goes to the others only.
        await send(learner, "session-typing-start", {"sessionId": str(session.id)})
        await send(learner, "session-typing-stop", {"sessionId": str(session.id)})
        typing = await receive_frames(teacher, 2)
        assert names(typing) == [("session-user-typing", sroom), ("session-user-stop-typing", sroom)]
        assert typing[0]["data"]["userId"] == str(student.id)
        assert await learner.receive_nothing(timeout=0.3)

        ended = await db(services.live_session_end)(
            actor=instructor, session_id=session.id, recording_url="https://rec.example/1"
        )
        for comm in (teacher, learner):
            got = await receive_frames(comm, 2)
            assert names(got) == [("session-ended", croom), ("session-ended", sroom)]
            assert got[0]["data"] == {
                "sessionId": str(session.id),
                "courseId": str(course.id),
                "endedAt": iso(ended.ended_at),
                "recordingUrl": "https://rec.example/1",
            }

        # The room is emptied: no chat after the end.
        refused = await request(learner, "session-message", {"sessionId": str(session.id), "message": "late"})
        assert refused["event"] == "error" and refused["data"]["code"] == "not_in_session"
        assert await stranger.receive_nothing(timeout=0.3)
        assert await teacher.receive_nothing(timeout=0.2)
    finally:
        for comm in (teacher, learner, stranger):
            await comm.disconnect()


async def test_cancel_reaches_the_course_room_only(course, instructor, student):
    session = await db(live_session)(course)
    learner = await ws_connect(student)
    try:
        await db(services.live_session_cancel)(actor=instructor, session_id=session.id)
        (frame,) = await receive_frames(learner, 1)
        assert (frame["event"], frame["room"]) == ("live-session-cancelled", f"course-{course.id}")
        assert frame["data"]["sessionId"] == str(session.id) and frame["data"]["cancelledAt"]
    finally:
        await learner.disconnect()


async def test_outsiders_and_bad_frames_are_refused(course, student):
    session = await db(live_session)(course, status=S.LIVE)
    outsider = await db(UserFactory)()
    stranger = await ws_connect(outsider)
    learner = await ws_connect(student)
    try:
        reply = await request(stranger, "join-live-session", {"sessionId": str(session.id)})
        assert reply["data"]["code"] == "session_not_found"
        reply = await request(stranger, "session-message", {"sessionId": str(session.id), "message": "hi"})
        assert reply["data"]["code"] == "not_in_session"
        not_in_session = reply["data"]["message"]
        reply = await request(stranger, "session-typing-start", {"sessionId": str(session.id)})
        assert reply["data"] == {"code": "not_in_session", "message": not_in_session}
        reply = await request(learner, "join-live-session", {"sessionId": "not-a-uuid"})
        assert reply["data"]["code"] == "invalid" and "sessionId" in reply["data"]["fields"]
        reply = await request(learner, "join-live-session", {})
        assert reply["event"] == "error"
        reply = await request(learner, "leave-live-session", {"sessionId": str(session.id)})
        # One refusal, one message, whichever event met it.
        assert reply["data"] == {"code": "not_in_session", "message": not_in_session}

        await request(learner, "join-live-session", {"sessionId": str(session.id)})
        reply = await request(learner, "session-message", {"sessionId": str(session.id), "message": "x" * 2001})
        assert reply["data"]["code"] == "invalid"
        assert reply["data"]["fields"] == {"message": ["At most 2000 characters."]}
        reply = await request(learner, "session-message", {"sessionId": str(session.id), "message": "   "})
        assert reply["data"]["code"] == "invalid" and reply["data"]["fields"] == {"message": ["May not be empty."]}
        reply = await request(learner, "session-message", {"sessionId": str(session.id), "message": "a\u0000b"})
        assert reply["data"]["code"] == "invalid" and "U+0000" in reply["data"]["fields"]["message"][0]
        reply = await request(learner, "session-message", {"sessionId": str(session.id), "message": ["x"]})
        assert reply["event"] == "error"
        assert await db(SessionMessage.objects.count)() == 0
        assert await stranger.receive_nothing(timeout=0.3)
    finally:
        await stranger.disconnect()
        await learner.disconnect()


BAD_IDS = [False, True, 0, 1, 1.5, "BARE_HEX", "BRACES", "URN", ""]


async def test_a_session_id_that_is_not_a_uuid_string_is_invalid_naming_it(course, student):
    """issue 15: every session event reads its id by the REST rule (StrictUUIDField):
    DRF's UUIDField took `false` as UUID 0 and numbers as ids."""
    session = await db(live_session)(course, status=S.LIVE)
    learner = await ws_connect(student)
    spelled = {"BARE_HEX": session.id.hex, "BRACES": f"{{{session.id}}}", "URN": f"urn:uuid:{session.id}"}
    try:
        for event in ["join-live-session", "leave-live-session", "session-message", "session-typing-start"]:
            for bad in BAD_IDS:
                value = spelled.get(bad, bad) if isinstance(bad, str) else bad
                # Only session-message takes a message: elsewhere it would be an unknown key.
                data = {"sessionId": value, **({"message": "hi"} if event == "session-message" else {})}
                reply = await request(learner, event, data)
                assert reply["event"] == "error", (event, bad)
                assert reply["data"]["code"] == "invalid", (event, bad)
                assert list(reply["data"]["fields"]) == ["sessionId"], (event, bad)
        assert await db(SessionMessage.objects.count)() == 0
        ok = await request(learner, "join-live-session", {"sessionId": str(session.id).upper()})
        assert ok["event"] == "ack", ok
    finally:
        await learner.disconnect()


async def test_socket_join_respects_capacity(course, student):
    session = await db(live_session)(course, status=S.LIVE, capacity=1)
    other = await db(UserFactory)()
    await db(EnrollmentFactory)(course=course, user=other)
    first = await ws_connect(student)
    second = await ws_connect(other)
    try:
        assert (await request(first, "join-live-session", {"sessionId": str(session.id)}))["event"] == "ack"
        reply = await request(second, "join-live-session", {"sessionId": str(session.id)})
        assert reply["data"]["code"] == "session_full"
        # The refused socket is not in the room: the first one's chat does not reach it.
        await send(first, "session-message", {"sessionId": str(session.id), "message": "hi"})
        assert await second.receive_nothing(timeout=0.3)
    finally:
        await first.disconnect()
        await second.disconnect()


async def test_two_tabs_keep_a_user_present_until_the_last_disconnects(course, instructor, student):
    session = await db(live_session)(course, status=S.LIVE)
    teacher = await ws_connect(instructor)
    tab1 = await ws_connect(student)
    tab2 = await ws_connect(student)
    sid = str(session.id)
    try:
        await request(teacher, "join-live-session", {"sessionId": sid})
        await request(tab1, "join-live-session", {"sessionId": sid})
        assert names(await receive_frames(teacher, 2)) == [
            ("attendee-joined", f"session-{sid}"),
            ("session-participant-joined", f"session-{sid}"),
        ]
        await request(tab2, "join-live-session", {"sessionId": sid})
        # Same user, second tab: no new attendee, no new participant.
        assert await teacher.receive_nothing(timeout=0.3)
        await tab1.disconnect()
        assert await teacher.receive_nothing(timeout=0.3)
        attendance = await db(SessionAttendance.objects.get)(session=session, user=student)
        assert attendance.present_since is not None

        await tab2.disconnect()
        left = await receive_frames(teacher, 2)
        assert names(left) == [("attendee-left", f"session-{sid}"), ("session-participant-left", f"session-{sid}")]
        assert left[0]["data"]["activeAttendees"] == 0
        interval = await db(AttendanceInterval.objects.get)(attendance__user=student)
        assert interval.left_at is not None and interval.left_reason == "disconnected"
    finally:
        await teacher.disconnect()


async def test_leave_event_frees_the_seat_and_tells_the_others(course, instructor, student):
    session = await db(live_session)(course, status=S.LIVE)
    teacher = await ws_connect(instructor)
    learner = await ws_connect(student)
    sid = str(session.id)
    try:
        await request(teacher, "join-live-session", {"sessionId": sid})
        await request(learner, "join-live-session", {"sessionId": sid})
        await receive_frames(teacher, 2)
        ack = await request(learner, "leave-live-session", {"sessionId": sid})
        assert ack["event"] == "ack"
        # The leaver may hear its own attendee-left (it is still in the room at commit).
        assert {f["event"] for f in await drain(learner)} <= {"attendee-left"}
        assert names(await receive_frames(teacher, 2)) == [
            ("attendee-left", f"session-{sid}"),
            ("session-participant-left", f"session-{sid}"),
        ]
        await send(teacher, "session-message", {"sessionId": sid, "message": "still here?"})
        assert await learner.receive_nothing(timeout=0.3)
    finally:
        await teacher.disconnect()
        await learner.disconnect()


async def test_rest_leave_moves_the_sockets_out(course, student, api):
    session = await db(live_session)(course, status=S.LIVE)
    learner = await ws_connect(student)
    sid = str(session.id)
    try:
        await request(learner, "join-live-session", {"sessionId": sid})
        await db(services.attendance_leave)(actor=student, session_id=session.id)
        # Let the control message move the socket, then it no longer hears the room.
        assert {f["event"] for f in await drain(learner)} <= {"attendee-left", "session-participant-left"}
        reply = await request(learner, "session-typing-start", {"sessionId": sid})
        assert reply["data"]["code"] == "not_in_session"
    finally:
        await learner.disconnect()


async def test_unenrolled_user_in_the_room_can_no_longer_chat(course, instructor, student):
    session = await db(live_session)(course, status=S.LIVE)
    learner = await ws_connect(student)
    try:
        await request(learner, "join-live-session", {"sessionId": str(session.id)})
        from collab.courses.services import enrollment_delete

        await db(enrollment_delete)(actor=instructor, course=course, user_id=student.id)
        # Unenrolment takes the socket out of the room (and the user out of the session).
        assert "course-unenrolled" in {f["event"] for f in await drain(learner)}
        reply = await request(learner, "session-message", {"sessionId": str(session.id), "message": "hi"})
        assert reply["data"]["code"] == "not_in_session"
        reply = await request(learner, "join-live-session", {"sessionId": str(session.id)})
        assert reply["data"]["code"] == "session_not_found"
    finally:
        await learner.disconnect()


async def test_moderation_delete_reaches_the_room(course, student, admin_user):
    session = await db(live_session)(course, status=S.LIVE)
    learner = await ws_connect(student)
    try:
        await request(learner, "join-live-session", {"sessionId": str(session.id)})
        message = await db(services.session_message_send)(actor=student, session_id=session.id, message="oops")
        (new,) = await receive_frames(learner, 1)
        assert new["event"] == "session-new-message"
        await db(services.session_message_delete)(message=message, actor=admin_user)
        (deleted,) = await receive_frames(learner, 1)
        assert deleted["event"] == "session-message-deleted"
        assert deleted["data"] == {"id": str(message.id), "sessionId": str(session.id)}
    finally:
        await learner.disconnect()


async def test_anyone_signed_in_may_enter_an_open_session(instructor):
    session = await db(live_session)(None, instructor=instructor, status=S.LIVE)
    walk_in = await db(UserFactory)()
    comm = await ws_connect(walk_in)
    try:
        ack = await request(comm, "join-live-session", {"sessionId": str(session.id)})
        assert ack["event"] == "ack"
    finally:
        await comm.disconnect()


# The socket side of the REST matrix (tests/liveSessions/test_api.py) for a course
# session: entering the room and chatting ask the same rules as the REST join. A TA
# is a member of the course like its students; another instructor and an outsider do
# not see the session at all. role -> the join's answer (ack, or the error code).
SOCKET_MATRIX = {
    "owner": "ack",
    "ta": "ack",
    "enrolled": "ack",
    "admin": "ack",
    "other_instructor": "session_not_found",
    "outsider": "session_not_found",
}


@pytest.mark.parametrize(("role", "expected"), list(SOCKET_MATRIX.items()))
async def test_socket_matrix_follows_the_rest_rule(role, expected, course, instructor, student, admin_user):
    @db
    def world():
        ta = UserFactory(name="Tia TA")
        EnrollmentFactory(course=course, user=ta, role=EnrollmentRole.TA)
        users = {
            "owner": instructor,
            "ta": ta,
            "enrolled": student,
            "admin": admin_user,
            "other_instructor": InstructorFactory(),
            "outsider": UserFactory(),
        }
        return live_session(course, instructor=instructor, status=S.LIVE), users[role]

    session, user = await world()
    sock = await ws_connect(user)
    watcher = await ws_connect(student) if role != "enrolled" else None
    try:
        if watcher is not None:
            assert (await request(watcher, "join-live-session", {"sessionId": str(session.id)}))["event"] == "ack"
        joined = await request(sock, "join-live-session", {"sessionId": str(session.id)})
        said = await request(sock, "session-message", {"sessionId": str(session.id), "message": "hello"}, ref="m")
        if expected == "ack":
            assert joined["event"] == "ack", joined
            assert said["event"] == "ack", said
        else:
            assert joined["event"] == "error" and joined["data"]["code"] == expected, joined
            assert said["event"] == "error" and said["data"]["code"] == "not_in_session", said
        sent = await db(
            lambda: list(SessionMessage.objects.filter(session=session).values_list("author_id", flat=True))
        )()
        assert sent == ([user.id] if expected == "ack" else [])
        if watcher is not None:
            # A student in the room hears the message exactly when it was accepted.
            heard = [
                f["data"]["message"] for f in await drain(watcher, quiet=0.5) if f["event"] == "session-new-message"
            ]
            assert heard == (["hello"] if expected == "ack" else [])
    finally:
        await sock.disconnect()
        if watcher is not None:
            await watcher.disconnect()
