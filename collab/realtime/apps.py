from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class RealtimeConfig(AppConfig):
    name = "collab.realtime"
    label = "realtime"

    def ready(self) -> None:
        # Each app registers the socket events it owns in its own `consumers` module.
        autodiscover_modules("consumers")
        # The core's own socket events.
        from collab.realtime import resume  # noqa: F401
