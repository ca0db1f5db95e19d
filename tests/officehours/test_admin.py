"""Django admin (staff only): lists with filters, and clearing a queue through the service."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.test import Client

from collab.realtime.rooms import user_room
from collab.realtime.testing import capture_broadcasts
from officehours import events, services
from officehours.models import OfficeHoursQueue, OfficeHoursQueueState
from tests.officehours.conftest import join

pytestmark = pytest.mark.django_db


def test_changelists_and_filters(staff_client, open_queue, student):
    services.office_hours_create(actor=open_queue, day_of_week=3, start_time="10:00", end_time="11:00")
    join(student, open_queue)
    for url in (
        "/admin/officehours/officehours/?is_active__exact=1&day_of_week=3",
        "/admin/officehours/officehoursqueue/?status__exact=waiting",
        f"/admin/officehours/officehoursqueue/?q={student.name}",
        "/admin/officehours/officehoursqueuestate/?is_open__exact=1",
    ):
        response = staff_client.get(url)
        assert response.status_code == 200, url
    assert (
        student.name in staff_client.get("/admin/officehours/officehoursqueue/?status__exact=waiting").content.decode()
    )


def test_non_staff_cannot_open_the_admin(student):
    client = Client()
    client.force_login(student)
    assert client.get("/admin/officehours/officehoursqueue/").status_code == 302


def test_clear_queue_action_removes_waiting_and_tells_students(
    staff_client, open_queue, student, enroll, django_capture_on_commit_callbacks
):
    (second,) = enroll(1)
    join(student, open_queue)
    join(second, open_queue)
    services.queue_admit(actor=open_queue, instructor_id=open_queue.id)  # student: admitted, stays
    state = OfficeHoursQueueState.objects.get(instructor=open_queue)
    url = "/admin/officehours/officehoursqueuestate/"
    selection = {"action": "clear_queues", ACTION_CHECKBOX_NAME: [str(state.pk)]}

    confirm = staff_client.post(url, selection)
    assert confirm.status_code == 200 and b"Clear queues" in confirm.content
    assert OfficeHoursQueue.objects.filter(status="waiting").count() == 1

    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        done = staff_client.post(url, {**selection, "apply": "1", "reason": "Instructor is ill"})
    assert done.status_code == 302
    statuses = dict(OfficeHoursQueue.objects.values_list("student_id", "status"))
    assert statuses == {student.id: "admitted", second.id: "removed"}
    (removed,) = sent.named(events.REMOVED)
    assert removed.room == user_room(second.id) and removed.data["reason"] == "Instructor is ill"


def test_clear_from_entry_list(staff_client, open_queue, student, django_capture_on_commit_callbacks):
    entry = join(student, open_queue)
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(
            "/admin/officehours/officehoursqueue/",
            {"action": "clear_queues", ACTION_CHECKBOX_NAME: [str(entry.pk)], "apply": "1", "reason": "Spam"},
        )
    entry.refresh_from_db()
    assert entry.status == "removed" and entry.removed_reason == "Spam"
