"""A real ASGI server process on PostgreSQL + Redis, a real WebSocket client."""

import httpx
import pytest
import websockets
from channels.db import database_sync_to_async as sync_to_async

from tests.conftest import access_token_for
from tests.factories import CourseFactory, UserFactory
from tests.servers import running_servers
from tests.sockets import receive_event

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


async def test_enrolling_a_connected_user_reaches_their_real_socket():
    instructor_course = await sync_to_async(CourseFactory)()
    learner = await sync_to_async(UserFactory)()
    instructor_token = await sync_to_async(access_token_for)(instructor_course.instructor)
    learner_token = await sync_to_async(access_token_for)(learner)

    with running_servers(1) as (server,):
        async with httpx.AsyncClient(base_url=server.http_url, timeout=10) as http:
            ticket = await http.post("/api/auth/ws-ticket", headers={"Authorization": f"Bearer {learner_token}"})
            assert ticket.status_code == 200
            body = ticket.json()
            assert body["expiresIn"] == 30

            async with websockets.connect(f"{server.ws_url}?ticket={body['ticket']}") as ws:
                enrolled = await http.post(
                    f"/api/courses/{instructor_course.id}/enrollments",
                    json={"userId": str(learner.id)},
                    headers={"Authorization": f"Bearer {instructor_token}"},
                )
                assert enrolled.status_code == 201, enrolled.text
                frame = await receive_event(ws, "course-enrolled")
                assert frame["data"]["id"] == str(instructor_course.id)
                assert frame["data"]["title"] == instructor_course.title
                assert frame["room"] == f"user-{learner.id}"
