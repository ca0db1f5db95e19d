"""Staff moderation in the Django admin: filters, end/cancel actions, message search and delete."""

from __future__ import annotations

import pytest
from django.test import Client

from collab.realtime.testing import capture_broadcasts
from liveSessions import services
from liveSessions.models import LiveSession, SessionMessage, SessionStatus
from tests.factories import CourseFactory
from tests.liveSessions.factories import live_session

pytestmark = pytest.mark.django_db

S = SessionStatus


def test_sessions_filter_by_status_and_course(staff_client, course):
    live = live_session(course, status=S.LIVE, title="Live one")
    live_session(course, title="Scheduled one")
    live_session(CourseFactory(), status=S.LIVE, title="Elsewhere")
    page = staff_client.get(
        "/admin/live_sessions/livesession/", {"status__exact": "live", "course__id__exact": course.id}
    )
    assert page.status_code == 200
    body = page.content.decode()
    assert "Live one" in body and "Scheduled one" not in body and "Elsewhere" not in body
    assert staff_client.get(f"/admin/live_sessions/livesession/{live.id}/change/").status_code == 200


def test_end_and_cancel_actions_go_through_the_services(staff_client, course, django_capture_on_commit_callbacks):
    live = live_session(course, status=S.LIVE)
    scheduled = live_session(course)
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        staff_client.post(
            "/admin/live_sessions/livesession/",
            {"action": "end_sessions", "_selected_action": [live.id, scheduled.id]},
        )
        staff_client.post(
            "/admin/live_sessions/livesession/", {"action": "cancel_sessions", "_selected_action": [scheduled.id]}
        )
    live.refresh_from_db()
    scheduled.refresh_from_db()
    assert live.status == S.ENDED and live.ended_at is not None
    assert scheduled.status == S.CANCELLED
    assert sent.events() == ["session-ended", "session-ended", "live-session-cancelled"]


def test_sessions_cannot_be_deleted_or_added_in_the_admin(staff_client, course):
    session = live_session(course)
    assert staff_client.get(f"/admin/live_sessions/livesession/{session.id}/delete/").status_code == 403
    assert staff_client.get("/admin/live_sessions/livesession/add/").status_code == 403
    assert LiveSession.objects.filter(id=session.id).exists()


def test_messages_search_and_moderation_delete(staff_client, course, student, django_capture_on_commit_callbacks):
    live = live_session(course, status=S.LIVE)
    bad = services.session_message_send(actor=student, session_id=live.id, message="buy cheap pills")
    services.session_message_send(actor=student, session_id=live.id, message="good question")
    page = staff_client.get("/admin/live_sessions/sessionmessage/", {"q": "pills"})
    assert page.status_code == 200
    assert "buy cheap pills" in page.content.decode() and "good question" not in page.content.decode()

    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        staff_client.post(
            "/admin/live_sessions/sessionmessage/", {"action": "moderate_delete", "_selected_action": [bad.id]}
        )
    bad.refresh_from_db()
    assert bad.deleted_at is not None
    assert sent.events() == ["session-message-deleted"]
    assert SessionMessage.objects.filter(deleted_at__isnull=True).count() == 1


def test_non_staff_cannot_open_the_admin(student, course):
    client = Client()
    client.force_login(student)
    response = client.get("/admin/live_sessions/livesession/")
    assert response.status_code == 302
