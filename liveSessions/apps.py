from django.apps import AppConfig


class LiveSessionsConfig(AppConfig):
    name = "liveSessions"
    label = "live_sessions"
    verbose_name = "Live sessions"
