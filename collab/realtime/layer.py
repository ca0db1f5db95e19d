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

from typing import Protocol

from channels_redis.pubsub import RedisPubSubChannelLayer, RedisSingleShardConnection
from django.conf import settings

from collab.realtime.groupcommit import GroupCommit

# A batch is one SUBSCRIBE command; Redis takes thousands of channels in one.
SUBSCRIBE_BATCH_MAX = 1000


class GroupMessageTaker(Protocol):
    def take_now(self, message: dict) -> bool:
        """Handles the decoded group `message` now, or says False (then it is queued)."""

    def fell_behind(self) -> None:
        """SOCKET_SEND_QUEUE_MAX messages wait for it already: this one and later ones are
        not queued, and the socket must end (it may be told more than once)."""


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

    def _receive_message(self, message: dict | None) -> None:
        """The library's, except for a group's members that take messages directly
        (module docstring). Members are read once, before any is handed the message, as
        the library enqueues to all before any handles it: a member that leaves the
        group while this pass runs still gets it. A member with SOCKET_SEND_QUEUE_MAX
        messages waiting (its client does not read) is told it fell behind instead of
        queuing without bound."""
        if message is None:
            return
        name = message["channel"]
        data = message["data"]
        if isinstance(name, bytes):
            name = name.decode()
        layer = self.channel_layer
        queues = layer.channels
        if name in queues:
            queues[name].put_nowait(data)
            return
        members = layer.groups.get(name)
        if not members:
            return
        takers: dict[str, GroupMessageTaker] = getattr(layer, "group_message_takers", {})
        decoded = None
        for channel in tuple(members):
            queue = queues.get(channel)
            if queue is None:
                continue
            taker = takers.get(channel)
            if taker is not None:
                if queue.empty():
                    if decoded is None:
                        decoded = layer.channel_layer.deserialize(data)
                    if taker.take_now(decoded):
                        continue
                elif queue.qsize() >= layer.member_queue_max:
                    taker.fell_behind()
                    continue
            queue.put_nowait(data)


class PubSubChannelLayer(RedisPubSubChannelLayer):
    """`channels_redis.pubsub.RedisPubSubChannelLayer` with batched subscriptions and
    group messages handed directly to the consumers that take them."""

    def deliver_group_messages(self, channel: str, taker: GroupMessageTaker) -> None:
        """From now on `taker` is offered the group messages of `channel` (one of this
        process's, from `new_channel`) before they are queued for it. Call from the loop
        the channel was made on."""
        self._get_layer().group_message_takers[channel] = taker

    def stop_delivering_group_messages(self, channel: str) -> None:
        self._get_layer().group_message_takers.pop(channel, None)

    def _get_layer(self):
        layer = super()._get_layer()
        if not getattr(layer, "batched_subscriptions", False):
            layer._shards = [BatchedSubscriptionShard(shard.host, layer) for shard in layer._shards]
            layer.batched_subscriptions = True
            layer.group_message_takers = {}
            layer.member_queue_max = settings.SOCKET_SEND_QUEUE_MAX
        return layer
