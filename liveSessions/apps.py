from django.apps import AppConfig


class LiveSessionsConfig(AppConfig):
    name = "liveSessions"
    label = "live_sessions"
    verbose_name = "Live sessions"

    def ready(self) -> None:
        from liveSessions import receivers  # noqa: F401  (connects the signal receivers)
