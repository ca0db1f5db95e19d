"""How office hours follow changes made elsewhere (collab's signals; connected by
OfficeHoursConfig.ready)."""

from django.dispatch import receiver

from collab.courses.signals import enrollment_removed, enrollment_role_changed
from officehours import services


@receiver(enrollment_removed, dispatch_uid="officehours-enrollment-removed")
def end_queue_entry_of_unenrolled(sender, *, course, user_id, actor, **kwargs) -> None:
    """A student no longer eligible for the course's instructor leaves their queue."""
    services.queue_entry_end_for_unenrolled(course=course, user_id=user_id, actor=actor)


@receiver(enrollment_role_changed, dispatch_uid="officehours-enrollment-role-changed")
def refuse_staff_in_queue(sender, *, course, enrollment, actor, **kwargs) -> None:
    """A student made TA does not keep a place in the queue they now serve (409)."""
    services.queue_refuse_staff_in_queue(course=course, enrollment=enrollment, actor=actor)
