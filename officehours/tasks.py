"""Celery wrappers (thin). Beat runs office_hours_tick every OFFICE_HOURS_TICK_SECONDS."""

from celery import shared_task

from officehours import services


@shared_task(name="officehours.tasks.office_hours_tick", ignore_result=True)
def office_hours_tick() -> dict:
    return services.office_hours_tick()
