"""Study-group reads. Visibility is decided here: a group outside the user's courses
does not exist for them (NotFound), whatever they do with it."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db.models import Case, Count, Exists, F, IntegerField, OuterRef, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce

from collab.accounts.models import User
from collab.chat.services import chat_history
from collab.core.errors import NotAllowed, NotFound
from collab.core.params import Cursor, keyset_page
from collab.courses.membership import member_q
from collab.courses.selectors import course_get_visible
from studygroups.models import MemberRole, StudyGroup, StudyGroupMember, StudyGroupMessage

GROUP_LIST_DEFAULT_LIMIT = 50
GROUP_LIST_MAX_LIMIT = 100


def groups_visible_to(user: User) -> QuerySet[StudyGroup]:
    """Groups of the courses `user` teaches or is enrolled in; every group for admins.
    Exists(), not a join on enrollments, so a group is never repeated."""
    groups = StudyGroup.objects.all()
    if user.is_admin:
        return groups
    return groups.filter(member_q(user.id, via="course"))


def with_stats(groups: QuerySet[StudyGroup], *, user: User) -> QuerySet[StudyGroup]:
    """memberCount, isMember, isFull and myRole for `user`, as SQL annotations (one query
    for any number of groups). Subqueries, not Count() over a join: no GROUP BY."""
    count = (
        StudyGroupMember.objects.filter(group_id=OuterRef("pk"))
        .order_by()
        .values("group_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    mine = StudyGroupMember.objects.filter(group_id=OuterRef("pk"), user_id=user.id)
    return groups.annotate(
        member_count=Coalesce(Subquery(count, output_field=IntegerField()), Value(0)),
        my_role=Subquery(mine.values("role")[:1]),
        is_member=Exists(mine),
        is_full=Case(When(member_count__gte=F("max_members"), then=Value(True)), default=Value(False)),
    ).select_related("created_by")


def group_get_visible(*, user: User, group_id: uuid.UUID | str) -> StudyGroup:
    """The group with its stats for `user`; NotFound if it is not in one of their courses."""
    group = with_stats(groups_visible_to(user), user=user).select_related("course").filter(id=group_id).first()
    if group is None:
        raise NotFound("Study group not found.", code="study_group_not_found")
    return group


def group_get_for_member(*, user: User, group_id: uuid.UUID | str) -> StudyGroup:
    """The group if `user` is in it (the chat, the live room); NotFound if they cannot
    see it, NotAllowed `not_a_member` if they can but are not in it."""
    group = group_get_visible(user=user, group_id=group_id)
    if not group.is_member:
        raise NotAllowed("Only members of this study group can do this.", code="not_a_member")
    return group


def group_list_for_course(
    *,
    user: User,
    course_id: uuid.UUID | str,
    cursor: Cursor | None = None,
    before: datetime | None = None,
    limit: int = GROUP_LIST_DEFAULT_LIMIT,
) -> tuple[list[StudyGroup], str | None]:
    """Active groups of a course, newest first by (createdAt, id): `limit` of them after
    `cursor` and created strictly before `before`; and the next page's cursor (None on
    the last page)."""
    course = course_get_visible(user=user, course_id=course_id)
    groups = StudyGroup.objects.filter(course=course, is_active=True)
    if before is not None:
        groups = groups.filter(created_at__lt=before)
    return keyset_page(with_stats(groups, user=user), time_field="created_at", cursor=cursor, limit=limit)


def group_members(*, group: StudyGroup) -> list[StudyGroupMember]:
    """Admins first, then by seniority. A group holds at most 100 members: bounded."""
    admin_first = Case(When(role=MemberRole.ADMIN, then=Value(0)), default=Value(1))
    return list(
        StudyGroupMember.objects.filter(group=group).select_related("user").order_by(admin_first, "joined_at", "id")
    )


def membership_get(*, group_id: uuid.UUID | str, user_id: uuid.UUID | str) -> StudyGroupMember | None:
    return StudyGroupMember.objects.filter(group_id=group_id, user_id=user_id).first()


def group_messages(
    *, user: User, group_id: uuid.UUID | str, cursor: Cursor | None = None, before: datetime | None = None, limit: int
) -> tuple[list[StudyGroupMessage], str | None]:
    """One page of the group's chat (members only) and the next page's cursor."""
    group = group_get_for_member(user=user, group_id=group_id)
    return chat_history(StudyGroupMessage.objects.filter(group=group), cursor=cursor, before=before, limit=limit)
