"""The one socket endpoint, /ws/. It authenticates, dispatches frames to the handlers
the apps registered (collab.realtime.dispatch) and replies; it decides nothing else.
Its rooms and what it sends (replies, room frames in seq order) are in
collab/realtime/socket_rooms.py."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from collab.core.asgi_fast.consumer_loop import LeanConsumerLoop
from collab.core.asgi_fast.frame_write import frame_writer
from collab.core.asgi_fast.socket_db import socket_db
from collab.core.errors import DomainError, ServiceUnavailable, is_service_outage
from collab.core.jsonframes import dumps, loads
from collab.core.tokens import Credentials, leeway_seconds
from collab.realtime import dispatch, lifetime, outbox, supervisor
from collab.realtime.auth import authenticate_socket, origin_allowed
from collab.realtime.caps import SOCKET_LEASE_SECONDS, socket_lease_drop, socket_lease_take, socket_leases_renew
from collab.realtime.flood import FloodGuard
from collab.realtime.groupcommit import GroupCommit
from collab.realtime.rooms import signin_room, user_room
from collab.realtime.sequencer import RoomSequencer
from collab.realtime.socket_rooms import SocketRooms

log = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_ORIGIN_REFUSED = 4403
CLOSE_ABUSIVE = 4429
CLOSE_LOGGED_OUT = 4000
CLOSE_TOO_MANY_SOCKETS = 4008
CLOSE_TRY_AGAIN = 1013


def _connect_rooms(signed_in: list[tuple[Any, Credentials]]) -> list[dict[str, int]]:
    """For each (user, credentials) of a batch of handshakes, the rooms its socket enters
    on connect (its user room, its sign-in room and what the `socket_rooms` hooks name,
    e.g. its course rooms) with each room's current seq: one read per hook and one of
    the seqs for the whole batch."""
    hooked = [hook([user for user, _ in signed_in]) for hook in dispatch.rooms_hooks]
    per_socket = []
    for user, credentials in signed_in:
        rooms = [user_room(user.id)]
        if credentials.session_id:
            rooms.append(signin_room(credentials.session_id))
        for found in hooked:
            rooms.extend(found.get(user.id, ()))
        per_socket.append(list(dict.fromkeys(rooms)))
    return _seqs_of(per_socket)


def _seqs_of(room_lists: list[list[str]]) -> list[dict[str, int]]:
    """For each list of rooms, {room: its current seq}, in one query for all of them."""
    seqs = outbox.room_seqs(list(dict.fromkeys(room for rooms in room_lists for room in rooms)))
    return [{room: seqs[room] for room in rooms} for rooms in room_lists]


async def _seqs_batch(_key, room_lists: list[list[str]]) -> list[dict[str, int]]:
    return await socket_db(_seqs_of)(room_lists)


# The rooms' seqs read again once a handshake's subscriptions are in place, for the
# sockets that connected meanwhile together (one trip to a database thread per batch).
_seqs_after_subscribing = GroupCommit(_seqs_batch, max_batch=500)


class CollabConsumer(SocketRooms, LeanConsumerLoop, AsyncWebsocketConsumer):
    user: Any = None
    credentials: Credentials | None = None

    async def connect(self) -> None:
        self.rooms: set[str] = set()
        self.listening: set[str] = set()  # subscribed, not (yet) entered: `listen`
        self.state: dict[str, Any] = {}
        self.sequencer = RoomSequencer()
        # Work a handler leaves for after its ack or error (resume releases held frames).
        self.after_reply: list = []
        if not origin_allowed(self.scope):
            await self.close(code=CLOSE_ORIGIN_REFUSED)
            return
        # The rooms are read with the user row, in one trip to a database thread.
        signed_in = await authenticate_socket(self.scope, reads=_connect_rooms)
        if signed_in is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        user, credentials, rooms = signed_in
        self.user, self.credentials = user, credentials
        leased = False
        try:
            if not await socket_lease_take(user.id, self.channel_name):
                self.user = None
                await self.close(code=CLOSE_TOO_MANY_SOCKETS)
                return
            # From here on the socket holds a lease: a handshake that ends before accept
            # gives it back (disconnect() will not: self.user is cleared below), or the
            # user's cap stays one lower until it lapses (SOCKET_LEASE_SECONDS).
            leased = True
            self.flood = FloodGuard(
                rate=settings.SOCKET_RATE_PER_SECOND,
                burst=settings.SOCKET_RATE_BURST,
                limit=settings.SOCKET_ABUSE_LIMIT,
                window=settings.SOCKET_ABUSE_WINDOW,
            )
            await self.join_rooms(rooms)
        except BaseException as exc:
            self.user = None
            if leased:
                await socket_lease_drop(user.id, self.channel_name)
            if not isinstance(exc, Exception) or not is_service_outage(exc):
                raise
            # Redis is down: the handshake is refused (closed before accept), the client retries.
            log.warning("socket refused while the channel layer is unavailable: %s", exc)
            await self.close(code=CLOSE_TRY_AGAIN)
            return
        await self.accept()
        # Behind the handshake, not in its way: the socket's first frame does not wait.
        self._start_helper(self._catch_up_connect_rooms(rooms))
        supervisor.socket_opened(self)
        self._reauth_sent = False
        self._tick_soon()
        for hook in dispatch.connect_hooks:
            await self._run_hook(hook)

    async def __call__(self, scope, receive, send) -> None:
        # The loop is collab/core/asgi_fast/consumer_loop.py's; the socket's timer
        # (the reauth notice and the credentials' expiry) is cancelled with it.
        self._tick_handle: asyncio.TimerHandle | None = None
        self.frames = frame_writer(send)
        self.handshake_answered = False
        try:
            await super().__call__(scope, receive, self._send_unless_closed(send))
        except Exception as exc:
            # The loop's own channel is made before `connect` runs (a Redis subscription
            # on the pub/sub layer): with Redis down that failed out of the ASGI app and
            # the upgrade was answered 500. Refused as `connect` refuses in an outage.
            if self.handshake_answered or not is_service_outage(exc):
                raise
            log.warning("socket refused while the channel layer is unavailable: %s", exc)
            await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN})
        finally:
            if self._tick_handle is not None:
                self._tick_handle.cancel()

    def _send_unless_closed(self, send):
        """The server's `send`, made quiet about a frame racing a close: once this side
        sent `websocket.close` or the client went away, frames still in flight (a
        broadcast, an ack, a typing expiry) are dropped instead of raising into the
        server's log ("Unexpected ASGI message 'websocket.send', after sending
        'websocket.close'"). An ordinary disconnect is not an error."""
        self.socket_closed = False

        async def guarded(message: dict) -> None:
            if self.socket_closed:
                log.debug("socket %s: %s after close dropped", self.channel_name, message.get("type"))
                return
            if message.get("type") in ("websocket.accept", "websocket.close"):
                self.handshake_answered = True
            if message.get("type") == "websocket.close":
                self.socket_closed = True
            try:
                await send(message)
            except OSError:  # uvicorn's ClientDisconnected: the peer is gone
                self.socket_closed = True
                log.debug("socket %s: peer gone, %s dropped", self.channel_name, message.get("type"))

        return guarded

    async def websocket_disconnect(self, message: dict) -> None:
        self.socket_closed = True
        await super().websocket_disconnect(message)

    async def disconnect(self, code: int) -> None:
        if self.user is None:
            return
        if self._tick_handle is not None:
            self._tick_handle.cancel()
        supervisor.socket_closed(self)
        for hook in dispatch.disconnect_hooks:
            await self._run_hook(hook)
        # The rooms it listens to (a join the disconnect cut short) and those it entered.
        for room, leave in [
            *((room, self.unlisten) for room in self.listening),
            *((room, self.leave_room) for room in self.rooms),
        ]:
            try:
                await leave(room)
            except Exception as exc:
                # Redis is down: the membership lapses with the process's subscription.
                if not is_service_outage(exc):
                    raise
        # Nothing of this socket outlives it (typing timers, entered sessions, leases).
        self.state.clear()
        await socket_lease_drop(self.user.id, self.channel_name)

    # -- credentials and lease over time (collab/realtime/lifetime.py) ----------------

    def _tick_soon(self) -> None:
        """Schedules the next `socket.tick`: the reauth notice or the expiry,
        whichever comes first."""
        expires_at = self.credentials.expires_at + leeway_seconds()
        moments = [expires_at]
        if not self._reauth_sent:
            moments.append(self.credentials.expires_at - settings.SOCKET_REAUTH_NOTICE)
        delay = max(min(moments) - time.time(), 0.0)
        if self._tick_handle is not None:
            self._tick_handle.cancel()
        self._tick_handle = asyncio.get_running_loop().call_later(delay, self.handle_soon, {"type": "socket.tick"})

    async def socket_tick(self, message: dict) -> None:
        now = time.time()
        if self.credentials.expired(now):
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if not self._reauth_sent and now >= self.credentials.expires_at - settings.SOCKET_REAUTH_NOTICE:
            self._reauth_sent = True
            payload = lifetime.reauth_required_payload(self.credentials.expires_at, now)
            await self.send(text_data=dumps({"event": lifetime.REAUTH_REQUIRED, "data": payload}))
        self._tick_soon()

    async def credentials_renewed(self, credentials: Credentials) -> None:
        """A `reauth` succeeded: the socket now lives as long as `credentials`, and
        belongs to their signed-in session."""
        previous = self.credentials
        if previous.session_id != credentials.session_id:
            if previous.session_id:
                await self.leave_room(signin_room(previous.session_id))
            if credentials.session_id:
                await self.join_room(signin_room(credentials.session_id))
        self.credentials = credentials
        self._reauth_sent = False
        self._tick_soon()

    async def _catch_up_connect_rooms(self, read: dict[str, int]) -> None:
        """The handshake read its rooms' seqs (`read`) before it subscribed to them: a frame
        committed in between reached no subscription of this socket, and only a later
        frame of the room would have revealed the gap. The seqs are read again now that
        the subscriptions are in place, and a room that moved is caught up from the
        outbox, in turn with the socket's other messages (the sequencer sends each seq
        once, whichever of this and the live frame comes first)."""
        try:
            now = await _seqs_after_subscribing.submit(None, list(read))
            moved = {room: seq for room, seq in read.items() if now[room] > seq}
            if moved:
                await self._dispatch_in_turn({"type": "socket.caught_up", "rooms": moved})
        except Exception as exc:
            # A later frame of the room still fills the gap from the outbox.
            log.warning("socket %s: its rooms could not be caught up after connect: %r", self.channel_name, exc)

    async def socket_caught_up(self, message: dict) -> None:
        for room, after in message["rooms"].items():
            if room in self.rooms:
                await self.catch_up(room, after)

    async def _run_hook(self, hook: dispatch.Hook) -> None:
        try:
            await hook(self)
        except Exception as exc:
            name = getattr(hook, "__qualname__", hook)
            if is_service_outage(exc):
                # Expected while Redis is down (README, "Faults"): the supervisor catches
                # the socket up when it is back; a traceback per frame would drown the log.
                log.warning("socket hook %s skipped: a service is unavailable: %s", name, exc)
                return
            log.exception("socket hook %s failed", name)

    # -- frames from the client --------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # Every refusal below counts toward the abuse verdict (collab/realtime/flood.py).
        # Under uvicorn a frame over SOCKET_MAX_FRAME_BYTES never gets here: the server
        # refuses it before buffering (--ws-max-size) and closes the socket with 1009.
        max_bytes = settings.SOCKET_MAX_FRAME_BYTES
        if text_data is None:
            refusal = ("binary_not_supported", "Frames are JSON text.")
            self.flood.refuse()
        elif len(text_data) > max_bytes or (len(text_data) * 4 > max_bytes and len(text_data.encode()) > max_bytes):
            refusal = ("frame_too_large", f"Frames are limited to {max_bytes} bytes.")
            self.flood.refuse()
        elif not self.flood.admit():
            refusal = ("rate_limited", "Too many frames; slow down.")
        else:
            refusal = None
        if refusal is not None:
            if self.flood.abusive:
                await self.close(code=CLOSE_ABUSIVE)
            else:
                await self.send_error(*refusal)
            return

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
            await self.send_error("unknown_event", f'Unknown event "{event[:64]}".', ref)
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
            await self._handle(handler, event, data, ref)
        finally:
            while self.after_reply:
                await self.after_reply.pop(0)()

    async def _handle(self, handler: dispatch.Handler, event: str, data: dict, ref: Any) -> None:
        try:
            result = await handler(self, data)
        except DomainError as exc:
            await self.send_error(exc.code, exc.message, ref, exc.fields)
            return
        except Exception as exc:
            if is_service_outage(exc):
                log.warning("socket event %s: a service is unavailable: %s", event, exc)
                unavailable = ServiceUnavailable()
                await self.send_error(unavailable.code, unavailable.message, ref)
                return
            log.exception("socket event %s failed", event)
            await self.send_error("internal_error", "The server could not handle this event.", ref)
            return
        if ref is not None:
            await self.send(text_data=dumps({"event": "ack", "ref": ref, "data": result or {}}))

    # -- messages from the channel layer -----------------------------------------------

    async def room_control(self, message: dict) -> None:
        """broadcast.sockets_control_on_commit: leave, join, its event, close. A joined
        room starts at its seq at the grant's commit (`join_seqs`), frames sent before the
        socket was in it are read from the outbox after the event. Without `join_seqs`
        (an older release's message, relayed after a deploy): the room's seq now."""
        for room in message.get("leave", ()):
            await self.leave_room(room)
        join_seqs = message.get("join_seqs") or {}
        catch_up: list[tuple[str, int]] = []
        for room in message.get("join", ()):
            seq = join_seqs.get(room)
            if seq is not None and not self.sequencer.tracks(room):
                catch_up.append((room, seq))
            await self.join_room(room, seq=seq)
        if message.get("text"):
            if message.get("seq") is None:
                await self.send(text_data=message["text"])
            else:
                room = message["room"]
                await self.deliver(room, self.sequencer.live(room, message["seq"], message["text"]))
        for room, seq in catch_up:
            await self.catch_up(room, seq)
        if message.get("close"):
            await self.close(code=CLOSE_LOGGED_OUT)


# The socket cap's leases, renewed for the whole process at once (collab.realtime.caps).
supervisor.every(lambda: SOCKET_LEASE_SECONDS / 3, socket_leases_renew)
