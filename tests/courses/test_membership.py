"""The one membership rule: each predicate and its queryset expression agree, for every
kind of user, on Course itself and on a model that reaches its course through a key."""

from __future__ import annotations

import pytest

from collab.accounts.models import User
from collab.courses import membership
from collab.courses.models import Course, EnrollmentRole
from liveSessions.models import LiveSession
from tests.factories import AdminFactory, CourseFactory, EnrollmentFactory, InstructorFactory, UserFactory
from tests.liveSessions.factories import LiveSessionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(course, instructor, student):
    other_course = CourseFactory()
    outsider = UserFactory()
    EnrollmentFactory(course=other_course, user=outsider)
    return {
        "instructor": (instructor, True, True),
        "student": (student, False, True),
        "outsider": (outsider, False, False),
        "other instructor": (InstructorFactory(), False, False),
        "admin": (AdminFactory(), False, False),
    }


@pytest.mark.parametrize("who", ["instructor", "student", "outsider", "other instructor", "admin"])
def test_the_predicates_and_the_expressions_agree(people, course, who):
    user, teaches, member = people[who]
    assert membership.teaches(user, course) is teaches
    assert membership.is_member(user, course) is member
    assert membership.is_enrolled(user.id, course.id) is (member and not teaches)
    assert Course.objects.filter(membership.teaches_q(user.id), id=course.id).exists() is teaches
    assert Course.objects.filter(membership.member_q(user.id), id=course.id).exists() is member
    assert (course.id in membership.member_course_ids(user.id)) is member


def test_member_course_ids_of_many_users_agree_with_one_by_one(people, course, instructor, student):
    second = CourseFactory(instructor=instructor)
    EnrollmentFactory(course=second, user=student, role=EnrollmentRole.TA)
    EnrollmentFactory(course=second, user=instructor)  # an instructor enrolled in their own course: once
    users = [user for user, _, _ in people.values()]
    ids = [user.id for user in users] + [str(UserFactory().id)]
    many = membership.member_course_ids_many(ids)
    one_by_one = {user.id: membership.member_course_ids(user.id) for user in users}
    assert many == {user_id: courses for user_id, courses in one_by_one.items() if courses}
    assert sorted(many[instructor.id]) == sorted([course.id, second.id])
    assert sorted(many[student.id]) == sorted([course.id, second.id])
    assert membership.member_course_ids_many([]) == {}
    for user in users:
        expected = set(Course.objects.filter(membership.member_q(user.id)).values_list("id", flat=True))
        assert set(membership.member_course_ids(str(user.id))) == expected


def test_the_expression_follows_a_foreign_key_and_repeats_no_row(course, instructor, student):
    session = LiveSessionFactory(course=course)
    LiveSessionFactory(course=None, instructor=instructor)  # an open session belongs to no course
    EnrollmentFactory(course=course)  # another enrolment must not repeat the session
    for user in (instructor, student):
        assert list(LiveSession.objects.filter(membership.member_q(user.id, via="course"))) == [session]
    assert not LiveSession.objects.filter(membership.member_q(UserFactory().id, via="course")).exists()


def test_members_of_a_set_of_courses_and_of_one(course, instructor, student):
    UserFactory()
    members = set(User.objects.filter(membership.members_of_q(Course.objects.filter(id=course.id))))
    assert members == {instructor, student}
    ids = membership.course_member_ids(course_id=course.id, instructor_id=course.instructor_id)
    assert sorted(ids) == sorted([instructor.id, student.id])


# -- course staff -------------------------------------------------------------------------


def test_staff_is_the_instructor_and_the_tas_in_every_form(db):
    instructor = InstructorFactory()
    course, other = CourseFactory(instructor=instructor), CourseFactory(instructor=instructor)
    ta, student, stranger = UserFactory(), UserFactory(), UserFactory()
    EnrollmentFactory(course=course, user=ta, role=EnrollmentRole.TA)
    EnrollmentFactory(course=course, user=student)
    expected = {instructor.id: True, ta.id: True, student.id: False, stranger.id: False}
    for user_id, staff in expected.items():
        assert membership.is_course_staff(user_id, course) is staff
        assert membership.is_course_staff_id(user_id, course.id) is staff
        assert Course.objects.filter(membership.staff_q(user_id), id=course.id).exists() is staff
        assert membership.is_queue_staff(user_id, instructor.id) is staff
    # A TA is staff of the courses they assist in only.
    assert not membership.is_course_staff(ta.id, other)
    assert membership.queue_staff_course_ids(ta.id, instructor.id) == [course.id]
    assert set(membership.queue_staff_course_ids(instructor.id, instructor.id)) == {course.id, other.id}
    assert membership.queue_staff_course_ids(student.id, instructor.id) == []
    # Office-hours eligibility: students only, never TAs or the instructor.
    assert membership.is_course_student_of_instructor(student.id, instructor.id)
    assert not membership.is_course_student_of_instructor(ta.id, instructor.id)
    assert not membership.is_course_student_of_instructor(instructor.id, instructor.id)
    members, staff = membership.course_members_and_staff(course.id, instructor.id)
    assert set(members) == {instructor.id, ta.id, student.id} and staff == {instructor.id, ta.id}
    assert membership.course_staff_ids(course.id) == [instructor.id, ta.id]
    assert [membership.course_role(u.id, course) for u in (instructor, ta, student, stranger)] == [
        "instructor",
        "ta",
        "student",
        None,
    ]
