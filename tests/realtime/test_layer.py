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
