"""collab.realtime.layer: subscriptions that arrive together go out in one SUBSCRIBE, and
every channel and group still hears what is sent to it; plus a guard on the
channels-redis code the layer relies on."""

from __future__ import annotations

import asyncio

import pytest
from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer, RedisSingleShardConnection

from collab.realtime.layer import BatchedSubscriptionShard, PubSubChannelLayer
from tests.fingerprints import assert_unchanged

FINGERPRINTS = {
    # The layer swaps the shards this makes, before any is used.
    RedisPubSubChannelLayer._get_layer: "1862b87a25ac72b2",
    RedisPubSubLoopLayer.__init__: "fd9d37e275298a58",
    # The batch does what this does, for many channels under one lock hold.
    RedisSingleShardConnection.subscribe: "173a8f40b17e4e28",
    RedisSingleShardConnection.__init__: "9c8f408acb4c2d7b",
    # Group delivery replaces this, and relies on `receive` decoding what is queued.
    RedisSingleShardConnection._receive_message: "2f5f46af28e8ed76",
    RedisPubSubLoopLayer.receive: "2d3fa7938ba6e0a6",
    # The subscribe's shortcut knows of an unsubscribe from its call; it takes the lock.
    RedisSingleShardConnection.unsubscribe: "e2b9f0f1ff880674",
}


@pytest.mark.parametrize("relied_on", list(FINGERPRINTS), ids=lambda f: f.__qualname__)
def test_the_channels_redis_code_the_layer_relies_on_is_unchanged(relied_on):
    assert_unchanged(relied_on, FINGERPRINTS[relied_on], reread="collab/realtime/layer.py")


async def test_the_configured_layer_batches_subscriptions(channel_layer):
    assert isinstance(channel_layer, PubSubChannelLayer)
    assert all(isinstance(shard, BatchedSubscriptionShard) for shard in channel_layer._get_layer()._shards)


async def test_subscriptions_arriving_together_go_out_in_few_commands_and_all_hear(channel_layer):
    shard = channel_layer._get_layer()._shards[0]
    first = await channel_layer.new_channel()  # connects the shard
    commands: list[int] = []
    real_subscribe = shard._pubsub.subscribe

    async def counting(*channels):
        commands.append(len(channels))
        return await real_subscribe(*channels)

    shard._pubsub.subscribe = counting
    channels = await asyncio.gather(*(channel_layer.new_channel() for _ in range(30)))
    await asyncio.gather(
        *(channel_layer.group_add(f"room-{number % 3}", channel) for number, channel in enumerate(channels)),
        channel_layer.group_add("room-0", first),
    )
    # 30 channels and 3 groups, each subscribed once, in far fewer commands.
    assert sum(commands) == 33
    assert len(commands) < 10, commands

    await channel_layer.group_send("room-0", {"type": "test.hello", "n": 0})
    hearers = [first] + [channel for number, channel in enumerate(channels) if number % 3 == 0]
    for channel in hearers:
        assert (await asyncio.wait_for(channel_layer.receive(channel), 5))["n"] == 0
    await channel_layer.send(channels[1], {"type": "test.direct", "n": 1})
    assert (await asyncio.wait_for(channel_layer.receive(channels[1]), 5))["n"] == 1


async def test_a_channel_already_subscribed_is_not_subscribed_again(channel_layer):
    channel = await channel_layer.new_channel()
    await channel_layer.group_add("room-x", channel)
    shard = channel_layer._get_layer()._shards[0]
    commands: list[tuple] = []
    real_subscribe = shard._pubsub.subscribe

    async def counting(*channels):
        commands.append(channels)
        return await real_subscribe(*channels)

    shard._pubsub.subscribe = counting
    await channel_layer.group_add("room-x", channel)
    assert commands == []


async def test_a_join_racing_the_last_leave_of_a_room_keeps_the_room_subscribed(channel_layer):
    """The last member leaves a room while the shard's lock is busy (a publish), so its
    UNSUBSCRIBE waits; the lock is released and, before the unsubscribe gets it, a new
    member joins. The join must not return on the strength of the subscription about to
    be dropped: the room would have a member and no subscription (its frames lost)."""
    leaver, joiner = await channel_layer.new_channel(), await channel_layer.new_channel()
    await channel_layer.group_add("room-race", leaver)
    layer = channel_layer._get_layer()
    shard = layer._get_shard(layer._get_group_channel_name("room-race"))
    await shard._lock.acquire()  # a publish in flight
    leaving = asyncio.ensure_future(channel_layer.group_discard("room-race", leaver))
    await asyncio.sleep(0)  # the unsubscribe now waits for the lock
    shard._lock.release()  # the publish is done; the unsubscribe has not run yet
    await channel_layer.group_add("room-race", joiner)
    await leaving

    await channel_layer.group_send("room-race", {"type": "test.hello", "n": 7})
    assert (await asyncio.wait_for(channel_layer.receive(joiner), 5))["n"] == 7
