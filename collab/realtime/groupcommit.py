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
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

log = logging.getLogger(__name__)

BatchRun = Callable[[Any, list], Awaitable[list]]


class GroupCommit:
    def __init__(self, run: BatchRun, *, max_batch: int) -> None:
        self._run = run
        self._max_batch = max_batch
        self._waiting: dict[tuple[int, Hashable], list[tuple[Any, asyncio.Future]]] = {}
        self._drains: set[asyncio.Task] = set()

    async def submit(self, key: Hashable, item: Any) -> Any:
        """Runs `item` in the next batch of `key`; returns its result or raises its refusal."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        slot = (id(loop), key)
        waiting = self._waiting.get(slot)
        if waiting is None:
            waiting = self._waiting[slot] = []
            drain = loop.create_task(self._drain(slot, key))
            self._drains.add(drain)
            drain.add_done_callback(self._drains.discard)
        waiting.append((item, future))
        return await future

    async def _drain(self, slot: tuple[int, Hashable], key: Hashable) -> None:
        waiting = self._waiting[slot]
        batch: list[tuple[Any, asyncio.Future]] = []
        try:
            while waiting:
                batch = [(item, future) for item, future in waiting[: self._max_batch] if not future.done()]
                del waiting[: self._max_batch]
                if batch:
                    await self._run_batch(key, batch)
        finally:
            del self._waiting[slot]
            # Cancelled (the loop is closing) or broken: nobody may wait forever, neither
            # the callers of the batch that ran nor those waiting for the next one.
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
