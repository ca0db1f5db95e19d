from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "collab.core"
    label = "core"

    def ready(self) -> None:
        from collab.core import checks

        checks.install()
