"""The socket consumer's message loop, leaner than Channels' (piece `consumer_loop`).

Replaces `channels.consumer.AsyncConsumer.__call__` (which waits on the client and the
channel layer through `channels.utils.await_many_dispatch`: `asyncio.wait` plus a new
task per message) and `AsyncConsumer.dispatch` (which, from Channels 4.2, hops to the
sync thread to close old database connections before every message). In a fan-out both
are paid once per recipient per broadcast: docs/performance.md changes 5 and 13 (the
hop was 37 % of the server's CPU in a 500-member fan-out; the loop took a 12,000
frames/s step from p50 42 ms to 14 ms).

With `consumer_loop` off, Channels' own `await_many_dispatch` and `dispatch` run. Either
way the consumer may add message sources of its own (timers) and handles one message
at a time under `self.one_at_a_time`, which code outside the loop (a catch-up after a
Redis outage) takes too.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Sequence

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.layers import get_channel_layer
from channels.utils import await_many_dispatch

from collab.core.asgi_fast import enabled

Source = Callable[[], Awaitable[dict]]


class LeanConsumerLoop:
    """Mixed in before AsyncConsumer (or a subclass) to replace its loop and dispatch."""

    one_at_a_time: asyncio.Lock

    async def __call__(self, scope, receive, send, extra_sources: Sequence[Source] = ()) -> None:
        """AsyncConsumer.__call__'s set-up (scope, channel layer, own channel, base_send),
        then every source (the client, the channel layer, `extra_sources`) read by one
        long-lived task each; a lock keeps Channels' guarantee that a consumer handles one
        message at a time, in the order each source delivered them."""
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.channel_name = await self.channel_layer.new_channel()
        self.channel_receive = functools.partial(self.channel_layer.receive, self.channel_name)
        self.base_send = send
        self.one_at_a_time = one_at_a_time = asyncio.Lock()
        sources = [receive, self.channel_receive, *extra_sources]
        if not enabled("consumer_loop"):
            await self._stock_loop(sources)
            return

        async def pump(source: Source) -> None:
            while True:
                message = await source()
                async with one_at_a_time:
                    await self.dispatch(message)

        readers = [asyncio.ensure_future(pump(source)) for source in sources]
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

    async def _stock_loop(self, sources: list[Source]) -> None:
        async def dispatch_in_turn(message: dict) -> None:
            async with self.one_at_a_time:
                await self.dispatch(message)

        with contextlib.suppress(StopConsumer):
            await await_many_dispatch(sources, dispatch_in_turn)

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
