"""Course staff in office hours: TAs serve their course's students, entries record who
served them, staff slots open the queue, announcements, fairness rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from collab.core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from collab.courses.models import EnrollmentRole
from collab.realtime.rooms import user_room
from collab.realtime.testing import capture_broadcasts
from officehours import events, selectors, services
from officehours.models import EntryStatus, OfficeHoursQueue
from tests.factories import CourseFactory, EnrollmentFactory, UserFactory
from tests.officehours.conftest import join

pytestmark = pytest.mark.django_db

BASE = "/api/office-hours"


@pytest.fixture
def staff(instructor, course):
    """Two courses of one instructor: `course` with TA `ta`, `other` with TA `other_ta`;
    students `mine` (course) and `theirs` (other); the queue open by hand."""
    other = CourseFactory(instructor=instructor)
    ta, other_ta = UserFactory(name="Tara TA"), UserFactory(name="Otto TA")
    EnrollmentFactory(course=course, user=ta, role=EnrollmentRole.TA)
    EnrollmentFactory(course=other, user=other_ta, role=EnrollmentRole.TA)
    mine, theirs = UserFactory(name="Mina"), UserFactory(name="Theo")
    EnrollmentFactory(course=course, user=mine)
    EnrollmentFactory(course=other, user=theirs)
    services.queue_open(actor=instructor, instructor_id=instructor.id)
    return {"instructor": instructor, "ta": ta, "other_ta": other_ta, "mine": mine, "theirs": theirs, "other": other}


def test_ta_sees_only_their_courses_students_with_real_positions(staff):
    instructor = staff["instructor"]
    join(staff["theirs"], instructor)
    join(staff["mine"], instructor)
    view = selectors.queue_get(viewer=staff["ta"], instructor_id=instructor.id)
    assert view["viewer"] == "instructor"
    assert [row["student"]["name"] for row in view["entries"]] == ["Mina"]
    assert view["entries"][0]["position"] == 2 and view["queue_length"] == 1
    full = selectors.queue_get(viewer=instructor, instructor_id=instructor.id)
    assert [row["student"]["name"] for row in full["entries"]] == ["Theo", "Mina"]


def test_ta_admits_next_of_their_students_and_the_student_is_told_who_and_where(
    staff, django_capture_on_commit_callbacks
):
    instructor, ta = staff["instructor"], staff["ta"]
    services.office_hours_create(
        actor=ta,
        instructor_id=instructor.id,
        day_of_week=3,
        start_time="09:00",
        end_time="10:00",
        meeting_url="https://meet.example.com/tara",
    )
    join(staff["theirs"], instructor)
    mine = join(staff["mine"], instructor)
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        admitted = services.queue_admit(actor=ta, instructor_id=instructor.id)
    assert admitted.id == mine.id  # Theo is first in line, but not Tara's student
    admitted.refresh_from_db()
    assert admitted.admitted_by_id == ta.id
    frame = sent.to_room(user_room(staff["mine"].id))[0]
    assert frame.event == events.ADMITTED
    assert frame.data["admittedBy"] == {"id": str(ta.id), "name": "Tara TA"}
    assert frame.data["meetingUrl"] == "https://meet.example.com/tara"
    # The TA's own user room gets their cut of the queue; the other TA theirs.
    ta_views = sent.to_room(user_room(ta.id))
    assert [row["student"]["name"] for row in ta_views[-1].data["entries"]] == ["Mina"]
    other_views = sent.to_room(user_room(staff["other_ta"].id))
    assert [row["student"]["name"] for row in other_views[-1].data["entries"]] == ["Theo"]
    with pytest.raises(Conflict) as err:
        services.queue_admit(actor=ta, instructor_id=instructor.id)
    assert err.value.code == "queue_empty"


def test_ta_complete_records_who_and_cannot_touch_another_courses_entry(staff):
    instructor, ta = staff["instructor"], staff["ta"]
    theirs = join(staff["theirs"], instructor)
    mine = join(staff["mine"], instructor)
    services.queue_admit(actor=ta, instructor_id=instructor.id, entry_id=mine.id)
    done = services.queue_entry_complete(actor=ta, entry_id=mine.id)
    assert done.completed_by_id == ta.id and done.status == EntryStatus.COMPLETED
    for action in (
        lambda: services.queue_admit(actor=ta, instructor_id=instructor.id, entry_id=theirs.id),
        lambda: services.queue_entry_remove(actor=ta, entry_id=theirs.id, reason="x"),
        lambda: services.queue_entry_requeue(actor=ta, entry_id=theirs.id),
    ):
        with pytest.raises(NotFound):
            action()
    # Undo clears admittedBy.
    services.queue_admit(actor=instructor, instructor_id=instructor.id, entry_id=theirs.id)
    requeued = services.queue_entry_requeue(actor=staff["other_ta"], entry_id=theirs.id)
    assert requeued.status == EntryStatus.WAITING and requeued.admitted_by_id is None
    removed = services.queue_entry_remove(actor=staff["other_ta"], entry_id=theirs.id, reason="Duplicate")
    assert removed.status == EntryStatus.REMOVED and removed.removed_reason == "Duplicate"


def test_ta_cannot_own_the_queue_nor_join_it(staff):
    instructor, ta = staff["instructor"], staff["ta"]
    with pytest.raises(NotAllowed):
        services.queue_close(actor=ta, instructor_id=instructor.id)
    with pytest.raises(NotAllowed):
        services.queue_clear(actor=ta, instructor_id=instructor.id, reason="x")
    with pytest.raises(NotAllowed):
        services.queue_rules_update(actor=ta, instructor_id=instructor.id, daily_question_cap=2)
    with pytest.raises(NotAllowed) as err:
        join(ta, instructor)
    assert err.value.code == "not_eligible"


def test_a_ta_slot_opens_the_instructors_queue(instructor, course):
    ta = UserFactory()
    EnrollmentFactory(course=course, user=ta, role=EnrollmentRole.TA)
    monday_10 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday
    with time_machine.travel(monday_10, tick=False):
        assert not selectors.queue_is_open(instructor_id=instructor.id)
        slot = services.office_hours_create(
            actor=ta, instructor_id=instructor.id, day_of_week=1, start_time="09:30", end_time="11:00"
        )
        assert slot.staff_id == ta.id and slot.instructor_id == instructor.id
        assert selectors.queue_is_open(instructor_id=instructor.id)
        # Only the TA who holds it (and the instructor) change it.
        other_ta = UserFactory()
        EnrollmentFactory(course=course, user=other_ta, role=EnrollmentRole.TA)
        with pytest.raises(NotAllowed):
            services.office_hours_update(actor=other_ta, office_hours_id=slot.id, location="x")
        services.office_hours_update(actor=instructor, office_hours_id=slot.id, location="Lab 2")
        services.office_hours_delete(actor=ta, office_hours_id=slot.id)
        assert not selectors.queue_is_open(instructor_id=instructor.id)


def test_outsiders_cannot_add_slots_to_a_schedule(instructor, course, student, other_instructor):
    for actor in (student, other_instructor):
        with pytest.raises(NotAllowed) as err:
            services.office_hours_create(
                actor=actor, instructor_id=instructor.id, day_of_week=1, start_time="09:00", end_time="10:00"
            )
        assert err.value.code == "not_course_staff"


def test_announcements_go_to_the_room_and_the_students_view(staff, django_capture_on_commit_callbacks):
    instructor, ta = staff["instructor"], staff["ta"]
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        first = services.announcement_create(actor=ta, instructor_id=instructor.id, message="  Back in 5 minutes ")
    (frame,) = sent.named(events.ANNOUNCEMENT)
    assert frame.room == events.office_hours_room(instructor.id)
    assert frame.data["message"] == "Back in 5 minutes" and frame.data["author"]["id"] == str(ta.id)
    for n in range(6):
        services.announcement_create(actor=instructor, instructor_id=instructor.id, message=f"note {n}")
    view = selectors.queue_view_student(student=staff["mine"], instructor_id=instructor.id)
    assert [a.message for a in view["announcements"]] == [f"note {n}" for n in (5, 4, 3, 2, 1)]
    with pytest.raises(NotAllowed):
        services.announcement_create(actor=staff["mine"], instructor_id=instructor.id, message="hi")
    with pytest.raises(NotAllowed):
        services.announcement_delete(actor=staff["mine"], announcement_id=first.id)
    with pytest.raises(NotFound):
        services.announcement_delete(actor=UserFactory(), announcement_id=first.id)
    with pytest.raises(InvalidInput):
        services.announcement_create(actor=ta, instructor_id=instructor.id, message="   ")
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        services.announcement_delete(actor=staff["other_ta"], announcement_id=first.id)
    assert sent.named(events.ANNOUNCEMENT_DELETED)[0].data == {"instructorId": str(instructor.id), "id": str(first.id)}


def test_rejoin_cooldown_refuses_with_the_reopening_time(staff):
    instructor, mine = staff["instructor"], staff["mine"]
    services.queue_rules_update(actor=instructor, instructor_id=instructor.id, rejoin_cooldown_minutes=30)
    start = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        entry = join(mine, instructor)
        services.queue_admit(actor=instructor, instructor_id=instructor.id, entry_id=entry.id)
        clock.move_to(start + timedelta(minutes=5))
        services.queue_entry_complete(actor=instructor, entry_id=entry.id)
        clock.move_to(start + timedelta(minutes=20))
        with pytest.raises(Conflict) as err:
            join(mine, instructor)
        assert err.value.code == "rejoin_cooldown"
        assert err.value.details == {"opensAt": "2026-03-02T10:35:00Z"}  # the one wire format: UTC with Z
        clock.move_to(start + timedelta(minutes=35))
        join(mine, instructor)


def test_daily_cap_counts_questions_that_reached_staff(staff, api):
    instructor, mine = staff["instructor"], staff["mine"]
    response = api(instructor).patch(f"{BASE}/instructor/{instructor.id}", {"dailyQuestionCap": 1}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["dailyQuestionCap"] == 1 and response.json()["rejoinCooldownMinutes"] is None
    start = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        join(mine, instructor)
        services.queue_leave(actor=mine, instructor_id=instructor.id)  # left: does not count
        entry = join(mine, instructor)
        services.queue_admit(actor=instructor, instructor_id=instructor.id, entry_id=entry.id)
        services.queue_entry_complete(actor=instructor, entry_id=entry.id)
        response = api(mine).post(f"{BASE}/queue/{instructor.id}/join", {"question": "again"}, format="json")
        assert response.status_code == 409
        error = response.json()["error"]
        assert error["code"] == "daily_cap_reached" and error["opensAt"] == "2026-03-03T00:00:00Z"
        clock.move_to(datetime(2026, 3, 3, 0, 0, 1, tzinfo=UTC))
        assert (
            api(mine).post(f"{BASE}/queue/{instructor.id}/join", {"question": "new day"}, format="json").status_code
            == 201
        )
    bad = api(instructor).patch(f"{BASE}/instructor/{instructor.id}", {"dailyQuestionCap": 0}, format="json")
    assert bad.status_code == 400
    assert (
        api(staff["ta"]).patch(f"{BASE}/instructor/{instructor.id}", {"dailyQuestionCap": 3}, format="json").status_code
        == 403
    )


def test_making_a_waiting_student_ta_is_refused_until_the_entry_ends(staff, course, api):
    instructor, mine = staff["instructor"], staff["mine"]
    join(mine, instructor)
    url = f"/api/courses/{course.id}/enrollments/{mine.id}"
    response = api(instructor).patch(url, {"role": "ta"}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "in_office_hours_queue"
    services.queue_leave(actor=mine, instructor_id=instructor.id)
    response = api(instructor).patch(url, {"role": "ta"}, format="json")
    assert response.status_code == 200 and response.json()["role"] == "ta"
    assert OfficeHoursQueue.objects.filter(student=mine).count() == 1


def _roster(view: dict) -> list[tuple[str, str]]:
    return [(member["name"], member["role"]) for member in view["staff"]]


def test_every_view_names_the_staff_who_serve_the_viewer(staff, api, admin_user, course):
    """The instructor (and admins) see every TA of the queue; a TA the staff of their
    courses; a student the instructor and the TAs of their own courses, never another
    course's TA. A deactivated TA is nobody's staff."""
    instructor, ta, other_ta = staff["instructor"], staff["ta"], staff["other_ta"]
    both = UserFactory(name="Bea Both")  # a student of both courses
    EnrollmentFactory(course=staff["other"], user=both)
    EnrollmentFactory(course=course, user=both)
    everyone = [(instructor.name, "instructor"), ("Otto TA", "ta"), ("Tara TA", "ta")]
    q = f"{BASE}/queue/{instructor.id}"
    assert _roster(api(instructor).get(q).json()) == everyone
    assert _roster(api(admin_user).get(q).json()) == everyone
    assert _roster(api(ta).get(q).json()) == [(instructor.name, "instructor"), ("Tara TA", "ta")]
    assert _roster(api(other_ta).get(q).json()) == [(instructor.name, "instructor"), ("Otto TA", "ta")]
    mine = api(staff["mine"]).get(q).json()
    assert mine["viewer"] == "student"
    assert mine["staff"] == [
        {"id": str(instructor.id), "name": instructor.name, "role": "instructor"},
        {"id": str(ta.id), "name": "Tara TA", "role": "ta"},
    ]
    assert _roster(api(staff["theirs"]).get(q).json()) == [(instructor.name, "instructor"), ("Otto TA", "ta")]
    assert _roster(api(both).get(q).json()) == everyone
    # The join answer is the student's view, with the same staff.
    joined = api(staff["mine"]).post(f"{q}/join", {"question": "Why?"}, format="json")
    assert joined.status_code == 201 and _roster(joined.json()) == _roster(mine)
    other_ta.is_active = False
    other_ta.save()
    assert _roster(api(both).get(q).json()) == [(instructor.name, "instructor"), ("Tara TA", "ta")]


def test_each_ta_is_sent_the_staff_of_their_courses(staff, django_capture_on_commit_callbacks):
    instructor, ta, other_ta = staff["instructor"], staff["ta"], staff["other_ta"]
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        join(staff["mine"], instructor)
    rosters = {frame.room: _roster(frame.data) for frame in sent.named(events.QUEUE_UPDATED)}
    assert rosters == {
        user_room(instructor.id): [(instructor.name, "instructor"), ("Otto TA", "ta"), ("Tara TA", "ta")],
        user_room(ta.id): [(instructor.name, "instructor"), ("Tara TA", "ta")],
        user_room(other_ta.id): [(instructor.name, "instructor"), ("Otto TA", "ta")],
    }
