"""Group commit: requests for the same key that arrive while one batch of them runs go
together in the next batch.

A class-start storm sends hundreds of `join-live-session` of one session within
seconds, and the joins of a session run one at a time under its row lock: alone, each
waits for every join before it, one transaction each (docs/performance.md S10). With a
`GroupCommit` the first request of a key runs at once as a batch of one; the requests
that arrive meanwhile wait and then run together, and so on until none is waiting. So
a lone request waits for nothing, and under a storm the line of transactions becomes a
few batches. Per process and per event loop; across processes the row lock still
orders the batches.

`run(key, items)` returns one result per item, in order: a value, or an exception that
refused that item alone (it is raised to that item's caller). If `run` raises, the batch
failed as a whole, and each of its items is run again alone, so one item cannot fail the
others. A caller that is cancelled while its item waits is left out of the batch (and
out of the retries of a batch that failed while it ran); if the drain itself is
cancelled (its loop closing), every caller of the key still waiting is cancelled too.

One `GroupCommit` may serve several event loops (module-level instances used by tests,
each with its own loop, and by `async_to_sync`, whose loops come and go): each loop has
its batches and drain tasks of its own, never shared. A loop closed with a drain still
pending (closed without cancelling its tasks) cannot run, cancel or be awaited any more:
its batches are dropped, untouched, when the next loop starts using the instance, so
neither its tasks nor the loop are kept for good.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

log = logging.getLogger(__name__)

BatchRun = Callable[[Any, list], Awaitable[list]]


class _LoopBatches:
    """One event loop's share of a GroupCommit: the items waiting per key, the drains."""

    __slots__ = ("drains", "loop", "waiting")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.waiting: dict[Hashable, list[tuple[Any, asyncio.Future]]] = {}
        self.drains: set[asyncio.Task] = set()


class GroupCommit:
    def __init__(self, run: BatchRun, *, max_batch: int) -> None:
        self._run = run
        self._max_batch = max_batch
        # By id(loop); each entry holds its loop, so an id is never reused while listed.
        self._loops: dict[int, _LoopBatches] = {}

    async def submit(self, key: Hashable, item: Any) -> Any:
        """Runs `item` in the next batch of `key` on this event loop; returns its result or
        raises its refusal."""
        loop = asyncio.get_running_loop()
        batches = self._loops.get(id(loop))
        if batches is None or batches.loop is not loop:
            batches = self._adopt(loop)
        future = loop.create_future()
        waiting = batches.waiting.get(key)
        if waiting is None:
            waiting = batches.waiting[key] = []
            drain = loop.create_task(self._drain(batches, key, waiting))
            batches.drains.add(drain)
            drain.add_done_callback(batches.drains.discard)
        waiting.append((item, future))
        return await future

    def _adopt(self, loop: asyncio.AbstractEventLoop) -> _LoopBatches:
        """The first request from `loop`: its batches, after forgetting those of loops
        that closed. A closed loop's drains are not cancelled (cancelling a task of a
        closed loop raises, and nothing would run the cancellation) nor awaited: dropped,
        with the loop's own "destroyed but pending" report silenced, since the loop's
        owner chose to close it with them pending. Their callers are that loop's too."""
        for loop_id, batches in list(self._loops.items()):
            if batches.loop.is_closed():
                for drain in batches.drains:
                    drain._log_destroy_pending = False  # asyncio's own switch (gather uses it)
                self._loops.pop(loop_id, None)
        batches = self._loops[id(loop)] = _LoopBatches(loop)
        return batches

    async def _drain(self, batches: _LoopBatches, key: Hashable, waiting: list) -> None:
        batch: list[tuple[Any, asyncio.Future]] = []
        try:
            while waiting:
                batch = [(item, future) for item, future in waiting[: self._max_batch] if not future.done()]
                del waiting[: self._max_batch]
                if batch:
                    await self._run_batch(key, batch)
        finally:
            if batches.waiting.get(key) is waiting:
                del batches.waiting[key]
            # Cancelled (the loop is closing) or broken: nobody may wait forever, neither
            # the callers of the batch that ran nor those waiting for the next one. Not
            # when the loop is closed already (the coroutine closed by the collector):
            # its futures can no longer be cancelled, and nobody waits on them.
            if not batches.loop.is_closed():
                for _, future in batch + waiting:
                    if not future.done():
                        future.cancel()

    async def _run_batch(self, key: Hashable, batch: list[tuple[Any, asyncio.Future]]) -> None:
        try:
            results = await self._run(key, [item for item, _ in batch])
        except Exception as failure:
            if len(batch) == 1:
                results = [failure]
            else:
                log.warning("a batch of %d for %s failed (%r): each runs alone", len(batch), key, failure)
                for entry in batch:
                    if not entry[1].done():  # its caller was cancelled meanwhile: nobody hears it
                        await self._run_batch(key, [entry])
                return
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue  # its caller was cancelled meanwhile
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
