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
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.layers import get_channel_layer
from channels.utils import await_many_dispatch

from collab.core.asgi_fast import enabled

Source = Callable[[], Awaitable[dict]]


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
        try:
            if enabled("consumer_loop"):
                self._layer_reader = self._start_helper(self._pump(self.channel_receive))
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

    async def _pump(self, source: Source) -> None:
        while True:
            await self._dispatch_in_turn(await source())

    async def _dispatch_in_turn(self, message: dict) -> None:
        async with self.one_at_a_time:
            await self.dispatch(message)

    def _start_helper(self, work) -> asyncio.Task:
        task = asyncio.ensure_future(work)
        self._helpers.add(task)
        task.add_done_callback(self._helper_done)
        return task

    def _helper_done(self, task: asyncio.Task) -> None:
        """A helper ended: unless it was cancelled or a message of its own was handled
        without error, the socket ends with its error (or StopConsumer)."""
        self._helpers.discard(task)
        if task.cancelled() or (task is not self._layer_reader and task.exception() is None):
            return
        if self._failure is None:
            self._failure = task.exception() or RuntimeError("the channel layer reader stopped")
            self._main.cancel()

    async def dispatch(self, message: dict) -> None:
        """Channels (>= 4.2) runs close_old_connections in the sync thread before every
        message it dispatches: one thread hop per socket per frame, queued behind all the
        database work of the process. Nothing in collab's consumer touches the database
        outside database_sync_to_async / socket_db, which close old connections themselves
        on entry and exit, so the hop is skipped."""
        if not enabled("consumer_loop"):
            return await super().dispatch(message)
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message.get('type')!r}")
        await handler(message)
