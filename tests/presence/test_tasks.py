"""The beat sweep: lapsed leases become offline, announced once, idempotent."""

import time

import pytest

from collab.realtime import leases
from collab.realtime.testing import capture_broadcasts
from presence import services, sweep
from presence.models import UserPresence
from presence.tasks import presence_sweep
from tests.factories import EnrollmentFactory, UserFactory
from tests.presence.test_services import _run_at_once

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("uncoalesced")]


def _lapse(user_id, lease_id="ws:crashed", *, ago: float = 10.0):
    """A lease renewed long enough ago to have lapsed, as a killed process leaves it."""
    leases.lease_touch(user_id=user_id, lease_id=lease_id, now=time.time() - leases.lease_ttl() - ago)


def test_sweep_marks_lapsed_users_offline_and_broadcasts_once(course, student, instructor):
    services.presence_heartbeat(user_id=student.id)
    services.presence_heartbeat(user_id=instructor.id)
    # The student's process died: their only lease lapsed. The instructor is still live.
    leases.lease_release(user_id=student.id, lease_id=leases.HTTP_LEASE)
    UserPresence.objects.filter(user=student).update(last_seen_at=None, shown_last_seen_at=None)
    _lapse(student.id)
    assert not leases.is_live(student.id)
    assert UserPresence.objects.get(user=student).announced_status == "online"

    with capture_broadcasts() as sent:
        assert presence_sweep() == 1
    assert [(b.room, b.data["userId"], b.data["status"]) for b in sent] == [
        (f"course-{course.id}", str(student.id), "offline")
    ]
    row = UserPresence.objects.get(user=student)
    assert row.announced_status == "offline"
    # lastSeenAt is the lapsed lease's last renewal, not the sweep's time.
    assert abs(row.last_seen_at.timestamp() - (time.time() - leases.lease_ttl() - 10)) < 5
    assert row.shown_last_seen_at == row.last_seen_at
    assert UserPresence.objects.get(user=instructor).announced_status == "online"

    with capture_broadcasts() as again:
        assert presence_sweep() == 0
    assert again == []


def test_sweep_keeps_users_with_another_live_lease(course, student):
    services.presence_heartbeat(user_id=student.id)
    _lapse(student.id)
    with capture_broadcasts() as sent:
        assert presence_sweep() == 0
    assert sent == []
    assert leases.is_live(student.id)
    live = leases.sync_redis().zcount(leases.leases_key(student.id), f"({time.time()}", "+inf")
    assert live == 1


def test_sweep_of_an_invisible_user_sends_nothing(course, student):
    services.presence_heartbeat(user_id=student.id)
    services.presence_update(user=student, status="offline")
    leases.lease_release(user_id=student.id, lease_id=leases.HTTP_LEASE)
    _lapse(student.id)
    with capture_broadcasts() as sent:
        assert presence_sweep() == 0
    assert sent == []
    assert leases.sync_redis().zscore(leases.online_key(), str(student.id)) is None


def test_sweep_reconciles_rows_announced_online_without_any_lease(course, student):
    # Redis lost its data (restart) after the user was announced online.
    services.presence_heartbeat(user_id=student.id)
    leases.sync_redis().flushdb()
    with capture_broadcasts() as sent:
        assert presence_sweep() == 1
    assert [b.data["status"] for b in sent] == ["offline"]
    assert presence_sweep() == 0


def test_two_sweeps_at_once_announce_each_user_once(course):
    users = [UserFactory() for _ in range(20)]
    for user in users:
        EnrollmentFactory(course=course, user=user)
        services.presence_heartbeat(user_id=user.id)
        leases.lease_release(user_id=user.id, lease_id=leases.HTTP_LEASE)
        _lapse(user.id)
    results = []
    with capture_broadcasts() as sent:
        _run_at_once(lambda: results.append(presence_sweep()), lambda: results.append(presence_sweep()))
    assert sum(results) == 20
    announced = sorted(b.data["userId"] for b in sent.named("presence-changed"))
    assert announced == sorted(str(user.id) for user in users)
    assert not UserPresence.objects.exclude(announced_status="offline").exists()


def test_sweep_in_batches(course, settings):
    users = [UserFactory() for _ in range(7)]
    for user in users:
        EnrollmentFactory(course=course, user=user)
        _lapse(user.id)
        services.presence_sync(user_id=user.id)
        # Announced online while it lasted (the lease was live when the row was written).
        UserPresence.objects.filter(user=user).update(announced_status="online")
    assert sweep.presence_sweep(batch=3) == 7
    assert leases.sync_redis().zcard(leases.online_key()) == 0


def test_sweep_survives_a_user_deleted_with_a_live_lease(course, student):
    ghost = UserFactory()
    EnrollmentFactory(course=course, user=ghost)
    services.presence_heartbeat(user_id=student.id)
    leases.lease_release(user_id=student.id, lease_id=leases.HTTP_LEASE)
    _lapse(student.id)
    _lapse(ghost.id)
    ghost.delete()
    with capture_broadcasts() as sent:
        assert presence_sweep() == 1
    assert [b.data["userId"] for b in sent] == [str(student.id)]
    assert not UserPresence.objects.filter(user_id=ghost.id).exists()


def test_task_has_the_name_beat_schedules():
    from collab.celery import app

    assert presence_sweep.name == "presence.tasks.presence_sweep"
    assert "presence.tasks.presence_sweep" in app.tasks
