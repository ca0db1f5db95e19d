"""Socket events of study groups. The room `study-group-<id>` is open to group members
only (the same rule as the REST chat: selectors.group_get_for_member)."""

from __future__ import annotations

from channels.db import database_sync_to_async

from collab.core.asgi_fast.socket_db import socket_db
from collab.core.errors import Conflict, DomainError
from collab.core.jsonframes import iso
from collab.realtime.broadcast import broadcast_now, call_tracking_delivery
from collab.realtime.dispatch import on_socket_disconnect, room_entry, socket_event, validate
from studygroups import events, selectors, services
from studygroups.serializers import GroupMessageInSerializer, GroupRefSerializer


async def _active_group_for_member(socket, group_id):
    group = await database_sync_to_async(selectors.group_get_for_member)(user=socket.user, group_id=group_id)
    if not group.is_active:
        raise Conflict("This study group has been closed.", code="group_inactive")
    return group


@socket_event(events.JOIN)
async def join_study_group(socket, data: dict) -> dict:
    body = validate(GroupRefSerializer, data)
    group = await _active_group_for_member(socket, body["group_id"])
    room = events.group_room(group.id)
    already_in = room in socket.rooms
    await socket.join_room(room)
    if not already_in:
        # Checked again now that the socket is in the room: a leave or delete that
        # committed between the first check and join_room sent its "leave the room"
        # control before this socket was in it, and would otherwise miss it.
        try:
            group = await _active_group_for_member(socket, body["group_id"])
        except DomainError:
            await socket.leave_room(room)
            raise
        await broadcast_now(
            room,
            events.PARTICIPANT_JOINED,
            events.participant_payload(group.id, user=socket.user),
            exclude_channel=socket.channel_name,
        )
    return {"groupId": str(group.id), "name": group.name, "memberCount": group.member_count}


@room_entry("study-group-")
async def resume_study_group(socket, ident: str) -> None:
    """`resume` re-enters a group room exactly as join-study-group does."""
    await join_study_group(socket, {"groupId": ident})


@socket_event(events.LEAVE)
async def leave_study_group(socket, data: dict) -> dict:
    """Leaves the live room (not the group). Leaving a room one is not in is a no-op."""
    body = validate(GroupRefSerializer, data)
    room = events.group_room(body["group_id"])
    if room not in socket.rooms:
        return {"groupId": str(body["group_id"]), "left": False}
    await socket.leave_room(room)
    await broadcast_now(room, events.PARTICIPANT_LEFT, events.participant_payload(body["group_id"], user=socket.user))
    return {"groupId": str(body["group_id"]), "left": True}


@socket_event(events.SEND_MESSAGE)
async def study_group_message(socket, data: dict) -> dict:
    body = validate(GroupMessageInSerializer, data)
    message, delivery = await socket_db(call_tracking_delivery)(
        services.study_group_message_send, actor=socket.user, group_id=body["group_id"], body=body["message"]
    )
    return {
        "id": str(message.id),
        "groupId": str(body["group_id"]),
        "sentAt": iso(message.sent_at),
        "delivery": delivery,
    }


@on_socket_disconnect
async def _tell_groups_on_disconnect(socket) -> None:
    """A closed socket leaves its group rooms; the others see it go. No DB work."""
    for room in list(socket.rooms):
        group_id = events.group_id_from_room(room)
        if group_id is not None:
            await socket.leave_room(room)
            await broadcast_now(room, events.PARTICIPANT_LEFT, events.participant_payload(group_id, user=socket.user))
