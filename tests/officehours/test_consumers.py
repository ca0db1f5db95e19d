"""Socket events and pushed frames through the real ASGI app (WebsocketCommunicator),
on PostgreSQL and the Redis channel layer."""

from __future__ import annotations

import json
import uuid

import pytest
from channels.db import database_sync_to_async

from collab.courses.models import EnrollmentRole
from officehours import events, services
from tests.conftest import ws_connect
from tests.factories import CourseFactory, EnrollmentFactory, UserFactory
from tests.sockets import drain, receive_event, request

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def setup_queue(instructor, course, *names):
    services.queue_open(actor=instructor, instructor_id=instructor.id)
    students = []
    for name in names:
        learner = UserFactory(name=name)
        EnrollmentFactory(course=course, user=learner)
        students.append(learner)
    return students


sync = database_sync_to_async


def join(learner, instructor, question):
    return sync(services.queue_join)(actor=learner, instructor_id=instructor.id, question=question)


async def test_join_event_subscribes_eligible_users_and_refuses_others(instructor, course, student, other_instructor):
    outsider = await sync(UserFactory)()
    await sync(CourseFactory)(instructor=other_instructor)
    ws_student, ws_outsider, ws_other = (
        await ws_connect(student),
        await ws_connect(outsider),
        await ws_connect(other_instructor),
    )
    try:
        ack = await request(ws_student, events.JOIN_QUEUE, {"instructorId": str(instructor.id)})
        assert ack["event"] == "ack"
        assert ack["data"]["viewer"] == "student" and ack["data"]["isOpen"] is False and ack["data"]["entry"] is None
        for comm in (ws_outsider, ws_other):
            refused = await request(comm, events.JOIN_QUEUE, {"instructorId": str(instructor.id)})
            assert refused["event"] == "error" and refused["data"]["code"] == "not_eligible"
        missing = await request(ws_student, events.JOIN_QUEUE, {"instructorId": str(uuid.uuid4())}, ref="2")
        assert missing["data"]["code"] == "instructor_not_found"
        bad = await request(ws_student, events.JOIN_QUEUE, {"instructorId": "nope"}, ref="3")
        assert bad["event"] == "error" and bad["data"]["code"] == "invalid" and "instructorId" in bad["data"]["fields"]

        await sync(services.queue_open)(actor=instructor, instructor_id=instructor.id)
        opened = await receive_event(ws_student, events.OPENED)
        assert opened["room"] in {events.office_hours_room(instructor.id), f"course-{course.id}"}
        assert opened["data"]["instructorId"] == str(instructor.id) and opened["data"]["isOpen"] is True
        assert await ws_outsider.receive_nothing(timeout=0.3)
        assert await ws_other.receive_nothing(timeout=0.3)
    finally:
        for comm in (ws_student, ws_outsider, ws_other):
            await comm.disconnect()


async def test_an_instructor_id_that_is_not_a_uuid_string_is_invalid_naming_it(course, instructor, student):
    """issue 15: the queue events read the id by the REST rule (StrictUUIDField): DRF's
    UUIDField took `false` as UUID 0 and numbers as ids."""
    ws_student = await ws_connect(student)
    try:
        for event in (events.JOIN_QUEUE, events.LEAVE_QUEUE):
            for bad in [False, True, 0, 1, 1.5, instructor.id.hex, f"{{{instructor.id}}}", ""]:
                reply = await request(ws_student, event, {"instructorId": bad})
                assert reply["event"] == "error", (event, bad)
                assert reply["data"]["code"] == "invalid", (event, bad)
                assert list(reply["data"]["fields"]) == ["instructorId"], (event, bad)
        ack = await request(ws_student, events.JOIN_QUEUE, {"instructorId": str(instructor.id)})
        assert ack["event"] == "ack", ack
    finally:
        await ws_student.disconnect()


