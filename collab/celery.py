"""The Celery app and beat's schedule. Each periodic task is a thin wrapper in its
app's tasks module, named after the service it calls."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "collab.settings")

app = Celery("collab")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _schedule_periodic_work(sender: Celery, **kwargs) -> None:
    from django.conf import settings

    sender.conf.beat_schedule = {
        "presence-sweep": {
            "task": "presence.tasks.presence_sweep",
            "schedule": float(settings.PRESENCE_SWEEP_INTERVAL),
        },
        "live-session-reminders": {
            "task": "liveSessions.tasks.live_session_send_reminders",
            "schedule": float(settings.LIVE_SESSION_TICK_SECONDS),
        },
        "live-session-auto-end": {
            "task": "liveSessions.tasks.live_session_auto_end_overdue",
            "schedule": float(settings.LIVE_SESSION_TICK_SECONDS),
        },
        "outbox-prune": {
            "task": "collab.realtime.tasks.outbox_prune",
            "schedule": float(settings.OUTBOX_PRUNE_INTERVAL),
        },
        "office-hours-tick": {
            "task": "officehours.tasks.office_hours_tick",
            "schedule": float(settings.OFFICE_HOURS_TICK_SECONDS),
        },
    }
