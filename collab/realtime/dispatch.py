"""The socket event registry.

Apps own their events: `@socket_event("join-study-group")` in `studygroups/consumers.py`
registers a handler `async def handler(socket, data) -> dict | None`. The returned dict
is the `ack` payload. Raise a `collab.core.errors.DomainError` to answer with an `error`
frame (its code and message); the socket stays open either way.

Lifecycle hooks let an app react to every socket: `on_socket_connect`,
`on_socket_disconnect`, `on_socket_traffic` (every accepted frame, e.g. to renew a
presence lease) and `on_room_left` (the socket left a room, whatever made it: its own
leave event, a control message after an unenrolment or the end of a session, or the
close), so per-socket state tied to a room dies with the membership. Hooks must be
cheap; they run on the event loop.

Rooms an app owns are re-entered by `resume` (collab.realtime.resume) through the entry
the app registers for the room's prefix: `@room_entry("session-")` on
`async def enter(socket, ident: str) -> None`, which must apply the same permission as the
app's join event (usually it *is* the join event) and raise a DomainError when refused.
`on_room_resumed` hooks run after a room was resumed (presence sends the course's state).
`@room_floor("course-")` on `def floor(user_id, ident) -> int | None` (sync, run in a
database thread) says from which seq a user was admitted to a room (the courses core:
their enrolment): `resume` never replays a frame at or below it.

`socket_rooms` hooks name the rooms a socket joins before its handshake is accepted
(the courses core: the course room of every course the user belongs to). They are
plain functions `hook(user) -> Iterable[str]`, run in Channels' database thread, so the
real-time layer asks for rooms without importing the apps that know them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

from rest_framework import serializers

from collab.core.errors import InvalidInput


class Socket(Protocol):
    """What a handler may use of the consumer."""

    user: Any
    channel_name: str
    rooms: set[str]
    state: dict[str, Any]

    async def join_room(self, room: str) -> None: ...

    async def leave_room(self, room: str) -> None: ...

    async def listen(self, room: str) -> None: ...

    async def unlisten(self, room: str) -> None: ...

    async def credentials_renewed(self, credentials: Any) -> None: ...


Handler = Callable[[Socket, dict], Awaitable[dict | None]]
Hook = Callable[[Socket], Awaitable[None]]
RoomEntry = Callable[[Socket, str], Awaitable[None]]
RoomHook = Callable[[Socket, str], Awaitable[None]]
RoomsHook = Callable[[list], dict[Any, Iterable[str]]]
RoomFloor = Callable[[Any, str], "int | None"]

_handlers: dict[str, Handler] = {}
connect_hooks: list[Hook] = []
disconnect_hooks: list[Hook] = []
traffic_hooks: list[Hook] = []
_room_entries: dict[str, RoomEntry] = {}
_room_floors: dict[str, RoomFloor] = {}
room_resumed_hooks: list[RoomHook] = []
room_left_hooks: list[RoomHook] = []
rooms_hooks: list[RoomsHook] = []


def socket_event(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        existing = _handlers.get(name)
        if existing is not None and existing.__qualname__ != handler.__qualname__:
            raise RuntimeError(f"socket event {name!r} is registered twice")
        _handlers[name] = handler
        return handler

    return register


def handler_for(name: str) -> Handler | None:
    return _handlers.get(name)


def registered_events() -> list[str]:
    return sorted(_handlers)


def on_socket_connect(hook: Hook) -> Hook:
    connect_hooks.append(hook)
    return hook


def on_socket_disconnect(hook: Hook) -> Hook:
    disconnect_hooks.append(hook)
    return hook


def on_socket_traffic(hook: Hook) -> Hook:
    traffic_hooks.append(hook)
    return hook


def room_entry(prefix: str) -> Callable[[RoomEntry], RoomEntry]:
    """Registers how `resume` re-enters rooms named `<prefix><ident>` (e.g. "session-")."""

    def register(entry: RoomEntry) -> RoomEntry:
        _room_entries[prefix] = entry
        return entry

    return register


def room_entry_for(room: str) -> tuple[RoomEntry, str] | None:
    """The entry registered for the room's prefix and the rest of its name, or None."""
    for prefix, entry in _room_entries.items():
        if room.startswith(prefix) and len(room) > len(prefix):
            return entry, room[len(prefix) :]
    return None


def room_floor(prefix: str) -> Callable[[RoomFloor], RoomFloor]:
    """Registers the admission point of rooms named `<prefix><ident>` (module docstring)."""

    def register(floor: RoomFloor) -> RoomFloor:
        _room_floors[prefix] = floor
        return floor

    return register


def room_floor_for(room: str) -> tuple[RoomFloor, str] | None:
    """The floor registered for the room's prefix and the rest of its name, or None."""
    for prefix, floor in _room_floors.items():
        if room.startswith(prefix) and len(room) > len(prefix):
            return floor, room[len(prefix) :]
    return None


def on_room_resumed(hook: RoomHook) -> RoomHook:
    if hook not in room_resumed_hooks:
        room_resumed_hooks.append(hook)
    return hook


def on_room_left(hook: RoomHook) -> RoomHook:
    """`hook(socket, room)` after the socket left `room`."""
    room_left_hooks.append(hook)
    return hook


def socket_rooms(hook: RoomsHook) -> RoomsHook:
    """Registers `hook(users)`, the rooms (besides `user-<id>`) a socket of each user
    joins on connect: {user id: rooms}, a user with none may be left out. Many users at
    once: the handshakes of a class-start storm are read in batches (collab.realtime.auth).
    A failing hook refuses the handshakes: a socket is never accepted without the rooms
    it is owed."""
    if hook not in rooms_hooks:
        rooms_hooks.append(hook)
    return hook


def validate(serializer_class: type[serializers.Serializer], data: dict) -> dict:
    """Validates a frame's `data` with a DRF serializer (camelCase keys, as on the wire).

    Refused: InvalidInput (`invalid`) with `fields` = the serializer's errors, camelCased,
    whatever their nesting, and the message REST gives for the same errors
    (`InvalidInput.for_fields`: `<field path>: <first message>`)."""
    from djangorestframework_camel_case.util import camelize, underscoreize

    body = serializer_class(data=underscoreize(data))
    if not body.is_valid():
        raise InvalidInput.for_fields(camelize(body.errors))
    return body.validated_data
