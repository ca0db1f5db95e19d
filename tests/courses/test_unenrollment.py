"""Unenrolment takes the user out of everything that hangs off the course, at once:
study groups (and their rooms), live sessions (and their rooms), and the office-hours
queue of an instructor they are no longer a student of. Real sockets on the ASGI app
prove that later traffic in those rooms no longer reaches them while it still reaches
everyone else. (All or nothing, and the REST door: test_unenrollment_transaction.py.)"""

from __future__ import annotations

import pytest

from collab.realtime.testing import capture_broadcasts
from liveSessions import services as live_services
from liveSessions.models import AttendanceInterval, LeaveReason, SessionAttendance, SessionStatus
from officehours import services as oh_services
from officehours.models import EntryStatus, OfficeHoursQueue
from studygroups import services as group_services
from studygroups.models import MemberRole, StudyGroup, StudyGroupMember
from tests.conftest import ws_connect
from tests.courses.conftest import db, unenroll
from tests.factories import CourseFactory, EnrollmentFactory, UserFactory
from tests.liveSessions.factories import live_session
from tests.sockets import drain, events_of, request
from tests.studygroups.conftest import add_member, make_group

pytestmark = pytest.mark.django_db(transaction=True)


# -- study groups ------------------------------------------------------------------------


async def test_unenrolled_member_leaves_every_group_of_the_course_and_its_rooms(
    course, instructor, student, other_student
):
    await db(EnrollmentFactory)(course=course, user=other_student)
    shared = await db(make_group)(course, student, name="Shared")  # student is its admin
    await db(add_member)(shared, other_student)
    alone = await db(make_group)(course, student, name="Alone")  # student is its only member
    elsewhere = await db(CourseFactory)(instructor=instructor)
    await db(EnrollmentFactory)(course=elsewhere, user=student)
    other_course_group = await db(make_group)(elsewhere, student, name="Elsewhere")

    leaving, staying = await ws_connect(student), await ws_connect(other_student)
    try:
        for group in (shared, alone, other_course_group):
            assert (await request(leaving, "join-study-group", {"groupId": str(group.id)}))["event"] == "ack"
        assert (await request(staying, "join-study-group", {"groupId": str(shared.id)}))["event"] == "ack"
        await drain(leaving)
        await drain(staying)

        await unenroll(instructor, course, student)

        seen = await drain(staying)
        left = next(
            f for f in seen if f["event"] == "study-group-member-left" and f["room"] == f"study-group-{shared.id}"
        )
        assert left["data"]["userId"] == str(student.id) and left["data"]["memberCount"] == 1
        handed = next(f for f in seen if f["event"] == "study-group-admin-changed")
        assert handed["data"] == {
            "groupId": str(shared.id),
            "userId": str(other_student.id),
            "name": other_student.name,
            "role": "admin",
            "joinedAt": handed["data"]["joinedAt"],
        }
        assert "course-unenrolled" in events_of(await drain(leaving))

        # The database agrees: hand-over done, the emptied group closed, the other course untouched.
        heir = await db(StudyGroupMember.objects.get)(group=shared, user=other_student)
        assert heir.role == MemberRole.ADMIN
        assert not await db(StudyGroupMember.objects.filter(user=student, group__course=course).exists)()
        assert (await db(StudyGroup.objects.get)(id=alone.id)).is_active is False
        assert await db(StudyGroupMember.objects.filter(user=student, group=other_course_group).exists)()

        # A later message in the group reaches the member who stayed, not the unenrolled one.
        await db(group_services.study_group_message_send)(actor=other_student, group_id=shared.id, body="still here?")
        (message,) = await drain(staying)
        assert message["event"] == "study-group-new-message"
        assert await leaving.receive_nothing(timeout=0.5)
        # ...while the group of their other course still reaches them.
        await db(group_services.study_group_message_send)(
            actor=student, group_id=other_course_group.id, body="other course"
        )
        assert events_of(await drain(leaving)) == ["study-group-new-message"]

        # And they may not walk back in.
        reply = await request(leaving, "join-study-group", {"groupId": str(shared.id)})
        assert reply["event"] == "error" and reply["data"]["code"] == "study_group_not_found"
    finally:
        await leaving.disconnect()
        await staying.disconnect()


