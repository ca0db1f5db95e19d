"""Every write of the studygroups app. Split by job; import from here."""

from studygroups.services.chat import study_group_message_delete, study_group_message_moderate, study_group_message_send
from studygroups.services.groups import (
    study_group_create,
    study_group_delete,
    study_group_moderate_deactivate,
    study_group_update,
)
from studygroups.services.members import (
    study_group_join,
    study_group_leave,
    study_group_member_remove,
    study_group_memberships_end_for_unenrolled,
)

__all__ = [
    "study_group_create",
    "study_group_delete",
    "study_group_join",
    "study_group_leave",
    "study_group_member_remove",
    "study_group_memberships_end_for_unenrolled",
    "study_group_message_delete",
    "study_group_message_moderate",
    "study_group_message_send",
    "study_group_moderate_deactivate",
    "study_group_update",
]
