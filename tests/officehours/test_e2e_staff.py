"""Course staff end to end: an instructor and two TAs serve one queue of ten students
over REST on two real server processes at the same time; every student is admitted
exactly once, by one staff member, and their socket (on either process) is told who is
coming and where (the meeting link of that staff member's own slot)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, time

import httpx
import pytest
import websockets
from asgiref.sync import sync_to_async
from django.db import connection

from collab.courses.models import EnrollmentRole
from officehours import services
from officehours.models import EntryStatus, OfficeHoursQueue
from tests.conftest import access_token_for
from tests.factories import CourseFactory, EnrollmentFactory, InstructorFactory, UserFactory
from tests.servers import recv_frame, running_servers
from tests.sockets import request

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]

STUDENTS = 10


@sync_to_async
def make_world():
    instructor = InstructorFactory(name="Prof Ada")
    course = CourseFactory(instructor=instructor)
    tas = [UserFactory(name=name) for name in ("Tia TA", "Tom TA")]
    for ta in tas:
        EnrollmentFactory(course=course, user=ta, role=EnrollmentRole.TA)
    students = [UserFactory(name=f"Student {n:02d}") for n in range(STUDENTS)]
    for learner in students:
        EnrollmentFactory(course=course, user=learner)
    # Each staff member holds a weekly slot of their own (the day after tomorrow: not in
    # progress, the queue is opened by hand) with their own meeting link.
    later = (datetime.now(UTC).isoweekday() + 2) % 7
    links = {}
    for member in [instructor, *tas]:
        links[member.id] = f"https://meet.example.com/{member.name.split()[0].lower()}"
        services.office_hours_create(
            actor=member,
            instructor_id=instructor.id,
            day_of_week=later,
            start_time=time(9),
            end_time=time(10),
            meeting_url=links[member.id],
        )
    tokens = {u.id: access_token_for(u) for u in [instructor, *tas, *students]}
    connection.close()
    return instructor, tas, students, tokens, links


@sync_to_async
def entries_of(instructor_id) -> list[OfficeHoursQueue]:
    rows = list(OfficeHoursQueue.objects.filter(instructor_id=instructor_id))
    connection.close()
    return rows


async def frames_until(ws, event: str, seconds: float = 20.0) -> list[dict]:
    """Every frame up to and including the first `event`."""
    seen: list[dict] = []

    async def wait() -> list[dict]:
        while True:
            frame = await recv_frame(ws)
            seen.append(frame)
            if frame["event"] == event:
                return seen

    return await asyncio.wait_for(wait(), seconds)


async def test_instructor_and_two_tas_serve_ten_students_each_exactly_once():
    instructor, tas, students, tokens, links = await make_world()
    auth = {uid: {"Authorization": f"Bearer {token}"} for uid, token in tokens.items()}
    queue = f"/api/office-hours/queue/{instructor.id}"
    staff = [instructor, *tas]
    names = {u.id: u.name for u in staff}

    with running_servers(2) as servers:
        async with (
            httpx.AsyncClient(base_url=servers[0].http_url, timeout=20) as http_one,
            httpx.AsyncClient(base_url=servers[1].http_url, timeout=20) as http_two,
        ):
            https = [http_one, http_two]
            sockets = [
                await websockets.connect(servers[i % 2].ws_url, additional_headers=auth[learner.id])
                for i, learner in enumerate(students)
            ]
            try:
                opened = await http_one.post(f"{queue}/open", headers=auth[instructor.id])
                assert opened.status_code == 200, opened.text
                # Every student follows the queue; its view names the three staff who serve them.
                roster = [
                    {"id": str(member.id), "name": member.name, "role": "instructor" if member is instructor else "ta"}
                    for member in (instructor, *sorted(tas, key=lambda ta: ta.name))
                ]
                for ws in sockets:
                    ack = await request(ws, "join-office-hours-queue", {"instructorId": str(instructor.id)})
                    assert ack["event"] == "ack" and ack["data"]["viewer"] == "student", ack
                    assert ack["data"]["staff"] == roster
                # The TAs see the full queue view (names and questions).
                for i, learner in enumerate(students):
                    joined = await https[i % 2].post(
                        f"{queue}/join", json={"question": f"Question {i}"}, headers=auth[learner.id]
                    )
                    assert joined.status_code == 201, joined.text
                ta_view = (await http_two.get(queue, headers=auth[tas[0].id])).json()
                assert ta_view["queueLength"] == STUDENTS
                assert {row["student"]["name"] for row in ta_view["entries"]} == {s.name for s in students}

                served: list[tuple] = []

                async def work(member, http) -> None:
                    # Admit next, then complete, until nobody is waiting.
                    while True:
                        admitted = await http.post(f"{queue}/admit", json={}, headers=auth[member.id])
                        if admitted.status_code == 409:
                            assert admitted.json()["error"]["code"] == "queue_empty"
                            return
                        assert admitted.status_code == 200, admitted.text
                        entry = admitted.json()
                        assert entry["admittedBy"] == {"id": str(member.id), "name": member.name}
                        served.append((entry["student"]["id"], str(member.id)))
                        done = await http.post(
                            f"/api/office-hours/queue/entries/{entry['id']}/complete", json={}, headers=auth[member.id]
                        )
                        assert done.status_code == 200, done.text

                await asyncio.gather(*(work(member, https[i % 2]) for i, member in enumerate(staff)))

                # Each student admitted exactly once, across the three staff members.
                assert Counter(student_id for student_id, _ in served) == Counter(str(s.id) for s in students)
                admitted_by = dict(served)

                # Each student's socket heard exactly one office-hours-admitted naming who
                # admitted them and that staff member's meeting link, before being told
                # the meeting was completed.
                by_id = {str(member.id): member for member in staff}
                for learner, ws in zip(students, sockets, strict=True):
                    frames = await frames_until(ws, "office-hours-completed")
                    admitted_frames = [f for f in frames if f["event"] == "office-hours-admitted"]
                    assert len(admitted_frames) == 1, [f["event"] for f in frames]
                    who = admitted_frames[0]["data"]["admittedBy"]
                    assert who["id"] == admitted_by[str(learner.id)]
                    coming = by_id[who["id"]]
                    assert who["name"] == names[coming.id]
                    assert admitted_frames[0]["data"]["meetingUrl"] == links[coming.id]
            finally:
                for ws in sockets:
                    await ws.close()

    entries = await entries_of(instructor.id)
    assert len(entries) == STUDENTS
    assert all(e.status == EntryStatus.COMPLETED for e in entries)
    assert all(e.admitted_by_id == e.completed_by_id for e in entries)
    assert {e.student_id for e in entries} == {s.id for s in students}
