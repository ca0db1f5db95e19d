from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The web console at `/`: a reference client served as a template and static files.
    It talks to the server only through the public REST API and /ws/; nothing here
    imports another app."""

    name = "console"
    default_auto_field = "django.db.models.BigAutoField"
