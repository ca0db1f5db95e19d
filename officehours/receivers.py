"""How office hours follow changes made elsewhere (collab's signals; connected by
OfficeHoursConfig.ready)."""

from django.dispatch import receiver

from collab.courses.signals import enrollment_removed
from officehours import services


@receiver(enrollment_removed, dispatch_uid="officehours-enrollment-removed")
def end_queue_entry_of_unenrolled(sender, *, course, user_id, actor, **kwargs) -> None:
    """A student no longer eligible for the course's instructor leaves their queue."""
    services.queue_entry_end_for_unenrolled(course=course, user_id=user_id, actor=actor)
