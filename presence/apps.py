from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class PresenceConfig(AppConfig):
    name = "presence"
    label = "presence"

    def ready(self) -> None:
        from collab.accounts.models import User
        from collab.courses.models import Course, Enrollment
        from presence import snapshots

        # Course presence snapshots show members, names and activation: whoever changes
        # those (services, the admin, cascades) drops the snapshots concerned on commit.
        for model, receiver in (
            (Enrollment, snapshots.on_enrollment_changed),
            (Course, snapshots.on_course_changed),
        ):
            post_save.connect(receiver, sender=model, dispatch_uid=f"presence-snapshot-{model.__name__}-saved")
            post_delete.connect(receiver, sender=model, dispatch_uid=f"presence-snapshot-{model.__name__}-deleted")
        post_save.connect(snapshots.on_user_saved, sender=User, dispatch_uid="presence-snapshot-user-saved")

        from collab.core.asgi_fast.front import drf_view_headers, front_route
        from presence import course_read
        from presence.views import CourseOnlineView

        front_route(course_read.PATH, course_read.course_online_front, lambda: drf_view_headers(CourseOnlineView))