async def test_the_course_instructor_is_not_touched_by_a_students_unenrolment(course, instructor, student):
    group = await db(make_group)(course, instructor)
    await db(add_member)(group, student)
    await unenroll(instructor, course, student)
    members = await db(lambda: list(StudyGroupMember.objects.filter(group=group).values_list("user_id", "role")))()
    assert members == [(instructor.id, MemberRole.ADMIN)]


# -- live sessions -----------------------------------------------------------------------


async def test_unenrolled_attendee_leaves_the_live_session_and_its_room(course, instructor, student, other_student):
    await db(EnrollmentFactory)(course=course, user=other_student)
    session = await db(live_session)(course, status=SessionStatus.LIVE)
    sid = str(session.id)
    leaving, staying, host = await ws_connect(student), await ws_connect(other_student), await ws_connect(instructor)
    try:
        for comm in (leaving, staying, host):
            assert (await request(comm, "join-live-session", {"sessionId": sid}))["event"] == "ack"
        for comm in (leaving, staying, host):
            await drain(comm)

        await unenroll(instructor, course, student)

        seen = events_of(await drain(host))
        assert "attendee-left" in seen and "session-participant-left" in seen
        attendance = await db(SessionAttendance.objects.get)(session=session, user=student)
        assert attendance.present_since is None and attendance.socket_channels == []
        interval = await db(AttendanceInterval.objects.filter(attendance=attendance).last)()
        assert interval.left_at is not None and interval.left_reason == LeaveReason.UNENROLLED
        await drain(leaving)
        await drain(staying)

        # Later chat in the session reaches the others, not the unenrolled user's socket.
        await db(live_services.session_message_send)(actor=other_student, session_id=session.id, message="hello")
        assert events_of(await drain(staying)) == ["session-new-message"]
        assert events_of(await drain(host)) == ["session-new-message"]
        assert await leaving.receive_nothing(timeout=0.5)

        reply = await request(leaving, "session-message", {"sessionId": sid, "message": "hi"})
        assert reply["data"]["code"] == "not_in_session"
        reply = await request(leaving, "join-live-session", {"sessionId": sid})
        assert reply["data"]["code"] == "session_not_found"
    finally:
        for comm in (leaving, staying, host):
            await comm.disconnect()
    # Their socket closing later changes nothing: they were already out.
    reasons = await db(
        lambda: list(AttendanceInterval.objects.filter(attendance__user=student).values_list("left_reason", flat=True))
    )()
    assert reasons == [LeaveReason.UNENROLLED]


async def test_rest_attendee_of_a_scheduled_session_leaves_too(course, instructor, student):
    session = await db(live_session)(course, status=SessionStatus.SCHEDULED)
    await db(live_services.attendance_join)(actor=student, session_id=session.id)
    with capture_broadcasts() as sent:
        await unenroll(instructor, course, student)
    attendance = await db(SessionAttendance.objects.get)(session=session, user=student)
    assert attendance.present_since is None
    left = [b for b in sent.named("attendee-left") if b.room == f"session-{session.id}"]
    assert [b.data["userId"] for b in left] == [str(student.id)]


# -- office hours ------------------------------------------------------------------------


