from django.apps import AppConfig


class CoursesConfig(AppConfig):
    name = "collab.courses"
    label = "courses"
