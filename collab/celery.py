"""The Celery app. Each app's tasks module registers its own periodic tasks with beat
(`on_after_finalize`), so the schedule lives next to the work it runs."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "collab.settings")

app = Celery("collab")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
