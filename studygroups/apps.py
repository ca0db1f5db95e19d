from django.apps import AppConfig


class StudyGroupsConfig(AppConfig):
    name = "studygroups"
    label = "studygroups"
    verbose_name = "Study groups"

    def ready(self) -> None:
        from collab.courses.hooks import on_enrollment_removed
        from studygroups.services import study_group_memberships_end_for_unenrolled

        # An unenrolled user leaves the course's groups and their rooms.
        on_enrollment_removed(study_group_memberships_end_for_unenrolled)
