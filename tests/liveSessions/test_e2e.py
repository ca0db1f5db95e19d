"""A real ASGI server process on PostgreSQL + Redis, real WebSocket and HTTP clients: the
whole lifecycle of a live session as an instructor and a student see it."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
import websockets
from channels.db import database_sync_to_async as sync_to_async
from django.utils import timezone

from tests.conftest import access_token_for
from tests.factories import CourseFactory, EnrollmentFactory, UserFactory
from tests.servers import running_servers
from tests.sockets import nothing, receive_frames, request

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


def _people():
    course = CourseFactory()
    learner = UserFactory()
    EnrollmentFactory(course=course, user=learner)
    outsider = UserFactory()
    return (
        course,
        learner,
        outsider,
        {
            "teacher": access_token_for(course.instructor),
            "learner": access_token_for(learner),
            "outsider": access_token_for(outsider),
        },
    )


async def test_live_session_lifecycle_over_a_real_server():
    course, learner, _outsider, tokens = await sync_to_async(_people)()
    auth = {name: {"Authorization": f"Bearer {token}"} for name, token in tokens.items()}
    croom = f"course-{course.id}"

    with running_servers(1) as (server,):
        async with httpx.AsyncClient(base_url=server.http_url, timeout=10) as http:
            ticket = (await http.post("/api/auth/ws-ticket", headers=auth["learner"])).json()["ticket"]
            async with (
                websockets.connect(server.ws_url, additional_headers=auth["teacher"]) as teacher,
                websockets.connect(f"{server.ws_url}?ticket={ticket}") as student,
                websockets.connect(server.ws_url, additional_headers=auth["outsider"]) as stranger,
            ):
                created = await http.post(
                    "/api/live-sessions",
                    headers=auth["teacher"],
                    json={
                        "title": "Real server",
                        "description": "",
                        "scheduledAt": (timezone.now() + timedelta(minutes=30)).isoformat(),
                        "duration": 45,
                        "capacity": 10,
                        "courseId": str(course.id),
                    },
                )
                assert created.status_code == 201, created.text
                sid = created.json()["id"]
                sroom = f"session-{sid}"
                for ws in (teacher, student):
                    (frame,) = await receive_frames(ws, 1)
                    assert (frame["event"], frame["room"]) == ("live-session-scheduled", croom)

                assert (await http.post(f"/api/live-sessions/{sid}/start", headers=auth["teacher"])).status_code == 200
                for ws in (teacher, student):
                    (frame,) = await receive_frames(ws, 1)
                    assert (frame["event"], frame["room"]) == ("session-started", croom)

                assert (await request(teacher, "join-live-session", {"sessionId": sid}, "t1"))["event"] == "ack"
                ack = await request(student, "join-live-session", {"sessionId": sid}, "s1")
                assert ack["event"] == "ack" and ack["data"]["activeAttendees"] == 1
                frames = await receive_frames(teacher, 2)
                assert [(f["event"], f["room"]) for f in frames] == [
                    ("attendee-joined", sroom),
                    ("session-participant-joined", sroom),
                ]
                assert frames[0]["data"]["userId"] == str(learner.id)

                await student.send(
                    json.dumps({"event": "session-message", "data": {"sessionId": sid, "message": "hi"}})
                )
                (message,) = await receive_frames(teacher, 1)
                assert message["event"] == "session-new-message" and message["data"]["message"] == "hi"
                (echo,) = await receive_frames(student, 1)
                assert echo == message

                attendees = (await http.get(f"/api/live-sessions/{sid}/attendees", headers=auth["learner"])).json()
                assert attendees["activeAttendees"] == 1

                ended = await http.post(
                    f"/api/live-sessions/{sid}/end",
                    headers=auth["teacher"],
                    json={"recordingUrl": "https://rec.example/real"},
                )
                assert ended.status_code == 200
                for ws in (teacher, student):
                    frames = await receive_frames(ws, 2)
                    assert [(f["event"], f["room"]) for f in frames] == [
                        ("session-ended", croom),
                        ("session-ended", sroom),
                    ]
                    assert frames[1]["data"]["recordingUrl"] == "https://rec.example/real"

                history = (await http.get(f"/api/live-sessions/{sid}/messages", headers=auth["learner"])).json()
                assert [m["message"] for m in history["messages"]] == ["hi"]
                report = await http.get(f"/api/live-sessions/{sid}/attendance?format=csv", headers=auth["teacher"])
                assert report.status_code == 200 and report.headers["content-type"].startswith("text/csv")
                assert str(learner.id) in report.text

                assert await nothing(stranger)


async def test_a_killed_server_does_not_block_rejoining_elsewhere():
    """A socket on a server that dies (SIGKILL, no disconnect hook) leaves its user
    present; they still get in through another server, and the end closes everything."""
    course, _learner, _outsider, tokens = await sync_to_async(_people)()
    auth = {name: {"Authorization": f"Bearer {token}"} for name, token in tokens.items()}
    with running_servers(2) as (first, second):
        async with httpx.AsyncClient(base_url=first.http_url, timeout=10) as http:
            created = await http.post(
                "/api/live-sessions",
                headers=auth["teacher"],
                json={
                    "title": "Crash",
                    "scheduledAt": (timezone.now() + timedelta(minutes=30)).isoformat(),
                    "duration": 30,
                    "capacity": 1,
                    "courseId": str(course.id),
                },
            )
            sid = created.json()["id"]
            await http.post(f"/api/live-sessions/{sid}/start", headers=auth["teacher"])
            ws = await websockets.connect(first.ws_url, additional_headers=auth["learner"])
            assert (await request(ws, "join-live-session", {"sessionId": sid}, "a"))["event"] == "ack"
            first.kill()
        async with (
            httpx.AsyncClient(base_url=second.http_url, timeout=10) as http,
            websockets.connect(second.ws_url, additional_headers=auth["learner"]) as again,
        ):
            # Still counted present (same user): rejoining is idempotent, not "full".
            assert (await request(again, "join-live-session", {"sessionId": sid}, "b"))["event"] == "ack"
            assert (await http.post(f"/api/live-sessions/{sid}/end", headers=auth["teacher"])).status_code == 200
            report = (await http.get(f"/api/live-sessions/{sid}/attendance", headers=auth["teacher"])).json()
            assert [row["present"] for row in report["attendees"]] == [False]
