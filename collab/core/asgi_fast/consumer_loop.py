"""The socket consumer's message loop, leaner than Channels' (piece `consumer_loop`).

Replaces `channels.consumer.AsyncConsumer.__call__` (which waits on the client and the
channel layer through `channels.utils.await_many_dispatch`: `asyncio.wait` plus a new
task per message) and `AsyncConsumer.dispatch` (which, from Channels 4.2, hops to the
sync thread to close old database connections before every message). In a fan-out both
are paid once per recipient per broadcast: docs/performance.md changes 5 and 13 (the
hop was 37 % of the server's CPU in a 500-member fan-out; the loop took a 12,000
frames/s step from p50 42 ms to 14 ms).

With `consumer_loop` off, Channels' own `await_many_dispatch` and `dispatch` run. Either
way the consumer may handle messages of its own (`handle_soon`, for timers) and handles
one message at a time under `self.one_at_a_time`, which code outside the loop (a
catch-up after a Redis outage) takes too.

Piece `group_delivery` (with `consumer_loop`): a group message is handed to the consumer
by the channel layer's receiver itself (collab.realtime.layer), decoded once for all the
process's members, and handled at once in the receiver's pass when the consumer is idle
(`take_now`), instead of a queue put, a decode and a wake-up of the reader task per
member. A consumer that is busy, or has messages queued, gets it through its queue as
before, so each consumer still handles one message at a time, in the order sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import types
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.layers import get_channel_layer
from channels.utils import await_many_dispatch

from collab.core.asgi_fast import enabled

Source = Callable[[], Awaitable[dict]]


class FellBehind(RuntimeError):
    """Too many group messages wait for a consumer: its client does not read them."""


@functools.lru_cache(maxsize=256)
def _handler_name_of(message_type: str) -> str:
    return get_handler_name({"type": message_type})


def _handler_name(message: dict) -> str:
    """Channels' `get_handler_name`, remembered per message type (it runs once per
    recipient of every broadcast)."""
    message_type = message.get("type")
    if not isinstance(message_type, str):
        return get_handler_name(message)  # its error for a message without a type
    return _handler_name_of(message_type)


class LeanConsumerLoop:
    """Mixed in before AsyncConsumer (or a subclass) to replace its loop and dispatch."""

    one_at_a_time: asyncio.Lock

    async def __call__(self, scope, receive, send) -> None:
        """AsyncConsumer.__call__'s set-up (scope, channel layer, own channel, base_send),
        then the loop: the client's frames are read in this task and the channel layer's
        by one long-lived reader task (Channels: `asyncio.wait` and a new task per
        message); messages of the consumer's own (`handle_soon`) get a short task each. A
        lock keeps Channels' guarantee that a consumer handles one message at a time, in
        the order each source delivered them. An error in the reader or in a message of
        its own ends the socket with that error, as an error here does. An idle socket
        holds one task besides this one (docs/performance.md change 15: 6 KiB less per
        socket than three readers, a queue and `asyncio.wait`)."""
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.channel_name = await self.channel_layer.new_channel()
        self.channel_receive = functools.partial(self.channel_layer.receive, self.channel_name)
        self.base_send = send
        self.one_at_a_time = asyncio.Lock()
        self._main = asyncio.current_task()
        self._failure: BaseException | None = None
        self._helpers: set[asyncio.Task] = set()
        self._layer_reader: asyncio.Task | None = None
        # Messages inside _dispatch_in_turn (waiting for the lock or being handled).
        self._in_turn = 0
        # What a message handled in the layer's receiver (`take_now`) runs in: this
        # socket's own context, as in its tasks, not the receiver task's.
        self._context = contextvars.copy_context()
        self._lean = enabled("consumer_loop")
        direct = self._lean and enabled("group_delivery")
        takes_group_messages = getattr(self.channel_layer, "deliver_group_messages", None) if direct else None
        try:
            if self._lean:
                self._layer_reader = self._start_helper(self._pump(self.channel_receive))
                if takes_group_messages is not None:
                    takes_group_messages(self.channel_name, self)
                await self._pump(receive)
            else:
                await await_many_dispatch([receive, self.channel_receive], self._dispatch_in_turn)
        except StopConsumer:
            pass
        except asyncio.CancelledError:
            if self._failure is None:
                raise  # cancelled from outside: the server is going away
            if not isinstance(self._failure, StopConsumer):
                raise self._failure from None
        finally:
            if takes_group_messages is not None:
                self.channel_layer.stop_delivering_group_messages(self.channel_name)
            helpers = list(self._helpers)
            for task in helpers:
                task.remove_done_callback(self._helper_done)
                task.cancel()
            for task in helpers:
                with contextlib.suppress(asyncio.CancelledError, StopConsumer, Exception):
                    await task

    def handle_soon(self, message: dict) -> None:
        """Handles a message of the consumer's own (a timer's) in turn, like any other,
        in a short task of its own. Call from the event loop (e.g. `loop.call_later`)."""
        self._start_helper(self._dispatch_in_turn(message))

    def take_now(self, message: dict) -> bool:
        """A group message from the channel layer's receiver (piece `group_delivery`),
        called on the event loop, with nothing of this channel queued before it. Handled
        here and now when this consumer has no message in hand or waiting for the lock:
        then it would be the next one anyway. Its handling runs until it first waits for
        something (the common case, a frame written to the socket, never does) and goes
        on in a task of its own from there, holding the lock, so later messages wait
        behind it as they would behind any. False: busy, the caller queues the message.
        `message` is shared by every member of the group: handlers must not change it."""
        if self._in_turn:
            return False
        self._run_now(self._dispatch_in_turn(message))
        return True

    def fell_behind(self) -> None:
        """The channel layer has SOCKET_SEND_QUEUE_MAX messages waiting for this consumer
        (collab.realtime.layer): it ends with FellBehind, as with an error in a handler.
        A consumer that can drop its connection more gently overrides this."""
        self._fail(FellBehind(f"{self.channel_name}: too many group messages waiting"))

    def _run_now(self, work: Coroutine) -> None:
        try:
            waiting_on = self._context.run(work.send, None)
        except StopIteration:
            return
        except BaseException as exc:  # as a helper task's error would: the socket ends
            self._fail(exc)
            return
        self._start_helper(_carry_on(work, waiting_on), context=self._context)

    async def _pump(self, source: Source) -> None:
        while True:
            await self._dispatch_in_turn(await source())

    async def _dispatch_in_turn(self, message: dict) -> None:
        self._in_turn += 1
        try:
            async with self.one_at_a_time:
                await self.dispatch(message)
        finally:
            self._in_turn -= 1

    def _start_helper(self, work, context: contextvars.Context | None = None) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(work, context=context)
        self._helpers.add(task)
        task.add_done_callback(self._helper_done)
        return task

    def _helper_done(self, task: asyncio.Task) -> None:
        """A helper ended: unless it was cancelled or a message of its own was handled
        without error, the socket ends with its error (or StopConsumer)."""
        self._helpers.discard(task)
        if task.cancelled() or (task is not self._layer_reader and task.exception() is None):
            return
        self._fail(task.exception() or RuntimeError("the channel layer reader stopped"))

    def _fail(self, exc: BaseException) -> None:
        if self._failure is None:
            self._failure = exc
            self._main.cancel()

    async def dispatch(self, message: dict) -> None:
        """Channels (>= 4.2) runs close_old_connections in the sync thread before every
        message it dispatches: one thread hop per socket per frame, queued behind all the
        database work of the process. Nothing in collab's consumer touches the database
        outside database_sync_to_async / socket_db, which close old connections themselves
        on entry and exit, so the hop is skipped."""
        if not self._lean:
            return await super().dispatch(message)
        handler = getattr(self, _handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message.get('type')!r}")
        await handler(message)


@types.coroutine
def _carry_on(work: Coroutine, waiting_on: Any) -> Generator[Any, Any, Any]:
    """The rest of `work`, whose first step ran outside any task and stopped at
    `waiting_on` (what it yielded: a future, or None for a bare yield), as a task's
    coroutine: the task waits for `waiting_on`, then steps `work` on, passing in what the
    task passes (a value, or an exception such as a cancellation)."""
    while True:
        try:
            value = yield waiting_on
        except BaseException as exc:
            step = functools.partial(work.throw, exc)
        else:
            step = functools.partial(work.send, value)
        try:
            waiting_on = step()
        except StopIteration as stop:
            return stop.value
