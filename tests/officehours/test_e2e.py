"""Real ASGI server processes on PostgreSQL + Redis, real WebSocket and HTTP clients: two
students on two different server processes watch their positions and estimated waits
move while the instructor works the queue over REST."""

from __future__ import annotations

import json

import httpx
import pytest
import websockets
from asgiref.sync import sync_to_async
from django.db import connection

from tests.conftest import access_token_for
from tests.factories import CourseFactory, EnrollmentFactory, InstructorFactory, UserFactory
from tests.servers import running_servers
from tests.sockets import receive_event

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


@sync_to_async
def make_world():
    instructor = InstructorFactory(name="Prof Ada")
    course = CourseFactory(instructor=instructor)
    students = [UserFactory(name=name) for name in ("Ann Real", "Bob Real", "Cat Real")]
    for learner in students:
        EnrollmentFactory(course=course, user=learner)
    tokens = {u.id: access_token_for(u) for u in [instructor, *students]}
    # This worker thread's connection would otherwise outlive the test and block the
    # test database's teardown.
    connection.close()
    return instructor, students, tokens


async def test_positions_and_estimates_reach_two_real_sockets():
    instructor, (ann, bob, cat), tokens = await make_world()
    auth = {u.id: {"Authorization": f"Bearer {tokens[u.id]}"} for u in (instructor, ann, bob, cat)}
    queue = f"/api/office-hours/queue/{instructor.id}"

    with running_servers(2) as (one, two):
        async with (
            httpx.AsyncClient(base_url=one.http_url, timeout=10) as http,
            websockets.connect(one.ws_url, additional_headers=auth[bob.id]) as ws_bob,
            websockets.connect(two.ws_url, additional_headers=auth[cat.id]) as ws_cat,
        ):
            opened = await http.post(f"{queue}/open", headers=auth[instructor.id])
            assert opened.status_code == 200, opened.text
            for learner in (ann, bob, cat):
                joined = await http.post(
                    f"{queue}/join", json={"question": f"{learner.name}?"}, headers=auth[learner.id]
                )
                assert joined.status_code == 201, joined.text
            assert joined.json()["entry"]["position"] == 3

            bob_frame = await receive_event(ws_bob, "office-hours-position-changed")
            cat_frame = await receive_event(ws_cat, "office-hours-position-changed")
            assert (bob_frame["data"]["position"], bob_frame["data"]["estimatedWaitMinutes"]) == (2, 20)
            assert (cat_frame["data"]["position"], cat_frame["data"]["estimatedWaitMinutes"]) == (3, 30)

            admitted = await http.post(f"{queue}/admit", json={}, headers=auth[instructor.id])
            assert admitted.status_code == 200 and admitted.json()["student"]["name"] == "Ann Real"
            bob_frame = await receive_event(ws_bob, "office-hours-position-changed")
            cat_frame = await receive_event(ws_cat, "office-hours-position-changed")
            assert (bob_frame["data"]["position"], bob_frame["data"]["estimatedWaitMinutes"]) == (1, 10)
            assert (cat_frame["data"]["position"], cat_frame["data"]["estimatedWaitMinutes"]) == (2, 20)
            up_next = await receive_event(ws_bob, "office-hours-up-next")
            assert up_next["data"]["entryId"] == bob_frame["data"]["entryId"]

            # Bob withdraws over his socket; Cat, on the other process, moves up.
            await ws_bob.send(
                json.dumps(
                    {"event": "leave-office-hours-queue", "data": {"instructorId": str(instructor.id)}, "ref": 1}
                )
            )
            ack = await receive_event(ws_bob, "ack")
            assert ack["data"]["leftEntryId"] == bob_frame["data"]["entryId"]
            cat_frame = await receive_event(ws_cat, "office-hours-position-changed")
            assert (cat_frame["data"]["position"], cat_frame["data"]["estimatedWaitMinutes"]) == (1, 10)

            own = (await http.get(queue, headers=auth[cat.id])).json()
            assert own["viewer"] == "student" and own["entry"]["position"] == 1 and own["queueLength"] == 1
            assert "Ann Real" not in json.dumps(own)
