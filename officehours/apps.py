from django.apps import AppConfig


class OfficeHoursConfig(AppConfig):
    name = "officehours"
    label = "officehours"
    verbose_name = "Office hours"

    def ready(self) -> None:
        from collab.courses.hooks import on_enrollment_removed, on_enrollment_role_changed
        from officehours.services import queue_entry_end_for_unenrolled, queue_refuse_staff_in_queue

        # A student no longer eligible for the course's instructor leaves their queue.
        on_enrollment_removed(queue_entry_end_for_unenrolled)
        # A student made TA does not keep a place in the queue they now serve.
        on_enrollment_role_changed(queue_refuse_staff_in_queue)