async def test_unenrolled_student_loses_their_queue_entry_and_the_queue_room(
    course, instructor, student, other_student
):
    await db(EnrollmentFactory)(course=course, user=other_student)
    await db(oh_services.queue_open)(actor=instructor, instructor_id=instructor.id)
    first = await db(oh_services.queue_join)(actor=student, instructor_id=instructor.id, question="Q1")
    second = await db(oh_services.queue_join)(actor=other_student, instructor_id=instructor.id, question="Q2")
    room_ref = {"instructorId": str(instructor.id)}
    leaving, staying, host = await ws_connect(student), await ws_connect(other_student), await ws_connect(instructor)
    try:
        for comm in (leaving, staying, host):
            assert (await request(comm, "join-office-hours-queue", room_ref))["event"] == "ack"
        for comm in (leaving, staying, host):
            await drain(comm)

        await unenroll(instructor, course, student)

        entry = await db(OfficeHoursQueue.objects.get)(id=first.id)
        assert (entry.status, entry.removed_reason) == (EntryStatus.REMOVED, "unenrolled")
        assert entry.ended_at is not None
        told = {f["event"]: f for f in await drain(leaving)}
        assert told["office-hours-removed"]["data"] == {
            "instructorId": str(instructor.id),
            "entryId": str(first.id),
            "reason": "unenrolled",
        }
        moved = {f["event"]: f for f in await drain(staying)}
        assert moved["office-hours-position-changed"]["data"]["position"] == 1
        assert moved["office-hours-up-next"]["data"]["entryId"] == str(second.id)
        queue = [f for f in await drain(host) if f["event"] == "office-hours-queue-updated"]
        assert [e["id"] for e in queue[-1]["data"]["entries"]] == [str(second.id)]

        # A later queue broadcast reaches the room, but no longer the unenrolled student.
        newcomer = await db(UserFactory)()
        await db(EnrollmentFactory)(course=course, user=newcomer)
        await db(oh_services.queue_join)(actor=newcomer, instructor_id=instructor.id, question="Q3")
        assert "office-hours-queue-length" in events_of(await drain(staying))
        assert await leaving.receive_nothing(timeout=0.5)

        reply = await request(leaving, "join-office-hours-queue", room_ref)
        assert reply["data"]["code"] == "not_eligible"
    finally:
        for comm in (leaving, staying, host):
            await comm.disconnect()


async def test_admitted_entry_is_removed_as_well(course, instructor, student):
    await db(oh_services.queue_open)(actor=instructor, instructor_id=instructor.id)
    entry = await db(oh_services.queue_join)(actor=student, instructor_id=instructor.id, question="Q")
    await db(oh_services.queue_admit)(actor=instructor, instructor_id=instructor.id)
    await unenroll(instructor, course, student)
    entry = await db(OfficeHoursQueue.objects.get)(id=entry.id)
    assert (entry.status, entry.removed_reason) == (EntryStatus.REMOVED, "unenrolled")


async def test_student_of_another_course_of_the_same_instructor_keeps_entry_and_room(course, instructor, student):
    second_course = await db(CourseFactory)(instructor=instructor)
    await db(EnrollmentFactory)(course=second_course, user=student)
    await db(oh_services.queue_open)(actor=instructor, instructor_id=instructor.id)
    entry = await db(oh_services.queue_join)(actor=student, instructor_id=instructor.id, question="Q")
    comm = await ws_connect(student)
    try:
        assert (await request(comm, "join-office-hours-queue", {"instructorId": str(instructor.id)}))["event"] == "ack"
        await drain(comm)
        with capture_broadcasts() as sent:
            await unenroll(instructor, course, student)
        assert (await db(OfficeHoursQueue.objects.get)(id=entry.id)).status == EntryStatus.WAITING
        assert not [b for b in sent if b.event.startswith("office-hours-")]
        assert events_of(await drain(comm)) == ["course-unenrolled"]

        # Still in the room: the next join's queue-length reaches them.
        newcomer = await db(UserFactory)()
        await db(EnrollmentFactory)(course=course, user=newcomer)
        await db(oh_services.queue_join)(actor=newcomer, instructor_id=instructor.id, question="Q2")
        assert "office-hours-queue-length" in events_of(await drain(comm))
    finally:
        await comm.disconnect()


async def test_queue_of_another_instructor_is_untouched(course, instructor, student, other_instructor):
    theirs = await db(CourseFactory)(instructor=other_instructor)
    await db(EnrollmentFactory)(course=theirs, user=student)
    await db(oh_services.queue_open)(actor=other_instructor, instructor_id=other_instructor.id)
    entry = await db(oh_services.queue_join)(actor=student, instructor_id=other_instructor.id, question="Q")
    await unenroll(instructor, course, student)
    assert (await db(OfficeHoursQueue.objects.get)(id=entry.id)).status == EntryStatus.WAITING
