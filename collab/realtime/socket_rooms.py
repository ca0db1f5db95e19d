"""The socket's rooms and what it sends (a part of CollabConsumer, collab/realtime/consumer.py).

Rooms: `join_room` (frames delivered), `listen` / `unlisten` (subscribed, frames dropped
until a join), `leave_room`. Sending: replies and errors, and the room frames of the
channel layer through the socket's RoomSequencer (each seq of a room once, in order, gaps
filled from the outbox). `room_frame` is what every recipient of every broadcast runs
(docs/performance.md F-rows), so it is kept short.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from typing import Any

from collab.core.asgi_fast.frame_write import FrameWriter, text_frame
from collab.core.asgi_fast.socket_db import socket_db
from collab.core.jsonframes import dumps
from collab.realtime import dispatch, outbox
from collab.realtime.outbox import ReplayFrame
from collab.realtime.sequencer import Outcome

log = logging.getLogger(__name__)

# Reads of a room's history in flight, per event loop: {(room, after, upto): task}. When a
# frame overtakes another on the way (two writers of a room publish in the other order
# than they committed), every member of the room in this process sees the same gap at
# the same moment: they wait for one read instead of making one each (docs/performance.md
# F7: 4,000 reads in a 25,000 deliveries/s run before).
_history_reads: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple, asyncio.Future]] = (
    weakref.WeakKeyDictionary()
)


async def shared_room_history(room: str, after: int, upto: int | None = None) -> tuple[int, list[ReplayFrame]]:
    """`outbox.room_history` on the socket pool, one read for all the callers of this
    process asking the same question at once. A caller cancelled while waiting (its
    socket closed) does not cancel the read of the others.

    Only a bounded read (`upto` given: a gap fill) is shared: every frame up to `upto`
    had committed when the gap was seen, so a read begun before this caller asked still
    holds them all. An unbounded one (a catch-up: "every frame after `after`, now") is
    the caller's own: a read begun before this socket subscribed misses a frame that
    committed in between and was sent live before the socket listened."""
    if upto is None:
        return await socket_db(outbox.room_history)(room=room, after=after)
    reads = _history_reads.setdefault(asyncio.get_running_loop(), {})
    key = (room, after, upto)
    read = reads.get(key)
    if read is None:
        read = asyncio.ensure_future(socket_db(outbox.room_history)(room=room, after=after, upto=upto))
        reads[key] = read
        read.add_done_callback(lambda _: reads.pop(key, None))
    return await asyncio.shield(read)


class SocketRooms:
    """Mixed into CollabConsumer (before LeanConsumerLoop), which sets `rooms` (the rooms
    joined), `listening` (subscribed by `listen`, not entered), `sequencer`,
    `channel_layer`, `socket_closed` and `frames` (the socket's FrameWriter, or None:
    piece `frame_write`)."""

    rooms: set[str]
    listening: set[str]
    frames: FrameWriter | None = None

    def take_now(self, message: dict) -> bool:
        """LeanConsumerLoop.take_now (a group message offered by the layer's receiver),
        with a room frame's common case done here and now: the socket idle (no message in
        hand or waiting, its lock free), the frame of a room it is in, the next seq of
        that room with nothing held back, the connection ready to write: the frame,
        built once for all recipients, is written to it directly. Anything else goes the
        way of `room_frame` (the sequencer's full path, a send through ASGI)."""
        frames = self.frames
        if (
            frames is None
            or self._in_turn
            or message.get("type") != "room.frame"
            or self.one_at_a_time.locked()
            or self.socket_closed
            or not frames.ready()
        ):
            return super().take_now(message)
        room = message.get("room")
        if room is not None and room not in self.rooms:
            return True  # a room it only listens to, or has left: dropped, as room_frame does
        seq = message.get("seq")
        if seq is not None and not self.sequencer.next_in_line(room, seq):
            return super().take_now(message)
        # An excluded socket (the sender) does not get it; its seq counts as delivered.
        if message.get("exclude") != self.channel_name:
            try:
                frames.write(text_frame(message["text"]))
            except Exception as exc:  # as an error sending in a handler: the socket ends
                self._fail(exc)
        return True

    def fell_behind(self) -> None:
        """Too many group messages wait for this socket (its client does not read, its
        write buffer is full): dropped, with the usual disconnect after (rooms left, hooks
        run); the client reconnects and resumes from its last seqs. Without a FrameWriter
        (another server): the socket ends as on an error (LeanConsumerLoop.fell_behind)."""
        if self.socket_closed:
            return
        log.warning("socket %s: its client fell behind (a full send queue); dropping it", self.channel_name)
        self.socket_closed = True  # what is still queued is dropped, not sent
        if self.frames is None:
            super().fell_behind()
        else:
            self.frames.abort()

    async def join_room(self, room: str, *, seq: int | None = None) -> None:
        """Enters `room`. Frames of it up to its current seq (read now unless given, or the
        resume point when a resume is under way) count as delivered. A `seq` given is the
        room's seq at the commit of the change that let the socket in."""
        if room not in self.rooms:
            if room in self.listening:
                self.listening.discard(room)  # subscribed already
            else:
                await self.channel_layer.group_add(room, self.channel_name)
            self.rooms.add(room)
        if not self.sequencer.tracks(room):
            if seq is None:
                # On the socket pool: a storm of joins must not queue behind Channels' one thread.
                seq = (await socket_db(outbox.room_seqs)([room]))[room]
            self.sequencer.track(room, seq)

    async def join_rooms(self, rooms: dict[str, int]) -> None:
        """Enters every room of `rooms` ({room: its seq, as `join_room`'s}) at once: the
        subscriptions go out together (one SUBSCRIBE, collab.realtime.layer), not one
        after the other (a handshake enters three rooms or more)."""
        new = [room for room in rooms if room not in self.rooms]
        subscribe = [room for room in new if room not in self.listening]
        added = await asyncio.gather(
            *(self.channel_layer.group_add(room, self.channel_name) for room in subscribe), return_exceptions=True
        )
        failure = next((result for result in added if isinstance(result, BaseException)), None)
        if failure is not None:
            # None is entered: the layer forgets this channel in all of them (Redis down:
            # the subscriptions lapse with the process's), or it would keep the rooms.
            for room in subscribe:
                with contextlib.suppress(Exception):
                    await self.channel_layer.group_discard(room, self.channel_name)
            raise failure
        self.listening.difference_update(new)
        self.rooms.update(new)
        for room, seq in rooms.items():
            if not self.sequencer.tracks(room):
                self.sequencer.track(room, seq)

    async def listen(self, room: str) -> None:
        """Subscribes to `room` without delivering its frames yet: a handler that must hear
        every change committed after its own permission check subscribes before it, then
        calls `join_room` (allowed: the frames that arrived meanwhile are delivered, in
        order, since this socket handles one message at a time) or `unlisten` (refused:
        they are dropped by `room_frame`, so nothing leaks)."""
        if room not in self.rooms and room not in self.listening:
            await self.channel_layer.group_add(room, self.channel_name)
            self.listening.add(room)

    async def unlisten(self, room: str) -> None:
        if room in self.listening:
            self.listening.discard(room)
            await self.channel_layer.group_discard(room, self.channel_name)

    async def leave_room(self, room: str) -> None:
        self.sequencer.forget(room)
        if room in self.rooms:
            self.rooms.discard(room)
            await self.channel_layer.group_discard(room, self.channel_name)
            for hook in dispatch.room_left_hooks:
                try:
                    await hook(self, room)
                except Exception:
                    log.exception("room-left hook %s failed", getattr(hook, "__qualname__", hook))

    async def send_text(self, text: str) -> None:
        """`self.send(text_data=text)` without its two layers (AsyncWebsocketConsumer.send
        and AsyncConsumer.send only build this message and pass it on): paid per recipient
        of every broadcast."""
        await self.base_send({"type": "websocket.send", "text": text})

    async def send_texts(self, texts: list[str | None]) -> None:
        for text in texts:
            if text is not None:  # None: a frame this socket was excluded from
                await self.send_text(text)

    async def deliver(self, room: str, outcome: Outcome) -> None:
        """Sends what the sequencer released and fills gaps from the outbox until none is
        left (a frame that overtook an earlier one, or frames lost while Redis restarted)."""
        await self.send_texts(outcome.send)
        for _ in range(3):
            if outcome.gap is None:
                return
            after, before = outcome.gap
            _, frames = await shared_room_history(room, after, before - 1)
            outcome = self.sequencer.fill(room, outbox.texts_for(self.channel_name, frames))
            await self.send_texts(outcome.send)
        if outcome.gap is not None:
            log.warning("frames after %s of %s are no longer in the outbox; skipping", outcome.gap[0], room)
            await self.send_texts(self.sequencer.skip_gap(room).send)

    async def catch_up(self, room: str, after: int) -> None:
        """Sends the frames of `room` with seq > `after` committed before this socket was
        in the room (a control's join point); later ones arrive live, behind them."""
        if not self.sequencer.tracks(room):
            return
        current, frames = await shared_room_history(room, after)
        await self.send_texts(self.sequencer.fill(room, outbox.texts_for(self.channel_name, frames)).send)
        if self.sequencer.last.get(room, current) < current:
            # No longer in the outbox (a control relayed after retention): nothing to send.
            log.warning("frames after %s of %s are no longer in the outbox; skipping", after, room)
            self.sequencer.track(room, current)

    async def send_event(self, event: str, data: Any, *, room: str | None = None) -> None:
        frame: dict[str, Any] = {"event": event, "data": data}
        if room:
            frame["room"] = room
        await self.send(text_data=dumps(frame))

    async def send_error(self, code: str, message: str, ref: Any = None, fields: dict | None = None) -> None:
        data: dict[str, Any] = {"code": code, "message": message}
        if fields:
            data["fields"] = fields
        frame: dict[str, Any] = {"event": "error", "data": data}
        if ref is not None:
            frame["ref"] = ref
        await self.send(text_data=dumps(frame))

    async def room_frame(self, message: dict) -> None:
        """A broadcast, already encoded once for every recipient. Only for rooms the
        socket is in: not for one it only listens to (`listen`) or has just left. A
        sequenced frame goes through the sequencer: each seq of a room once, in order.
        Runs once per recipient of every broadcast, so the common case (the next seq of
        the room, nothing held back) takes the sequencer's short way."""
        room = message.get("room")
        if room is not None and room not in self.rooms:
            return
        seq = message.get("seq")
        excluded = message.get("exclude") == self.channel_name
        if seq is None:
            if not excluded:
                await self.send_text(message["text"])
            return
        if self.sequencer.next_in_line(room, seq):
            if not excluded:
                await self.send_text(message["text"])
            return
        # An excluded socket (the sender of a change) does not get the frame, but its seq
        # counts as delivered: no gap for it to fill from the outbox.
        await self.deliver(room, self.sequencer.live(room, seq, None if excluded else message["text"]))
