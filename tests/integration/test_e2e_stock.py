"""With every piece of collab/core/asgi_fast/ off (`ASGI_FAST=none`: stock Django,
Channels and DRF), a real server still does what collab does: the switch documented in
docs/architecture.md ("Faster than stock") is a real way back, not a promise."""

from __future__ import annotations

import httpx
import pytest
import websockets
from channels.db import database_sync_to_async as sync_to_async

from liveSessions.models import SessionStatus
from tests.conftest import access_token_for
from tests.factories import CourseFactory, EnrollmentFactory, UserFactory
from tests.liveSessions.factories import live_session
from tests.servers import running_servers
from tests.sockets import receive_event, request

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


def _class_in_session():
    course = CourseFactory()
    learner = UserFactory()
    EnrollmentFactory(course=course, user=learner)
    session = live_session(course, status=SessionStatus.LIVE)
    return course, learner, session, access_token_for(course.instructor), access_token_for(learner)


@pytest.mark.parametrize("pieces", ["none", "middleware,cache,consumer_loop,socket_db,async_front,front"])
async def test_rest_admin_and_sockets_work_with_the_pieces_on_and_off(pieces):
    course, learner, session, teacher_token, learner_token = await sync_to_async(_class_in_session)()
    with running_servers(1, {"ASGI_FAST": pieces}) as (server,):
        async with httpx.AsyncClient(base_url=server.http_url, timeout=20) as http:
            teacher = {"Authorization": f"Bearer {teacher_token}"}
            online = await http.get(f"/api/presence/course/{course.id}", headers=teacher)
            assert online.status_code == 200, online.text
            assert online.json()["courseId"] == str(course.id)
            # The first read cached the token's generation (DRF's path); the second is the
            # fast one when the pieces are on: the same bytes, headers included.
            again = await http.get(f"/api/presence/course/{course.id}", headers=teacher)
            assert again.content == online.content
            assert [item for item in again.headers.items() if item[0] != "date"] == [
                item for item in online.headers.items() if item[0] != "date"
            ]
            refused = await http.get(f"/api/presence/course/{course.id}")
            assert refused.status_code == 401 and refused.json()["error"]["code"]
            # The admin's login page: sessions, CSRF and messages middleware.
            admin = await http.get("/admin/login/")
            assert admin.status_code == 200 and "csrftoken" in admin.cookies
            tickets = [
                (await http.post("/api/auth/ws-ticket", headers={"Authorization": f"Bearer {token}"})).json()["ticket"]
                for token in (teacher_token, learner_token)
            ]
        async with (
            websockets.connect(f"{server.ws_url}?ticket={tickets[0]}") as host,
            websockets.connect(f"{server.ws_url}?ticket={tickets[1]}") as student,
        ):
            for ws in (host, student):
                joined = await request(ws, "join-live-session", {"sessionId": str(session.id)})
                assert joined["data"]["sessionId"] == str(session.id), joined
            sent = await request(student, "session-message", {"sessionId": str(session.id), "message": "hello"})
            assert sent["event"] == "ack", sent
            heard = await receive_event(host, "session-new-message")
            assert heard["data"]["message"] == "hello" and heard["data"]["userId"] == str(learner.id)
