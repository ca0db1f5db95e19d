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
    (drain,) = group._loops[id(asyncio.get_running_loop())].drains
    drain.cancel()
    _, pending = await asyncio.wait([running, waiting], timeout=2)
    assert not pending, "a caller was left waiting for a batch that will never run"
    assert running.cancelled() and waiting.cancelled()
    # The key starts afresh.
    runner.release.set()
    assert await group.submit("k", 4) == 40


def _drains_of(group: GroupCommit) -> list[asyncio.Task]:
    return [drain for batches in group._loops.values() for drain in batches.drains]


def test_a_loop_closed_with_a_batch_in_flight_is_dropped_untouched_by_the_next_loop(monkeypatch):
    """A loop closed without cancelling its tasks (a test's loop, an event loop of
    async_to_sync torn down) leaves a drain pending for good. The next loop using the
    instance must not wait for it, nor cancel or await it (its loop is closed: that
    raises), nor keep it, its callers' futures or the loop alive."""
    import gc
    import sys
    import weakref

    unraisable: list = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    held: dict = {}  # the first loop's objects, dropped before the collection below

    async def run(key, items):
        if items == ["stuck"]:
            await held["never"].wait()  # the batch is in flight when its loop closes
        return [f"done {item}" for item in items]

    group = GroupCommit(run, max_batch=10)
    first = asyncio.new_event_loop()

    async def stuck_batch_and_waiter():
        held["never"] = asyncio.Event()
        held["stuck"] = asyncio.ensure_future(group.submit("k", "stuck"))
        await asyncio.sleep(0)
        held["next"] = asyncio.ensure_future(group.submit("k", "next"))  # waits for the stuck batch
        await asyncio.sleep(0.01)

    first.run_until_complete(stuck_batch_and_waiter())
    assert len(_drains_of(group)) == 1
    first.close()  # without cancelling the pending tasks
    closed = weakref.ref(first)
    del first
    held.clear()

    second = asyncio.new_event_loop()
    try:
        # The same key on another loop runs at once, as a lone request.
        assert second.run_until_complete(asyncio.wait_for(group.submit("k", "again"), 2)) == "done again"
        assert all(drain.get_loop() is second for drain in _drains_of(group))
        assert [batches.loop for batches in group._loops.values()] == [second]
    finally:
        second.close()
    gc.collect()
    assert closed() is None, "the closed loop (and its pending drain) is kept alive"
    # Collected without an error: no cancel of a closed loop's future, no report.
    assert unraisable == []


def test_loops_in_threads_at_once_never_share_a_batch():
    """async_to_sync in several threads: each thread's loop has its own batches of a key,
    and every request is answered on its own loop."""
    import threading

    loops_of_batches: list[tuple[int, list]] = []

    async def run(key, items):
        loops_of_batches.append((id(asyncio.get_running_loop()), list(items)))
        await asyncio.sleep(0.01)
        return [(id(asyncio.get_running_loop()), item) for item in items]

    group = GroupCommit(run, max_batch=10)
    answers: dict[int, list] = {}

    def thread(number: int) -> None:
        async def many():
            return id(asyncio.get_running_loop()), await asyncio.gather(
                *(group.submit("k", (number, n)) for n in range(5))
            )

        answers[number] = asyncio.run(many())

    threads = [threading.Thread(target=thread, args=(number,)) for number in range(4)]
    for each in threads:
        each.start()
    for each in threads:
        each.join(10)
    assert sorted(answers) == [0, 1, 2, 3]
    for number, (loop_id, results) in answers.items():
        assert results == [(loop_id, (number, n)) for n in range(5)]
    for loop_id, items in loops_of_batches:
        assert {loop for loop, _ in answers.values() if loop == loop_id}, "a batch ran on a loop nobody used"
        assert len({number for number, _ in items}) == 1, "a batch mixed the requests of two loops"
    # asyncio.run cancelled nothing pending: every drain ended; the loops closed.
    assert _drains_of(group) == []
