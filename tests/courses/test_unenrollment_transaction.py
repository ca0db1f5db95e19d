"""Unenrolment is one transaction: the REST endpoint runs every app's receiver, a failing
receiver rolls the whole unenrolment back and sends nothing, and a join waiting on the
unenrolment's locks is refused once it commits."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from collab.core.errors import Conflict, DomainError
from collab.courses.models import Enrollment
from collab.courses.services import enrollment_delete
from collab.courses.signals import enrollment_removed
from collab.realtime.testing import capture_broadcasts
from liveSessions import services as live_services
from liveSessions.models import SessionAttendance, SessionStatus
from officehours import services as oh_services
from officehours.models import EntryStatus, OfficeHoursQueue
from studygroups import services as group_services
from studygroups.models import MemberRole, StudyGroupMember
from tests.conftest import ws_connect
from tests.courses.conftest import db, unenroll
from tests.factories import EnrollmentFactory, UserFactory
from tests.liveSessions.factories import live_session
from tests.sockets import drain, events_of, request
from tests.studygroups.conftest import add_member, make_group

pytestmark = pytest.mark.django_db(transaction=True)


# -- through the REST endpoint --------------------------------------------------------------


def test_rest_unenrolment_runs_the_receivers(api, course, instructor, student):
    group = make_group(course, student)
    add_member(group)
    oh_services.queue_open(actor=instructor, instructor_id=instructor.id)
    entry = oh_services.queue_join(actor=student, instructor_id=instructor.id, question="Q")
    response = api(instructor).delete(f"/api/courses/{course.id}/enrollments/{student.id}")
    assert response.status_code == 204
    assert not StudyGroupMember.objects.filter(group=group, user=student).exists()
    assert OfficeHoursQueue.objects.get(id=entry.id).status == EntryStatus.REMOVED


# -- all or nothing ----------------------------------------------------------------------


@pytest.fixture
def failing_receiver():
    """Connected after every app's receiver; records whether the study-group receiver
    had already taken the user out of their groups when it ran, then refuses."""
    seen_memberships = []

    def refuse(sender, *, user_id, **kwargs):
        seen_memberships.append(StudyGroupMember.objects.filter(user_id=user_id).exists())
        raise Conflict("A receiver refused.", code="receiver_refused")

    enrollment_removed.connect(refuse)
    yield seen_memberships
    enrollment_removed.disconnect(refuse)


async def test_a_failing_receiver_rolls_back_the_whole_unenrolment_and_sends_nothing(
    course, instructor, student, other_student, failing_receiver
):
    await db(EnrollmentFactory)(course=course, user=other_student)
    group = await db(make_group)(course, student)
    await db(add_member)(group, other_student)
    session = await db(live_session)(course, status=SessionStatus.LIVE)
    await db(oh_services.queue_open)(actor=instructor, instructor_id=instructor.id)
    entry = await db(oh_services.queue_join)(actor=student, instructor_id=instructor.id, question="Q")

    comm = await ws_connect(student)
    try:
        assert (await request(comm, "join-study-group", {"groupId": str(group.id)}))["event"] == "ack"
        assert (await request(comm, "join-live-session", {"sessionId": str(session.id)}))["event"] == "ack"
        assert (await request(comm, "join-office-hours-queue", {"instructorId": str(instructor.id)}))["event"] == "ack"
        await drain(comm)

        with capture_broadcasts() as sent, pytest.raises(Conflict):
            await unenroll(instructor, course, student)
        # The failing receiver ran last, after the apps' receivers had done their writes.
        assert failing_receiver == [False]
        assert list(sent) == []
        assert await comm.receive_nothing(timeout=0.5)

        assert await db(Enrollment.objects.filter(course=course, user=student).exists)()
        membership = await db(StudyGroupMember.objects.get)(group=group, user=student)
        assert membership.role == MemberRole.ADMIN
        assert (await db(SessionAttendance.objects.get)(session=session, user=student)).present_since is not None
        assert (await db(OfficeHoursQueue.objects.get)(id=entry.id)).status == EntryStatus.WAITING

        # The sockets are still in every room: traffic there still reaches them.
        await db(group_services.study_group_message_send)(actor=other_student, group_id=group.id, body="hi")
        await db(live_services.session_message_send)(actor=instructor, session_id=session.id, message="hi")
        assert {"study-group-new-message", "session-new-message"} <= set(events_of(await drain(comm)))
    finally:
        await comm.disconnect()


# -- a join racing the unenrolment ---------------------------------------------------------


@pytest.fixture
def held_unenrolment():
    """A last receiver that keeps the unenrolment's transaction open (every app's locks held)
    until `release` is set."""
    locks_held, release = threading.Event(), threading.Event()

    def hold(sender, **kwargs):
        locks_held.set()
        assert release.wait(timeout=20)

    enrollment_removed.connect(hold)
    yield locks_held, release
    enrollment_removed.disconnect(hold)


def _join_group(student, course):
    group = make_group(course, UserFactory())
    return lambda: group_services.study_group_join(
        actor=student, group_id=group.id
    ), lambda: StudyGroupMember.objects.filter(group=group, user=student).exists()


def _join_session(student, course):
    session = live_session(course, status=SessionStatus.LIVE)
    return lambda: live_services.attendance_join(
        actor=student, session_id=session.id
    ), lambda: SessionAttendance.objects.filter(session=session, user=student, present_since__isnull=False).exists()


def _join_queue(student, course):
    oh_services.queue_open(actor=course.instructor, instructor_id=course.instructor_id)
    return lambda: oh_services.queue_join(
        actor=student, instructor_id=course.instructor_id, question="Q"
    ), lambda: OfficeHoursQueue.objects.filter(student=student, status=EntryStatus.WAITING).exists()


@pytest.mark.parametrize("setup", [_join_group, _join_session, _join_queue], ids=["group", "session", "queue"])
def test_a_join_waiting_on_the_unenrolment_is_refused_once_it_commits(
    setup, course, instructor, student, held_unenrolment
):
    """The join passes its first checks while the enrolment is still committed, then
    waits on the lock the unenrolment holds; once that commits it must refuse."""
    locks_held, release = held_unenrolment
    join, joined = setup(student, course)
    results: dict[str, object] = {}

    def run(name, call):
        try:
            results[name] = call()
        except Exception as exc:
            results[name] = exc
        finally:
            connection.close()

    unenrolling = threading.Thread(
        target=run, args=("unenrol", lambda: enrollment_delete(actor=instructor, course=course, user_id=student.id))
    )
    unenrolling.start()
    try:
        assert locks_held.wait(timeout=10)
        joining = threading.Thread(target=run, args=("join", join))
        joining.start()
        joining.join(timeout=1)
        assert joining.is_alive(), "the join should wait for the unenrolment's lock"
    finally:
        release.set()
        unenrolling.join(timeout=60)
    joining.join(timeout=60)
    assert not unenrolling.is_alive() and not joining.is_alive(), "a thread hung"
    assert results["unenrol"] is None
    assert isinstance(results["join"], DomainError), results["join"]
    assert not joined()
