"""The channel layer: channels-redis's pub/sub layer, with subscriptions batched.

channels-redis subscribes one channel at a time under its connection's one lock: each
socket's own channel, its user room, its sign-in room and its course rooms, one
`SUBSCRIBE` each, every one waiting for the lock and a write to Redis. In a class-start
storm of 500 the subscriptions of all handshakes queued on that lock: 128 ms p50 of a
handshake's ~330 ms in the server (docs/performance.md S14). Here the subscriptions that
arrive while one `SUBSCRIBE` is being written wait and go together in the next
(collab.realtime.groupcommit), so the lock is taken once per batch instead of once per
channel. Everything else (publishing, receiving, unsubscribing) is the library's.

It replaces the shards of each per-loop layer right after the library makes them, before
any is used (they connect lazily). tests/realtime/test_layer.py guards the library code
this relies on (pinned in requirements.txt).
"""

from __future__ import annotations

from channels_redis.pubsub import RedisPubSubChannelLayer, RedisSingleShardConnection

from collab.realtime.groupcommit import GroupCommit

# A batch is one SUBSCRIBE command; Redis takes thousands of channels in one.
SUBSCRIBE_BATCH_MAX = 1000


class BatchedSubscriptionShard(RedisSingleShardConnection):
    def __init__(self, host, channel_layer) -> None:
        super().__init__(host, channel_layer)
        self._subscribing = GroupCommit(self._subscribe_batch, max_batch=SUBSCRIBE_BATCH_MAX)
        # Channels with an UNSUBSCRIBE asked for and not yet done: {channel: how many}.
        self._unsubscribing: dict[str, int] = {}

    async def subscribe(self, channel: str) -> None:
        """Returns once `channel`'s SUBSCRIBE is written, as the library's does. A channel
        the process already listens to (a course room of a class, by its second member)
        returns at once, unless an unsubscribe of it is in flight: that one may be waiting
        for the lock (free between its holders), and would drop the subscription this
        relies on, so the subscribe queues behind it."""
        if channel in self._subscribed_to and channel not in self._unsubscribing:
            return
        await self._subscribing.submit(None, channel)

    async def unsubscribe(self, channel: str) -> None:
        """The library's, known to `subscribe` from the call on (before it waits for the lock)."""
        self._unsubscribing[channel] = self._unsubscribing.get(channel, 0) + 1
        try:
            await super().unsubscribe(channel)
        finally:
            if self._unsubscribing[channel] == 1:
                del self._unsubscribing[channel]
            else:
                self._unsubscribing[channel] -= 1

    async def _subscribe_batch(self, _key, channels: list[str]) -> list[None]:
        # Under the library's lock, as its subscribe: an unsubscribe of the same channel
        # in flight finishes first, and the subscribed set stays true.
        async with self._lock:
            new = [channel for channel in dict.fromkeys(channels) if channel not in self._subscribed_to]
            if new:
                self._ensure_redis()
                self._ensure_receiver()
                await self._pubsub.subscribe(*new)
                self._subscribed_to.update(new)
        return [None] * len(channels)


class PubSubChannelLayer(RedisPubSubChannelLayer):
    """`channels_redis.pubsub.RedisPubSubChannelLayer` with batched subscriptions."""

    def _get_layer(self):
        layer = super()._get_layer()
        if not getattr(layer, "batched_subscriptions", False):
            layer._shards = [BatchedSubscriptionShard(shard.host, layer) for shard in layer._shards]
            layer.batched_subscriptions = True
        return layer
