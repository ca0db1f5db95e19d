"""Fixtures for study-group tests: a group in `course` with one person in every role."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from collab.courses.models import EnrollmentRole
from studygroups.models import MemberRole, StudyGroup, StudyGroupMember
from tests.factories import EnrollmentFactory, UserFactory

BASE = "/api/study-groups"


def make_group(course, creator, *, max_members: int = 10, name: str = "Algebra crew", **extra) -> StudyGroup:
    group = StudyGroup.objects.create(course=course, created_by=creator, name=name, max_members=max_members, **extra)
    StudyGroupMember.objects.create(group=group, user=creator, role=MemberRole.ADMIN)
    return group


def add_member(group, user=None, *, role: str = MemberRole.MEMBER, **extra) -> StudyGroupMember:
    if user is None:
        user = UserFactory()
        EnrollmentFactory(course=group.course, user=user)
    return StudyGroupMember.objects.create(group=group, user=user, role=role, **extra)


def enrolled_student(course, role: str = EnrollmentRole.STUDENT):
    user = UserFactory()
    EnrollmentFactory(course=course, user=user, role=role)
    return user


@dataclass
class Cast:
    group: StudyGroup
    group_admin: object
    member: object
    course_mate: object
    course_instructor: object
    stranger: object
    site_admin: object
    ta: object = None
    anonymous: None = None

    def __getitem__(self, role: str):
        return getattr(self, role)


ROLES = ["member", "group_admin", "course_mate", "course_instructor", "stranger", "site_admin", "anonymous", "ta"]


@pytest.fixture
def cast(course, student, instructor, admin_user) -> Cast:
    """`student` created the group (its admin); a second student joined it; a third is in
    the course but not the group; `stranger` is in no course of ours."""
    group = make_group(course, student)
    member = enrolled_student(course)
    add_member(group, member)
    return Cast(
        group=group,
        group_admin=student,
        member=member,
        course_mate=enrolled_student(course),
        course_instructor=instructor,
        stranger=UserFactory(),
        site_admin=admin_user,
        ta=enrolled_student(course, role=EnrollmentRole.TA),
    )
