"""collab.realtime.groupcommit: a lone request runs at once, requests arriving meanwhile
go together, a refusal reaches only its caller, a failed batch is retried item by item."""

from __future__ import annotations

import asyncio

import pytest

from collab.realtime.groupcommit import GroupCommit


class Recorder:
    """A batch runner that records its batches and can be held open or made to fail."""

    def __init__(self):
        self.batches: list[list] = []
        self.release = asyncio.Event()
        self.release.set()
        self.fail_batches_over = None

    async def __call__(self, key, items):
        self.batches.append((key, list(items)))
        await self.release.wait()
        if self.fail_batches_over is not None and len(items) > self.fail_batches_over:
            raise RuntimeError("the batch as a whole failed")
        return [ValueError(f"refused {item}") if item < 0 else item * 10 for item in items]


async def test_a_lone_request_runs_at_once_as_a_batch_of_one():
    runner = Recorder()
    group = GroupCommit(runner, max_batch=10)
    assert await group.submit("k", 1) == 10
    assert runner.batches == [("k", [1])]


async def test_requests_arriving_while_a_batch_runs_go_together_in_the_next():
    runner = Recorder()
    runner.release.clear()
    group = GroupCommit(runner, max_batch=3)
    first = asyncio.ensure_future(group.submit("k", 1))
    await asyncio.sleep(0)
    others = [asyncio.ensure_future(group.submit("k", n)) for n in (2, 3, 4, 5)]
    other_key = asyncio.ensure_future(group.submit("other", 7))
    await asyncio.sleep(0.01)
    runner.release.set()
    assert await first == 10
    assert await asyncio.gather(*others) == [20, 30, 40, 50]
    assert await other_key == 70
    # max_batch bounds a batch; keys never share one.
    assert [batch for key, batch in runner.batches if key == "k"] == [[1], [2, 3, 4], [5]]
    assert ("other", [7]) in runner.batches


async def test_a_refusal_is_raised_to_its_own_caller_only():
    runner = Recorder()
    runner.release.clear()
    group = GroupCommit(runner, max_batch=10)
    blocker = asyncio.ensure_future(group.submit("k", 1))
    await asyncio.sleep(0)
    good, bad = asyncio.ensure_future(group.submit("k", 2)), asyncio.ensure_future(group.submit("k", -1))
    runner.release.set()
    await blocker
    assert await good == 20
    with pytest.raises(ValueError, match="refused -1"):
        await bad
    assert runner.batches[-1] == ("k", [2, -1])


async def test_a_batch_that_fails_whole_is_run_again_item_by_item():
    runner = Recorder()
    runner.release.clear()
    runner.fail_batches_over = 1
    group = GroupCommit(runner, max_batch=10)
    blocker = asyncio.ensure_future(group.submit("k", 1))
    await asyncio.sleep(0)
    waiting = [asyncio.ensure_future(group.submit("k", n)) for n in (2, 3)]
    runner.release.set()
    await blocker
    assert await asyncio.gather(*waiting) == [20, 30]
    assert [batch for _, batch in runner.batches] == [[1], [2, 3], [2], [3]]


async def test_a_lone_request_that_fails_gets_the_failure():
    async def broken(key, items):
        raise RuntimeError("database gone")

    group = GroupCommit(broken, max_batch=10)
    with pytest.raises(RuntimeError, match="database gone"):
        await group.submit("k", 1)


async def test_a_caller_cancelled_while_waiting_is_left_out_of_the_batch():
    runner = Recorder()
    runner.release.clear()
    group = GroupCommit(runner, max_batch=10)
    blocker = asyncio.ensure_future(group.submit("k", 1))
    await asyncio.sleep(0)
    gone = asyncio.ensure_future(group.submit("k", 2))
    kept = asyncio.ensure_future(group.submit("k", 3))
    await asyncio.sleep(0)
    gone.cancel()
    runner.release.set()
    await blocker
    assert await kept == 30
    assert [batch for _, batch in runner.batches] == [[1], [3]]
    # Nothing is left behind for the key: the next request starts afresh.
    assert await group.submit("k", 4) == 40


async def test_a_caller_cancelled_while_its_failed_batch_ran_is_not_run_again_alone():
    # The batch [2, 3] fails whole; 3's caller went away while it ran (its socket's task
    # was cancelled): its item must not be run again alone, for nobody hears the result
    # (a join would hold the seat of a socket whose handler never recorded it).
    first_may_end, pair_started, pair_may_fail = asyncio.Event(), asyncio.Event(), asyncio.Event()
    batches: list[list] = []

    async def run(key, items):
        batches.append(list(items))
        if items == [1]:
            await first_may_end.wait()
        elif len(items) > 1:
            pair_started.set()
            await pair_may_fail.wait()
            raise RuntimeError("the batch as a whole failed")
        return [item * 10 for item in items]

    group = GroupCommit(run, max_batch=10)
    blocker = asyncio.ensure_future(group.submit("k", 1))
    await asyncio.sleep(0)
    kept = asyncio.ensure_future(group.submit("k", 2))
    gone = asyncio.ensure_future(group.submit("k", 3))
    first_may_end.set()
    await blocker
    await pair_started.wait()
    gone.cancel()
    pair_may_fail.set()
    assert await kept == 20
    assert batches == [[1], [2, 3], [2]]


async def test_a_drain_cancelled_mid_batch_leaves_no_caller_waiting_forever():
    # The drain task is cancelled (its loop is shutting down, or anything else): the
    # callers of the running batch and those still waiting for the next one all end.
    runner = Recorder()
    runner.release.clear()
    group = GroupCommit(runner, max_batch=10)
    running = asyncio.ensure_future(group.submit("k", 1))
    await asyncio.sleep(0)
    waiting = asyncio.ensure_future(group.submit("k", 2))
    await asyncio.sleep(0)
    (drain,) = group._drains
    drain.cancel()
    _, pending = await asyncio.wait([running, waiting], timeout=2)
    assert not pending, "a caller was left waiting for a batch that will never run"
    assert running.cancelled() and waiting.cancelled()
    # The key starts afresh.
    runner.release.set()
    assert await group.submit("k", 4) == 40