async def test_positions_and_estimates_pushed_to_two_sockets_as_the_queue_moves(instructor, course):
    ann, bob, cat = await setup_queue(instructor, course, "Ann Student", "Bob Student", "Cat Student")
    ws_bob, ws_cat, ws_teacher = await ws_connect(bob), await ws_connect(cat), await ws_connect(instructor)
    try:
        for learner in (ann, bob, cat):
            await join(learner, instructor, f"question from {learner.name}")
        bob_first = await receive_event(ws_bob, events.POSITION_CHANGED)
        assert bob_first["data"]["position"] == 2 and bob_first["data"]["estimatedWaitMinutes"] == 20
        assert bob_first["room"] == f"user-{bob.id}"
        cat_first = await receive_event(ws_cat, events.POSITION_CHANGED)
        assert cat_first["data"]["position"] == 3 and cat_first["data"]["estimatedWaitMinutes"] == 30
        await drain(ws_bob)
        await drain(ws_cat)
        await drain(ws_teacher)

        await sync(services.queue_admit)(actor=instructor, instructor_id=instructor.id)  # Ann
        bob_frames, cat_frames = await drain(ws_bob), await drain(ws_cat)
        assert [(f["event"], f["data"].get("position")) for f in bob_frames] == [
            (events.POSITION_CHANGED, 1),
            (events.UP_NEXT, 1),
        ]
        assert bob_frames[0]["data"]["estimatedWaitMinutes"] == 10
        assert [(f["event"], f["data"]["position"], f["data"]["estimatedWaitMinutes"]) for f in cat_frames] == [
            (events.POSITION_CHANGED, 2, 20)
        ]
        teacher = await receive_event(ws_teacher, events.QUEUE_UPDATED)
        assert [e["student"]["name"] for e in teacher["data"]["entries"]] == [
            "Ann Student",
            "Bob Student",
            "Cat Student",
        ]
        assert [e["status"] for e in teacher["data"]["entries"]] == ["admitted", "waiting", "waiting"]

        # Bob leaves by socket: Cat moves up; the instructor is told; Bob is unsubscribed.
        await request(ws_bob, events.JOIN_QUEUE, {"instructorId": str(instructor.id)}, ref="j")
        ack = await request(ws_bob, events.LEAVE_QUEUE, {"instructorId": str(instructor.id)}, ref="l")
        assert ack["event"] == "ack" and ack["data"]["leftEntryId"]
        cat_frames = await drain(ws_cat)
        assert [(f["event"], f["data"]["position"]) for f in cat_frames] == [
            (events.POSITION_CHANGED, 1),
            (events.UP_NEXT, 1),
        ]
        left = await receive_event(ws_teacher, events.STUDENT_LEFT)
        assert left["data"]["student"]["name"] == "Bob Student" and left["room"] == f"user-{instructor.id}"
        await drain(ws_bob)
        await sync(services.queue_close)(actor=instructor, instructor_id=instructor.id)
        # Bob left the office-hours room; he still follows the course room, so exactly one frame.
        closed = [f for f in await drain(ws_bob) if f["event"] == events.CLOSED]
        assert [f["room"] for f in closed] == [f"course-{course.id}"]
    finally:
        for comm in (ws_bob, ws_cat, ws_teacher):
            await comm.disconnect()


