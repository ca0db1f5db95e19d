from django.apps import AppConfig


class OfficeHoursConfig(AppConfig):
    name = "officehours"
    label = "officehours"
    verbose_name = "Office hours"

    def ready(self) -> None:
        from officehours import receivers  # noqa: F401  (connects the signal receivers)
