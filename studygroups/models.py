"""Study groups: peer groups inside a course, their members and their chat.

A group is never hard-deleted by the product: deleting or emptying it sets
`is_active=False`, so its members and chat stay for staff. The membership limit is
enforced by the services under a row lock on the group (see services.py); the unique
(group, user) constraint is the backstop against double joins.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from collab.chat.models import ChatMessage
from collab.courses.models import Course

NAME_MAX_LENGTH = 100
DESCRIPTION_MAX_LENGTH = 2000
MIN_MEMBERS = 2
MAX_MEMBERS = 100
DEFAULT_MAX_MEMBERS = 10


class StudyGroup(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="study_groups")
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    description = models.TextField(max_length=DESCRIPTION_MAX_LENGTH, blank=True, default="")
    # The group outlives its creator's account; the creator is history, not a role.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="study_groups_created"
    )
    is_active = models.BooleanField(default=True)
    max_members = models.PositiveSmallIntegerField(
        default=DEFAULT_MAX_MEMBERS, validators=[MinValueValidator(MIN_MEMBERS), MaxValueValidator(MAX_MEMBERS)]
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The course list: active groups of a course, newest first.
            models.Index(fields=["course", "is_active", "-created_at"], name="studygroups_course_active_idx"),
            models.Index(fields=["created_by"], name="studygroups_creator_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(max_members__gte=MIN_MEMBERS, max_members__lte=MAX_MEMBERS),
                name="studygroups_max_members_range",
            ),
            models.CheckConstraint(condition=~models.Q(name=""), name="studygroups_name_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name


class MemberRole(models.TextChoices):
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"


class StudyGroupMember(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    group = models.ForeignKey(StudyGroup, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="study_group_memberships")
    role = models.CharField(max_length=8, choices=MemberRole.choices, default=MemberRole.MEMBER)
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["joined_at", "id"]
        constraints = [models.UniqueConstraint(fields=["group", "user"], name="studygroups_member_unique")]
        indexes = [
            # Hand-over picks the longest-standing member: (group, joined_at).
            models.Index(fields=["group", "joined_at"], name="studygroups_member_joined_idx"),
            models.Index(fields=["user", "group"], name="studygroups_member_user_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.group} ({self.role})"

    @property
    def is_admin(self) -> bool:
        return self.role == MemberRole.ADMIN


class StudyGroupMessage(ChatMessage):
    group = models.ForeignKey(StudyGroup, on_delete=models.CASCADE, related_name="messages")

    class Meta(ChatMessage.Meta):
        indexes = [models.Index(fields=["group", "sent_at"], name="studygroups_message_group_idx")]


__all__ = ["MemberRole", "StudyGroup", "StudyGroupMember", "StudyGroupMessage"]
