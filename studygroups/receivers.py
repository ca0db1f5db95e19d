"""How study groups follow changes made elsewhere (collab's signals; connected by
StudyGroupsConfig.ready)."""

from django.dispatch import receiver

from collab.courses.signals import enrollment_removed
from studygroups import services


@receiver(enrollment_removed, dispatch_uid="studygroups-enrollment-removed")
def end_memberships_of_unenrolled(sender, *, course, user_id, actor, **kwargs) -> None:
    """An unenrolled user leaves the course's groups and their rooms."""
    services.study_group_memberships_end_for_unenrolled(course=course, user_id=user_id, actor=actor)
