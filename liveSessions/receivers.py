"""How live sessions follow changes made elsewhere (collab's signals; connected by
LiveSessionsConfig.ready)."""

from django.dispatch import receiver

from collab.courses.signals import enrollment_removed
from collab.realtime.signals import leases_swept
from liveSessions import services


@receiver(enrollment_removed, dispatch_uid="live-sessions-enrollment-removed")
def end_attendance_of_unenrolled(sender, *, course, user_id, actor, **kwargs) -> None:
    """An unenrolled user present in one of the course's sessions leaves it."""
    services.attendance_end_for_unenrolled(course=course, user_id=user_id, actor=actor)


@receiver(leases_swept, dispatch_uid="live-sessions-leases-swept")
def release_lapsed_seats(sender, **kwargs) -> None:
    """Seats held by sockets of a killed process are freed once their leases lapse."""
    services.attendance_release_lapsed()