async def test_no_frame_a_student_receives_names_another_student(instructor, course):
    names = ["Quentin Private", "Rosalind Hidden", "Sebastian Secret"]
    students = await setup_queue(instructor, course, *names)
    questions = {s.id: f"Confidential question number {i} about eigenvalues" for i, s in enumerate(students)}
    sockets = [await ws_connect(s) for s in students]
    try:
        for comm in sockets:
            await request(comm, events.JOIN_QUEUE, {"instructorId": str(instructor.id)}, ref="sub")
        for learner in students:
            await join(learner, instructor, questions[learner.id])
        entries = {
            e.student_id: e for e in [await sync(lambda s=s: s.office_hours_queue_joins.get())() for s in students]
        }
        # Every kind of change: admit next, requeue, admit, complete, remove, leave, close/open, clear.
        await sync(services.queue_admit)(actor=instructor, instructor_id=instructor.id)
        await sync(services.queue_entry_requeue)(actor=instructor, entry_id=entries[students[0].id].id)
        await sync(services.queue_admit)(
            actor=instructor, instructor_id=instructor.id, entry_id=entries[students[1].id].id
        )
        await sync(services.queue_entry_complete)(actor=instructor, entry_id=entries[students[1].id].id)
        await sync(services.queue_entry_remove)(actor=instructor, entry_id=entries[students[0].id].id, reason="No show")
        await request(sockets[2], events.LEAVE_QUEUE, {"instructorId": str(instructor.id)}, ref="leave")
        await join(students[0], instructor, questions[students[0].id])
        await sync(services.queue_close)(actor=instructor, instructor_id=instructor.id)

        for index, comm in enumerate(sockets):
            frames = await drain(comm)
            assert frames, "each student received frames"
            text = json.dumps(frames)
            for other_index, other in enumerate(students):
                if other_index == index:
                    continue
                assert names[other_index] not in text
                assert questions[other.id] not in text
                assert str(other.id) not in text
                assert str(entries[other.id].id) not in text
    finally:
        for comm in sockets:
            await comm.disconnect()


async def test_leave_without_entry_only_unsubscribes(instructor, course, student):
    await setup_queue(instructor, course)
    comm = await ws_connect(student)
    try:
        await request(comm, events.JOIN_QUEUE, {"instructorId": str(instructor.id)})
        ack = await request(comm, events.LEAVE_QUEUE, {"instructorId": str(instructor.id)}, ref="2")
        assert ack["data"] == {"instructorId": str(instructor.id), "leftEntryId": None}
    finally:
        await comm.disconnect()


async def test_instructor_subscribes_and_gets_full_view(instructor, course):
    (learner,) = await setup_queue(instructor, course, "Dana Student")
    await join(learner, instructor, "What is a monad?")
    comm = await ws_connect(instructor)
    try:
        ack = await request(comm, events.JOIN_QUEUE, {"instructorId": str(instructor.id)})
        assert ack["data"]["viewer"] == "instructor"
        assert ack["data"]["entries"][0]["question"] == "What is a monad?"
    finally:
        await comm.disconnect()


async def test_a_ta_follows_the_queue_with_their_courses_view_and_announcements_reach_students(instructor, course):
    """The socket asks the same rule as REST: a TA's join-office-hours-queue ack is their
    cut of the full view; a staff announcement reaches a student following the room."""
    (mine,) = await setup_queue(instructor, course, "Mina")
    other = await sync(CourseFactory)(instructor=instructor)
    theirs = await sync(UserFactory)(name="Theo")
    await sync(EnrollmentFactory)(course=other, user=theirs)
    ta = await sync(UserFactory)(name="Tara TA")
    await sync(EnrollmentFactory)(course=course, user=ta, role=EnrollmentRole.TA)
    await join(theirs, instructor, "other course?")
    await join(mine, instructor, "my course?")
    ws_ta, ws_mine = await ws_connect(ta), await ws_connect(mine)
    try:
        ack = await request(ws_ta, events.JOIN_QUEUE, {"instructorId": str(instructor.id)})
        assert ack["event"] == "ack" and ack["data"]["viewer"] == "instructor"
        assert [row["student"]["name"] for row in ack["data"]["entries"]] == ["Mina"]
        assert ack["data"]["entries"][0]["question"] == "my course?"
        ack = await request(ws_mine, events.JOIN_QUEUE, {"instructorId": str(instructor.id)})
        assert ack["data"]["viewer"] == "student"
        await sync(services.announcement_create)(actor=ta, instructor_id=instructor.id, message="Five more minutes")
        frame = await receive_event(ws_mine, events.ANNOUNCEMENT)
        assert frame["data"]["message"] == "Five more minutes"
        assert frame["data"]["author"] == {"id": str(ta.id), "name": "Tara TA"}
        # The TA's admit tells the student who is coming.
        await sync(services.queue_admit)(actor=ta, instructor_id=instructor.id)
        admitted = await receive_event(ws_mine, events.ADMITTED)
        assert admitted["data"]["admittedBy"] == {"id": str(ta.id), "name": "Tara TA"}
        updated = await receive_event(ws_ta, events.QUEUE_UPDATED)
        assert [row["admittedBy"]["name"] for row in updated["data"]["entries"]] == ["Tara TA"]
    finally:
        await ws_ta.disconnect()
        await ws_mine.disconnect()


