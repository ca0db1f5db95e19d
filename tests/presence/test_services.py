"""Presence services: transitions, announcements, races (real threads on PostgreSQL)."""

import threading
import time

import pytest
from django.db import connection

from collab.realtime import leases
from collab.realtime.testing import capture_broadcasts
from presence import services
from presence.models import UserPresence
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("uncoalesced")]


def _run_at_once(*targets):
    """Runs each target in its own thread, released together by a barrier."""
    barrier = threading.Barrier(len(targets))
    errors = []

    def run(target):
        try:
            barrier.wait()
            target()
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not [thread for thread in threads if thread.is_alive()], "a thread hung"
    assert not errors, errors


def _connect(user_id, lease_id):
    if leases.lease_touch(user_id=user_id, lease_id=lease_id):
        services.presence_sync(user_id=user_id, seen_at=None)


def _disconnect(user_id, lease_id):
    if leases.lease_release(user_id=user_id, lease_id=lease_id):
        services.presence_sync(user_id=user_id)


def test_first_lease_announces_to_each_course_room_once(course, student):
    with capture_broadcasts() as sent:
        assert services.presence_heartbeat(user_id=student.id) == 300
        services.presence_heartbeat(user_id=student.id)
    assert [(b.room, b.event) for b in sent] == [(f"course-{course.id}", "presence-changed")]
    assert sent[0].data["status"] == "online"


def test_user_without_courses_is_announced_nowhere(db):
    loner = UserFactory()
    with capture_broadcasts() as sent:
        services.presence_heartbeat(user_id=loner.id)
    assert sent == []
    assert UserPresence.objects.get(user=loner).announced_status == "online"


@pytest.mark.parametrize("attempt", range(3))
def test_two_sockets_connecting_at_once_announce_online_once(course, student, attempt):
    with capture_broadcasts() as sent:
        _run_at_once(lambda: _connect(student.id, "ws:a"), lambda: _connect(student.id, "ws:b"))
    assert len(sent.named("presence-changed")) == 1
    assert UserPresence.objects.get(user=student).announced_status == "online"
    assert leases.sync_redis().zcard(leases.leases_key(student.id)) == 2


@pytest.mark.parametrize("attempt", range(3))
def test_two_sockets_disconnecting_at_once_announce_offline_once(course, student, attempt):
    _connect(student.id, "ws:a")
    _connect(student.id, "ws:b")
    with capture_broadcasts() as sent:
        _run_at_once(lambda: _disconnect(student.id, "ws:a"), lambda: _disconnect(student.id, "ws:b"))
    assert [b.data["status"] for b in sent.named("presence-changed")] == ["offline"]
    assert not leases.is_live(student.id)


def test_reconnect_racing_disconnect_ends_in_the_truth(course, student):
    _connect(student.id, "ws:a")
    with capture_broadcasts() as sent:
        _run_at_once(lambda: _disconnect(student.id, "ws:a"), lambda: _connect(student.id, "ws:b"))
    row = UserPresence.objects.get(user=student)
    assert leases.is_live(student.id)
    assert row.announced_status == "online"
    # Either nothing was said, or offline then online: the last word is the truth.
    statuses = [b.data["status"] for b in sent.named("presence-changed")]
    assert statuses in ([], ["offline", "online"])


def test_first_row_created_by_two_requests_at_once(course, student):
    _run_at_once(
        lambda: services.presence_update(user=student, status="busy"),
        lambda: services.presence_update(user=student, activity="Reading"),
    )
    row = UserPresence.objects.get(user=student)
    assert row.status == "busy"
    assert row.activity == "Reading"


def test_status_change_announces_only_what_others_see(course, student):
    services.presence_heartbeat(user_id=student.id)
    with capture_broadcasts() as sent:
        services.presence_update(user=student, status="away")
    assert {b.room for b in sent} == {f"course-{course.id}", f"user-{student.id}"}
    assert [b.data["status"] for b in sent.to_room(f"course-{course.id}")] == ["away"]
    with capture_broadcasts() as sent:
        services.presence_update(user=student, status="away")
    assert sent == []


def test_status_change_while_offline_tells_only_the_user(course, student):
    with capture_broadcasts() as sent:
        view = services.presence_update(user=student, status="busy")
    assert view.status == "busy" and view.connected is False
    assert [b.room for b in sent] == [f"user-{student.id}"]
    # Once connected, others see the chosen status.
    with capture_broadcasts() as sent:
        services.presence_heartbeat(user_id=student.id)
    assert [b.data["status"] for b in sent.to_room(f"course-{course.id}")] == ["busy"]


def test_set_wrappers(course, student):
    services.presence_heartbeat(user_id=student.id)
    assert services.presence_update(user=student, status="busy").status == "busy"
    assert services.presence_update(user=student, status="online").status == "online"
    assert services.presence_update(user=student, status="away").status == "away"
    assert services.presence_update(user=student, status="offline").status == "offline"
    assert UserPresence.objects.get(user=student).announced_status == "offline"


def test_invisible_keeps_lastseen_shown_to_others_still(course, student):
    services.presence_heartbeat(user_id=student.id)
    services.presence_update(user=student, status="offline")
    frozen = UserPresence.objects.get(user=student).shown_last_seen_at
    time.sleep(0.01)
    leases.sync_redis().delete(leases.seen_key(student.id))
    services.presence_heartbeat(user_id=student.id)
    row = UserPresence.objects.get(user=student)
    assert row.last_seen_at > frozen
    assert row.shown_last_seen_at == frozen


def test_force_offline(course, student, admin_user):
    services.presence_heartbeat(user_id=student.id)
    services.presence_set_activity(user=student, activity="Quiz")
    with capture_broadcasts() as sent:
        assert services.presence_force_offline(actor=admin_user, user_ids=[student.id]) == 1
    assert [b.data["status"] for b in sent.to_room(f"course-{course.id}")] == ["offline"]
    assert sent.to_room(f"user-{student.id}")[0].data["status"] == "offline"
    row = UserPresence.objects.get(user=student)
    assert (row.status, row.activity, row.announced_status) == ("offline", "", "offline")
    assert not leases.is_live(student.id)
    # A client that keeps going stays hidden until the user picks a status.
    with capture_broadcasts() as sent:
        services.presence_heartbeat(user_id=student.id)
    assert sent == []


def test_force_offline_refused_to_non_staff(course, student, instructor):
    from collab.core.errors import NotAllowed

    with pytest.raises(NotAllowed) as refused:
        services.presence_force_offline(actor=instructor, user_ids=[student.id])
    assert refused.value.code == "not_staff"


def test_deleting_a_user_deletes_their_presence(course, student):
    services.presence_heartbeat(user_id=student.id)
    student.delete()
    assert not UserPresence.objects.exists()
