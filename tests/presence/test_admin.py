"""Staff moderation in the Django admin: filter, search, force offline."""

import pytest
from django.test import Client

from collab.realtime import leases
from presence import services
from presence.models import UserPresence
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

CHANGELIST = "/admin/presence/userpresence/"


@pytest.fixture
def rows(course, student):
    services.presence_heartbeat(user_id=student.id)
    services.presence_update(user=student, status="busy", activity="Grading quiz")
    other = UserFactory(name="Quiet Quentin")
    services.presence_update(user=other, status="away")
    return student, other


def test_changelist_filters_by_status_and_searches(staff_client, rows):
    student, other = rows
    page = staff_client.get(CHANGELIST, {"status__exact": "busy"})
    assert page.status_code == 200
    assert student.email in page.text and other.email not in page.text
    page = staff_client.get(CHANGELIST, {"announced_status__exact": "busy"})
    assert student.email in page.text and other.email not in page.text
    page = staff_client.get(CHANGELIST, {"q": "Quentin"})
    assert other.email in page.text and student.email not in page.text
    page = staff_client.get(CHANGELIST, {"q": "Grading"})
    assert student.email in page.text


def test_force_offline_action(staff_client, rows, course):
    from collab.realtime.testing import capture_broadcasts

    student, _ = rows
    with capture_broadcasts() as sent:
        response = staff_client.post(
            CHANGELIST, {"action": "force_offline", "_selected_action": [str(student.id)]}, follow=True
        )
    assert response.status_code == 200
    row = UserPresence.objects.get(user=student)
    assert (row.status, row.activity, row.announced_status) == ("offline", "", "offline")
    assert not leases.is_live(student.id)
    assert "offline" in [b.data["status"] for b in sent]


def test_non_staff_cannot_open_the_admin(student):
    client = Client()
    client.force_login(student)
    assert client.get(CHANGELIST).status_code == 302
