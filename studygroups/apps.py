from django.apps import AppConfig


class StudyGroupsConfig(AppConfig):
    name = "studygroups"
    label = "studygroups"
    verbose_name = "Study groups"
