"""Celery runs tasks at least once: acknowledged late, requeued when the worker running
them dies; beat prunes the outbox, and two prunes at once delete each row once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from collab.celery import app
from collab.realtime import outbox
from collab.realtime.broadcast import broadcast_on_commit
from collab.realtime.models import RoomEvent


def test_tasks_are_acknowledged_late_and_requeued_when_their_worker_dies():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.broker_transport_options["visibility_timeout"] > 0


def test_beat_prunes_the_outbox():
    app.loader.import_default_modules()
    schedule = app.conf.beat_schedule
    assert schedule["outbox-prune"]["task"] == "collab.realtime.tasks.outbox_prune"
    assert "collab.realtime.tasks.outbox_prune" in app.tasks


@pytest.mark.django_db(transaction=True)
def test_two_overlapping_prunes_delete_each_row_once(settings):
    for n in range(30):
        with transaction.atomic():
            broadcast_on_commit("course-prune-test", "test-event", {"n": n})
    settings.OUTBOX_RETAIN_EVENTS, settings.OUTBOX_RETAIN_SECONDS = 5, 0
    deleted: list[int] = []
    start = threading.Barrier(2)

    def prune() -> None:
        start.wait()
        try:
            deleted.append(outbox.outbox_prune())
        finally:
            connection.close()

    threads = [threading.Thread(target=prune) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(deleted) == 25
    assert RoomEvent.objects.filter(room="course-prune-test").count() == 5
