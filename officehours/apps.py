from django.apps import AppConfig


class OfficeHoursConfig(AppConfig):
    name = "officehours"
    label = "officehours"
    verbose_name = "Office hours"
