"""Sequenced frames and `resume`, in-process (real PostgreSQL, Redis and channel layer):
seq and id on history frames, none on state; resume replays what was missed in order,
then acks; resync when the gap is older than retention; denied where the join event
would refuse. The relay and the outbox: tests/realtime/test_resume_relay.py. Faults with
real processes: tests/realtime/test_faults_e2e.py."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.db import transaction

from collab.realtime import outbox
from collab.realtime.broadcast import broadcast_on_commit
from collab.realtime.models import RoomEvent
from liveSessions import services
from liveSessions.models import SessionStatus
from tests.conftest import ws_connect
from tests.factories import CourseFactory, UserFactory
from tests.liveSessions.factories import live_session

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async


async def request(comm, event: str, data: dict, ref: str = "r") -> tuple[list[dict], dict]:
    """Sends with a ref; returns (frames before the reply, the reply)."""
    await comm.send_json_to({"event": event, "data": data, "ref": ref})
    before = []
    while True:
        frame = await comm.receive_json_from(timeout=5)
        if frame.get("ref") == ref:
            return before, frame
        before.append(frame)


async def drain(comm, timeout: float = 0.4) -> list[dict]:
    got = []
    while not await comm.receive_nothing(timeout=timeout):
        got.append(await comm.receive_json_from())
    return got


def chat(actor, session_id, text: str):
    return services.session_message_send(actor=actor, session_id=session_id, message=text)


async def test_history_frames_carry_gapless_seq_and_id_state_frames_do_not(course, instructor, student):
    session = await db(live_session)(course, status=SessionStatus.LIVE)
    learner = await ws_connect(student)
    try:
        await request(learner, "join-live-session", {"sessionId": str(session.id)})
        await drain(learner)
        for text in ("one", "two", "three"):
            await db(chat)(instructor, session.id, text)
        got = [frame for frame in await drain(learner) if frame["event"] == "session-new-message"]
        assert [frame["data"]["message"] for frame in got] == ["one", "two", "three"]
        seqs = [frame["seq"] for frame in got]
        assert seqs == list(range(seqs[0], seqs[0] + 3))
        assert len({frame["id"] for frame in got}) == 3
        # Typing is state: no seq.
        teacher = await ws_connect(instructor)
        await request(teacher, "join-live-session", {"sessionId": str(session.id)}, ref="t")
        await drain(learner)
        await teacher.send_json_to({"event": "session-typing-start", "data": {"sessionId": str(session.id)}})
        typing = [frame for frame in await drain(learner) if frame["event"] == "session-user-typing"]
        assert typing and "seq" not in typing[0] and "id" not in typing[0]
        await teacher.disconnect()
    finally:
        await learner.disconnect()


async def test_a_rolled_back_change_uses_no_seq_and_sends_nothing(course, student):
    room = f"course-{course.id}"
    learner = await ws_connect(student)
    try:

        def work():
            with transaction.atomic():
                broadcast_on_commit(room, "test-kept", {"n": 1})
            try:
                with transaction.atomic():
                    broadcast_on_commit(room, "test-rolled-back", {"n": 2})
                    raise RuntimeError("roll back")
            except RuntimeError:
                pass
            with transaction.atomic():
                broadcast_on_commit(room, "test-kept", {"n": 3})

        await db(work)()
        got = await drain(learner)
        assert [(frame["event"], frame["data"]["n"]) for frame in got] == [("test-kept", 1), ("test-kept", 3)]
        assert got[1]["seq"] == got[0]["seq"] + 1
        assert await db(lambda: list(RoomEvent.objects.filter(room=room).values_list("seq", flat=True)))() == [
            got[0]["seq"],
            got[1]["seq"],
        ]
    finally:
        await learner.disconnect()


async def test_resume_replays_what_was_missed_in_order_then_acks_then_presence(course, instructor, student):
    session = await db(live_session)(course, status=SessionStatus.LIVE)
    sroom, croom = f"session-{session.id}", f"course-{course.id}"
    learner = await ws_connect(student)
    await request(learner, "join-live-session", {"sessionId": str(session.id)})
    await db(chat)(instructor, session.id, "before the cut")
    seen = [frame for frame in await drain(learner) if frame.get("room") == sroom and "seq" in frame]
    last = seen[-1]["seq"]
    last_course = (await db(outbox.room_seqs)([croom]))[croom]
    await learner.disconnect()

    for index in range(12):
        await db(chat)(instructor, session.id, f"missed {index}")

    back = await ws_connect(student, ignore_events=frozenset())
    try:
        before, ack = await request(back, "resume", {"rooms": {sroom: last, croom: last_course}})
        replayed = [frame for frame in before if frame.get("room") == sroom]
        assert [frame["seq"] for frame in replayed] == list(range(last + 1, last + 1 + len(replayed)))
        messages = [frame["data"]["message"] for frame in replayed if frame["event"] == "session-new-message"]
        assert messages == [f"missed {index}" for index in range(12)]
        # The old socket's departure is history it missed; its own re-entry (the resume's
        # join) is not replayed to it, as join-live-session never sends a socket its own
        # attendee-joined: the seq counts as delivered (the ack's seq), nothing is sent.
        assert [(f["event"], f["data"]["userId"]) for f in replayed if f["event"].startswith("attendee-")] == [
            ("attendee-left", str(student.id))
        ]
        current = (await db(outbox.room_seqs)([sroom]))[sroom]
        assert current == replayed[-1]["seq"] + 1  # the resume's own attendee-joined
        assert ack["event"] == "ack"
        assert ack["data"]["rooms"][sroom] == {"status": "resumed", "seq": current}
        assert ack["data"]["rooms"][croom]["status"] == "resumed"
        # The socket is back in the session (attendance as join-live-session) and hears it live.
        after = await drain(back)
        batches = [frame for frame in after if frame["event"] == "presence-batch" and frame["room"] == croom]
        assert len(batches) == 1
        assert {user["userId"] for user in batches[0]["data"]["users"]} == {str(instructor.id), str(student.id)}
        await db(chat)(instructor, session.id, "live again")
        live = [frame for frame in await drain(back) if frame["event"] == "session-new-message"]
        assert [(frame["data"]["message"], frame["seq"]) for frame in live] == [("live again", current + 1)]
    finally:
        await back.disconnect()


async def test_resume_when_nothing_was_missed_and_when_the_gap_is_older_than_retention(
    course, instructor, student, settings
):
    session = await db(live_session)(course, status=SessionStatus.LIVE)
    sroom = f"session-{session.id}"
    learner = await ws_connect(student)
    # In the room already: resuming it takes no seat again, so it adds no frame.
    await request(learner, "join-live-session", {"sessionId": str(session.id)}, ref="j")
    for index in range(6):
        await db(chat)(instructor, session.id, f"m{index}")
    await drain(learner)
    current = (await db(outbox.room_seqs)([sroom]))[sroom]
    settings.OUTBOX_RETAIN_EVENTS = 2
    settings.OUTBOX_RETAIN_SECONDS = 0
    assert await db(outbox.outbox_prune)() == current - 2
    try:
        before, ack = await request(learner, "resume", {"rooms": {sroom: current}})
        assert ack["data"]["rooms"][sroom] == {"status": "resumed", "seq": current}
        assert [frame for frame in before if frame.get("room") == sroom] == []

        # lastSeq 1: seqs 2..current-2 are gone.
        before, ack = await request(learner, "resume", {"rooms": {sroom: 1}}, ref="r2")
        assert ack["data"]["rooms"][sroom] == {"status": "resync", "seq": current}
        assert [frame for frame in before if frame.get("room") == sroom] == []
        # Ahead of the room (another deployment's numbering): resync too.
        _, ack = await request(learner, "resume", {"rooms": {sroom: current + 50}}, ref="r3")
        assert ack["data"]["rooms"][sroom] == {"status": "resync", "seq": current}
        # Still a full member of the room after a resync: the next frame is current + 1.
        await drain(learner)
        await db(chat)(instructor, session.id, "next")
        live = [frame for frame in await drain(learner) if frame["event"] == "session-new-message"]
        assert [frame["seq"] for frame in live] == [current + 1]
    finally:
        await learner.disconnect()


async def test_resume_is_denied_where_the_join_event_would_refuse(course, instructor, student):
    session = await db(live_session)(course, status=SessionStatus.LIVE)
    other_course = await db(CourseFactory)()
    foreign = await db(live_session)(other_course, status=SessionStatus.LIVE)
    ended = await db(live_session)(course, status=SessionStatus.ENDED)
    outsider = await db(UserFactory)()
    stranger = await ws_connect(outsider)
    try:
        await db(chat)(instructor, session.id, "private")
        rooms = {
            f"session-{session.id}": 0,
            f"session-{foreign.id}": 0,
            f"session-{ended.id}": 0,
            f"course-{course.id}": 0,
            f"user-{student.id}": 0,
            "session-not-a-uuid": 0,
            "nonsense-room": 0,
        }
        before, ack = await request(stranger, "resume", {"rooms": rooms})
        assert before == []  # not one frame of a room it may not enter
        states = ack["data"]["rooms"]
        assert all(state["status"] == "denied" and state["seq"] is None for state in states.values())
        assert states[f"session-{session.id}"]["code"] == "session_not_found"
        assert states[f"course-{course.id}"]["code"] == "not_a_member"
        assert states[f"user-{student.id}"]["code"] == "not_a_member"
        assert states["nonsense-room"]["code"] == "unknown_room"
        assert states["session-not-a-uuid"]["code"] == "invalid"
        await db(chat)(instructor, session.id, "still private")
        assert await stranger.receive_nothing(timeout=0.4)
    finally:
        await stranger.disconnect()


async def test_resume_with_the_id_of_the_last_frame_checks_the_history_is_the_same(course, instructor, student):
    """`{seq, id}`: the server replays only if its frame `seq` is the one the client saw;
    a database restored or reset numbers the room anew, and the client must reload."""
    session = await db(live_session)(course, status=SessionStatus.LIVE)
    sroom = f"session-{session.id}"
    learner = await ws_connect(student)
    try:
        await request(learner, "join-live-session", {"sessionId": str(session.id)}, ref="j")
        await db(chat)(instructor, session.id, "seen")
        seen = [frame for frame in await drain(learner) if frame["event"] == "session-new-message"][-1]
        await db(chat)(instructor, session.id, "missed")
        await drain(learner)  # it is in the room: the live frame first; the replay again below

        before, ack = await request(learner, "resume", {"rooms": {sroom: {"seq": seen["seq"], "id": seen["id"]}}})
        assert ack["data"]["rooms"][sroom] == {"status": "resumed", "seq": seen["seq"] + 1}
        assert [f["data"]["message"] for f in before if f["event"] == "session-new-message"] == ["missed"]

        # Another history under the same numbers (the id of frame `seq` is not ours).
        other = {"seq": seen["seq"], "id": "00000000-0000-4000-8000-000000000000"}
        before, ack = await request(learner, "resume", {"rooms": {sroom: other}}, ref="r2")
        assert ack["data"]["rooms"][sroom] == {"status": "resync", "seq": seen["seq"] + 1}
        assert [f for f in before if f.get("room") == sroom] == []
    finally:
        await learner.disconnect()


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"rooms": []},
        {"rooms": {"user-x": -1}},
        {"rooms": {"user-x": "3"}},
        {"rooms": {"user-x": True}},
        {"rooms": {"user-x": {"seq": "3"}}},
        {"rooms": {"user-x": {"seq": 3, "id": "not-a-uuid"}}},
        {"rooms": {"user-x": {"id": "00000000-0000-4000-8000-000000000000"}}},
    ],
)
async def test_bad_resume_frames_are_refused(student, data):
    learner = await ws_connect(student)
    try:
        _, reply = await request(learner, "resume", data)
        assert reply["event"] == "error" and reply["data"]["code"] == "invalid"
    finally:
        await learner.disconnect()


async def test_resume_reenters_a_study_group_room_as_its_join_event_would(course, student, other_student):
    from studygroups import services as group_services
    from tests.studygroups.conftest import make_group

    group = await db(make_group)(course, student)
    groom = f"study-group-{group.id}"
    member = await ws_connect(student)
    stranger = await ws_connect(other_student)  # not enrolled, not a member
    try:
        await db(group_services.study_group_message_send)(actor=student, group_id=group.id, body="first")
        await db(group_services.study_group_message_send)(actor=student, group_id=group.id, body="second")
        before, ack = await request(member, "resume", {"rooms": {groom: 0}})
        messages = [f["data"]["message"] for f in before if f["event"] == "study-group-new-message"]
        assert messages == ["first", "second"]
        assert ack["data"]["rooms"][groom]["status"] == "resumed"
        assert groom in ack["data"]["rooms"]
        before, ack = await request(stranger, "resume", {"rooms": {groom: 0}}, ref="s")
        assert before == [] and ack["data"]["rooms"][groom]["status"] == "denied"
    finally:
        await member.disconnect()
        await stranger.disconnect()


async def test_resume_of_an_office_hours_room_follows_its_join_rules(course, instructor, student, other_student):
    oroom = f"office-hours-{instructor.id}"
    learner = await ws_connect(student)
    stranger = await ws_connect(other_student)
    try:
        _, ack = await request(learner, "resume", {"rooms": {oroom: 0}})
        assert ack["data"]["rooms"][oroom]["status"] == "resumed"
        _, ack = await request(stranger, "resume", {"rooms": {oroom: 0}}, ref="s")
        assert ack["data"]["rooms"][oroom] == {"status": "denied", "seq": None, "code": "not_eligible"}
    finally:
        await learner.disconnect()
        await stranger.disconnect()
