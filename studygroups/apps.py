from django.apps import AppConfig


class StudyGroupsConfig(AppConfig):
    name = "studygroups"
    label = "studygroups"
    verbose_name = "Study groups"

    def ready(self) -> None:
        from studygroups import receivers  # noqa: F401  (connects the signal receivers)
