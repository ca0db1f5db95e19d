"""Beat's periodic work (schedule in collab/celery.py): thin wrappers of the services."""

from celery import shared_task

from liveSessions import services


@shared_task(name="liveSessions.tasks.live_session_send_reminders", ignore_result=True)
def live_session_send_reminders() -> int:
    return services.live_session_send_reminders()


@shared_task(name="liveSessions.tasks.live_session_auto_end_overdue", ignore_result=True)
def live_session_auto_end_overdue() -> dict:
    return services.live_session_auto_end_overdue()
