"""The one socket endpoint, /ws/. It authenticates, dispatches frames to the handlers
the apps registered (collab.realtime.dispatch) and replies; it decides nothing else."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from typing import Any

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings

from collab.core.errors import DomainError
from collab.core.jsonframes import dumps, loads
from collab.realtime import dispatch
from collab.realtime.auth import authenticate_socket, origin_allowed
from collab.realtime.db import socket_db
from collab.realtime.rooms import user_room

log = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_ORIGIN_REFUSED = 4403
CLOSE_ABUSIVE = 4429
CLOSE_LOGGED_OUT = 4000


class TokenBucket:
    """Allows `rate` frames a second on average and bursts up to `burst`."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst = rate, float(burst)
        self.tokens, self.stamp = float(burst), time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class CollabConsumer(AsyncWebsocketConsumer):
    user: Any = None

    async def connect(self) -> None:
        self.rooms: set[str] = set()
        self.state: dict[str, Any] = {}
        if not origin_allowed(self.scope):
            await self.close(code=CLOSE_ORIGIN_REFUSED)
            return
        user = await authenticate_socket(self.scope)
        if user is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user = user
        self.bucket = TokenBucket(settings.SOCKET_RATE_PER_SECOND, settings.SOCKET_RATE_BURST)
        self.refused_in_a_row = 0
        await self.join_room(user_room(user.id))
        for hook in dispatch.rooms_hooks:
            # Reads only: on the socket pool, not Channels' one database thread, where a
            # class's handshakes queued behind each other and every join (bench profile).
            for room in await socket_db(hook)(user):
                await self.join_room(room)
        await self.accept()
        for hook in dispatch.connect_hooks:
            await self._run_hook(hook)

    async def __call__(self, scope, receive, send) -> None:
        """Channels' AsyncConsumer.__call__ with a leaner loop. Channels waits on the client
        and on the channel layer with `asyncio.wait` and creates a new task for every
        message (channels.utils.await_many_dispatch): bookkeeping paid once per recipient
        per broadcast. Here each source has one long-lived reader, and a lock keeps
        Channels' guarantee that a consumer handles one message at a time, in the order
        each source delivered them."""
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.channel_name = await self.channel_layer.new_channel()
        self.channel_receive = functools.partial(self.channel_layer.receive, self.channel_name)
        self.base_send = send
        one_at_a_time = asyncio.Lock()

        async def pump(source) -> None:
            while True:
                message = await source()
                async with one_at_a_time:
                    await self.dispatch(message)

        readers = [asyncio.ensure_future(pump(receive)), asyncio.ensure_future(pump(self.channel_receive))]
        try:
            done, _ = await asyncio.wait(readers, return_when=asyncio.FIRST_COMPLETED)
            for reader in done:
                error = reader.exception()
                if error is not None and not isinstance(error, StopConsumer):
                    raise error
        finally:
            for reader in readers:
                reader.cancel()
            for reader in readers:
                with contextlib.suppress(asyncio.CancelledError, StopConsumer):
                    await reader

    async def dispatch(self, message: dict) -> None:
        """Channels (>= 4.2) runs close_old_connections in the sync thread before every
        message it dispatches: one thread hop per socket per frame, queued behind all the
        database work of the process. In a fan-out that is one hop per recipient per
        broadcast (bench/ profile: 37% of the server's CPU, and the latency of the last
        member). Nothing here touches the database outside database_sync_to_async / socket_db, which
        closes old connections itself on entry and exit, so the hop is skipped."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message.get('type')!r}")
        await handler(message)

    async def disconnect(self, code: int) -> None:
        if self.user is None:
            return
        for hook in dispatch.disconnect_hooks:
            await self._run_hook(hook)
        for room in list(self.rooms):
            await self.leave_room(room)
        # Nothing of this socket outlives it (typing timers, entered sessions, leases).
        self.state.clear()

    async def _run_hook(self, hook: dispatch.Hook) -> None:
        try:
            await hook(self)
        except Exception:
            log.exception("socket hook %s failed", getattr(hook, "__qualname__", hook))

    # -- rooms and sending, used by handlers -------------------------------------------

    async def join_room(self, room: str) -> None:
        if room not in self.rooms:
            await self.channel_layer.group_add(room, self.channel_name)
            self.rooms.add(room)

    async def listen(self, room: str) -> None:
        """Subscribes to `room` without delivering its frames yet: a handler that must hear
        every change committed after its own permission check subscribes before it, then
        calls `join_room` (allowed: the frames that arrived meanwhile are delivered, in
        order, since this socket handles one message at a time) or `unlisten` (refused:
        they are dropped by `room_frame`, so nothing leaks)."""
        if room not in self.rooms:
            await self.channel_layer.group_add(room, self.channel_name)

    async def unlisten(self, room: str) -> None:
        if room not in self.rooms:
            await self.channel_layer.group_discard(room, self.channel_name)

    async def leave_room(self, room: str) -> None:
        if room in self.rooms:
            self.rooms.discard(room)
            await self.channel_layer.group_discard(room, self.channel_name)
            for hook in dispatch.room_left_hooks:
                try:
                    await hook(self, room)
                except Exception:
                    log.exception("room-left hook %s failed", getattr(hook, "__qualname__", hook))

    async def send_error(self, code: str, message: str, ref: Any = None, fields: dict | None = None) -> None:
        data: dict[str, Any] = {"code": code, "message": message}
        if fields:
            data["fields"] = fields
        frame: dict[str, Any] = {"event": "error", "data": data}
        if ref is not None:
            frame["ref"] = ref
        await self.send(text_data=dumps(frame))

    # -- frames from the client --------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            await self.send_error("binary_not_supported", "Frames are JSON text.")
            return
        max_bytes = settings.SOCKET_MAX_FRAME_BYTES
        if len(text_data) > max_bytes or (len(text_data) * 4 > max_bytes and len(text_data.encode()) > max_bytes):
            await self.send_error("frame_too_large", f"Frames are limited to {max_bytes} bytes.")
            return
        if not self.bucket.take():
            self.refused_in_a_row += 1
            if self.refused_in_a_row >= settings.SOCKET_ABUSE_LIMIT:
                await self.close(code=CLOSE_ABUSIVE)
                return
            await self.send_error("rate_limited", "Too many frames; slow down.")
            return
        self.refused_in_a_row = 0

        try:
            frame = loads(text_data)
        except ValueError:
            await self.send_error("invalid_json", "The frame is not valid JSON.")
            return
        if not isinstance(frame, dict):
            await self.send_error("invalid_frame", 'A frame is an object: {"event", "data", "ref"?}.')
            return
        ref = frame.get("ref")
        if ref is not None and not (isinstance(ref, (str, int)) and len(str(ref)) <= 64):
            await self.send_error("invalid_frame", "ref must be a string or number of at most 64 characters.")
            return
        event = frame.get("event")
        if not isinstance(event, str) or not event:
            await self.send_error("invalid_frame", "The frame has no event name.", ref)
            return
        handler = dispatch.handler_for(event)
        if handler is None:
            await self.send_error("unknown_event", f"Unknown event {event[:64]!r}.", ref)
            return
        data = frame.get("data", {})
        if data is None:
            data = {}
        if not isinstance(data, dict):
            await self.send_error("invalid_frame", "data must be an object.", ref)
            return

        for hook in dispatch.traffic_hooks:
            await self._run_hook(hook)
        try:
            result = await handler(self, data)
        except DomainError as exc:
            await self.send_error(exc.code, exc.message, ref, exc.fields)
            return
        except Exception:
            log.exception("socket event %s failed", event)
            await self.send_error("internal_error", "The server could not handle this event.", ref)
            return
        if ref is not None:
            await self.send(text_data=dumps({"event": "ack", "ref": ref, "data": result or {}}))

    # -- messages from the channel layer -----------------------------------------------

    async def room_frame(self, message: dict) -> None:
        """A broadcast, already encoded once for every recipient. Only for rooms the
        socket is in: not for one it only listens to (`listen`) or has just left."""
        if message.get("exclude") == self.channel_name:
            return
        room = message.get("room")
        if room is not None and room not in self.rooms:
            return
        await self.send(text_data=message["text"])

    async def room_control(self, message: dict) -> None:
        for room in message.get("leave", ()):
            await self.leave_room(room)
        for room in message.get("join", ()):
            await self.join_room(room)
        if message.get("text"):
            await self.send(text_data=message["text"])
        if message.get("close"):
            await self.close(code=CLOSE_LOGGED_OUT)
