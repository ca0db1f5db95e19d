"""Office-hours socket events. Subscribing uses the same rules as the REST queue view
(OfficeHoursPermission); the room itself only carries frames without student data."""

from __future__ import annotations

import uuid

from channels.db import database_sync_to_async

from collab.accounts.models import User
from collab.core.errors import NotAllowed
from collab.core.jsonframes import rest_payload
from collab.realtime.dispatch import room_entry, socket_event, validate
from officehours import events, selectors, services
from officehours.permissions import OfficeHoursPermission
from officehours.serializers import InstructorQueueSerializer, QueueRefSerializer, StudentQueueSerializer


def _subscribe_view(user: User, instructor_id: uuid.UUID) -> dict:
    instructor = selectors.instructor_get(instructor_id=instructor_id)
    if not OfficeHoursPermission.can_subscribe(user, instructor.id):
        raise NotAllowed("Only the instructor and their students can follow this queue.", code="not_eligible")
    view = selectors.queue_get(viewer=user, instructor_id=instructor.id, limit=500)
    serializer = InstructorQueueSerializer if view["viewer"] == "instructor" else StudentQueueSerializer
    return rest_payload(serializer, view)


@socket_event(events.JOIN_QUEUE)
async def join_office_hours_queue(socket, data: dict) -> dict:
    """Subscribe to office-hours-<instructorId>; the ack carries the caller's view."""
    body = validate(QueueRefSerializer, data)
    view = await database_sync_to_async(_subscribe_view)(socket.user, body["instructor_id"])
    await socket.join_room(events.office_hours_room(body["instructor_id"]))
    return view


@room_entry("office-hours-")
async def resume_office_hours_queue(socket, ident: str) -> None:
    """`resume` re-subscribes exactly as join-office-hours-queue does."""
    await join_office_hours_queue(socket, {"instructorId": ident})


def _leave(user: User, instructor_id: uuid.UUID) -> str | None:
    entry = services.queue_leave(actor=user, instructor_id=instructor_id, missing_ok=True)
    return str(entry.id) if entry is not None else None


@socket_event(events.LEAVE_QUEUE)
async def leave_office_hours_queue(socket, data: dict) -> dict:
    """Withdraw the caller's waiting entry (if any; the instructor is told) and unsubscribe."""
    body = validate(QueueRefSerializer, data)
    room = events.office_hours_room(body["instructor_id"])
    entry_id = await database_sync_to_async(_leave)(socket.user, body["instructor_id"])
    await socket.leave_room(room)
    return {"instructorId": str(body["instructor_id"]), "leftEntryId": entry_id}