# The socket side of the REST matrix (tests/officehours/test_api.py): following the queue
# asks the same rule as reading it, so each role gets the same view or the same refusal.
# role -> the ack's viewer, or the error code (REST: 403 with that code).
SOCKET_MATRIX = {
    "owner": "instructor",
    "admin": "instructor",
    "ta": "instructor",
    "student": "student",
    "other_instructor": "not_eligible",
    "outsider": "not_eligible",
    "other_instructors_ta": "not_eligible",
}


@database_sync_to_async
def _matrix_world(instructor, course, student, other_instructor, admin_user):
    services.queue_open(actor=instructor, instructor_id=instructor.id)
    ta, theirs_ta, outsider = UserFactory(name="Tia TA"), UserFactory(name="Olga TA"), UserFactory()
    EnrollmentFactory(course=course, user=ta, role=EnrollmentRole.TA)
    EnrollmentFactory(course=CourseFactory(instructor=other_instructor), user=theirs_ta, role=EnrollmentRole.TA)
    other_student = UserFactory(name="Other Student")
    EnrollmentFactory(course=CourseFactory(instructor=instructor), user=other_student)
    services.queue_join(actor=student, instructor_id=instructor.id, question="Mine")
    services.queue_join(actor=other_student, instructor_id=instructor.id, question="Another course's")
    return {
        "owner": instructor,
        "admin": admin_user,
        "ta": ta,
        "student": student,
        "other_instructor": other_instructor,
        "outsider": outsider,
        "other_instructors_ta": theirs_ta,
    }


@pytest.mark.parametrize(("role", "expected"), list(SOCKET_MATRIX.items()))
async def test_socket_matrix_follows_the_rest_rule(
    role, expected, instructor, course, student, other_instructor, admin_user, api
):
    users = await _matrix_world(instructor, course, student, other_instructor, admin_user)
    user = users[role]
    rest = await database_sync_to_async(lambda: api(user).get(f"/api/office-hours/queue/{instructor.id}"))()
    sock = await ws_connect(user)
    try:
        answer = await request(sock, events.JOIN_QUEUE, {"instructorId": str(instructor.id)})
        if expected in ("instructor", "student"):
            assert answer["event"] == "ack" and answer["data"]["viewer"] == expected, answer
            assert rest.status_code == 200
            view = rest.json()
            # The same view on both doors: the same entries (a TA only their course's
            # student), the same staff.
            if expected == "instructor":
                assert [e["id"] for e in answer["data"]["entries"]] == [e["id"] for e in view["entries"]]
                assert len(view["entries"]) == (1 if role == "ta" else 2)
            else:
                assert answer["data"]["entry"]["id"] == view["entry"]["id"]
            assert answer["data"]["staff"] == view["staff"]
        else:
            assert answer["event"] == "error" and answer["data"]["code"] == expected, answer
            assert rest.status_code == 403 and rest.json()["error"]["code"] == expected
            # Refused: not in the room, so the room's frames never reach this socket.
            await database_sync_to_async(services.announcement_create)(
                actor=instructor, instructor_id=instructor.id, message="Only for the queue"
            )
            assert await sock.receive_nothing(timeout=0.5)
    finally:
        await sock.disconnect()
