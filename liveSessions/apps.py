from django.apps import AppConfig


class LiveSessionsConfig(AppConfig):
    name = "liveSessions"
    label = "live_sessions"
    verbose_name = "Live sessions"

    def ready(self) -> None:
        from collab.courses.hooks import on_enrollment_removed
        from liveSessions.services import attendance_end_for_unenrolled, attendance_release_lapsed
        from presence.hooks import on_presence_swept

        # An unenrolled user present in one of the course's sessions leaves it.
        on_enrollment_removed(attendance_end_for_unenrolled)
        # Seats held by sockets of a killed process are freed once their leases lapse.
        on_presence_swept(attendance_release_lapsed)
