"""Each web process's real-time supervisor: one asyncio task on the server's event loop,
started with the process's first socket.

Every OUTBOX_RELAY_INTERVAL seconds it
- writes the batched "sent" marks of the outbox (collab.realtime.outbox.mark_sent);
- relays: claims outbox rows whose on-commit send failed or never happened (Redis down,
  a process killed between commit and send) and sends them, oldest first, so each room's
  frames go out in seq order; sockets drop the repeats;
- watches Redis (its `run_id`): when Redis comes back after an outage, or restarted
  between two looks, it runs the `on_redis_back` hooks at once (presence re-takes the
  leases of the open sockets), relays what waited, and, once this process's
  channel-layer subscription carries messages again, lets every open socket catch up
  from the outbox on what the channel layer lost;
- runs the `every` hooks on their own period (presence re-takes the leases on a timer).

Why an in-process loop rather than a Celery beat task: the relay exists for when Redis
failed, and Celery's broker *is* that Redis; beat's ticks and the worker's reconnects
would add seconds after Redis returns, while this loop is already running next to the
sockets, reacts within one interval, and needs nothing but PostgreSQL to find the work.
Several processes relay at once without sending a row twice (claims use SKIP LOCKED).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings

from collab.core.asgi_fast.socket_db import socket_db
from collab.core.errors import is_service_outage
from collab.realtime import outbox

log = logging.getLogger(__name__)

SocketsHook = Callable[[list[Any]], Awaitable[None]]

_sockets: weakref.WeakSet = weakref.WeakSet()
_redis_back_hooks: list[SocketsHook] = []
_periodic: list[tuple[Callable[[], float], SocketsHook]] = []
_task: asyncio.Task | None = None


def on_redis_back(hook: SocketsHook) -> SocketsHook:
    """`await hook(sockets)` once Redis is reachable again after an outage or a restart."""
    if hook not in _redis_back_hooks:
        _redis_back_hooks.append(hook)
    return hook


def every(seconds: Callable[[], float], hook: SocketsHook) -> None:
    """`await hook(sockets)` every `seconds()` seconds (read each time: settings may change)."""
    if all(existing is not hook for _, existing in _periodic):
        _periodic.append((seconds, hook))


def open_sockets() -> list[Any]:
    return list(_sockets)


def socket_opened(socket: Any) -> None:
    _sockets.add(socket)
    _ensure_running()


def socket_closed(socket: Any) -> None:
    _sockets.discard(socket)


def _ensure_running() -> None:
    global _task
    loop = asyncio.get_running_loop()
    if _task is not None and not _task.done() and _task.get_loop() is loop:
        return
    if getattr(settings, "REALTIME_SUPERVISOR", True) is False:
        return
    outbox.batched_marking.set()
    _task = loop.create_task(Supervisor().run(), name="collab-realtime-supervisor")


async def stop() -> None:
    """For tests: stops this process's supervisor."""
    global _task
    if _task is not None:
        _task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await _task
        _task = None
    outbox.batched_marking.clear()


class Supervisor:
    def __init__(self) -> None:
        self.run_id: str | None = None
        self.redis_ok = True
        self.next_run: dict[int, float] = {}
        self.catching_up: asyncio.Task | None = None

    async def run(self) -> None:
        try:
            while True:
                try:
                    await self.tick()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("real-time supervisor tick failed")
                await asyncio.sleep(settings.OUTBOX_RELAY_INTERVAL)
        finally:
            if self.catching_up is not None:
                self.catching_up.cancel()

    async def tick(self) -> None:
        await socket_db(outbox.flush_sent_marks)()
        came_back = await self.watch_redis()
        if not self.redis_ok:
            return
        if came_back:
            await self.recover()
        await self.relay()
        now = time.monotonic()
        for index, (seconds, hook) in enumerate(_periodic):
            if now >= self.next_run.get(index, 0.0):
                self.next_run[index] = now + max(0.5, seconds())
                await self._run(hook)

    async def watch_redis(self) -> bool:
        """Looks at Redis; True when it is reachable again after an outage or has restarted."""
        from collab.core.redis_client import async_redis

        try:
            info = await async_redis().info("server")
        except Exception as exc:
            if self.redis_ok:
                log.warning("Redis is unreachable (%s); frames wait in the outbox", exc)
            self.redis_ok = False
            return False
        run_id = info.get("run_id")
        came_back = not self.redis_ok or (self.run_id is not None and run_id != self.run_id)
        if came_back:
            log.warning("Redis is back (run_id %s); re-taking leases and catching sockets up", run_id)
        self.redis_ok, self.run_id = True, run_id
        return came_back

    async def recover(self) -> None:
        """Redis is back. The hooks at once: re-taking the presence leases needs Redis
        only, and the sweep must find them taken as soon as it trusts Redis again
        (collab.realtime.leases.leases_settled). Then the tick goes on to relay what
        waited (other processes' sockets get it at once), while this process's sockets
        catch up from the outbox once its own subscription carries frames again (that
        wait may take seconds; it holds up neither the relay nor the lease timer)."""
        for hook in list(_redis_back_hooks):
            await self._run(hook)
        if self.catching_up is None or self.catching_up.done():
            self.catching_up = asyncio.get_running_loop().create_task(self._catch_up_when_subscribed())

    async def _catch_up_when_subscribed(self) -> None:
        try:
            await self.wait_for_subscription()
            await catch_up(open_sockets())
        except Exception:
            log.exception("catching sockets up after Redis came back failed")

    async def wait_for_subscription(self, timeout: float = 10.0) -> None:
        """Until a message sent through the channel layer to this process comes back: then
        the process's subscriptions (restored by redis-py on reconnect) carry frames again,
        and anything the outbox holds from before is caught up by reading it."""
        layer = get_channel_layer()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                channel = await layer.new_channel("supervisor.")
                await layer.send(channel, {"type": "probe"})
                await asyncio.wait_for(layer.receive(channel), timeout=0.5)
                return
            except TimeoutError:
                continue
            except Exception as exc:
                if not is_service_outage(exc):
                    raise
                await asyncio.sleep(0.2)
        log.warning("the channel layer did not echo a probe within %s s", timeout)

    async def relay(self) -> None:
        rows = await socket_db(outbox.relay_claim)()
        if not rows:
            return
        layer = get_channel_layer()
        sent: list[int] = []
        failed: list[int] = []
        for row in rows:
            if failed:
                # Keep each room's order: once a send fails, the rest waits for the next tick.
                failed.append(row.pos)
                continue
            try:
                await layer.group_send(row.room, row.message)
                sent.append(row.pos)
            except Exception as exc:
                if not is_service_outage(exc):
                    log.exception("relay of outbox row %s failed", row.pos)
                failed.append(row.pos)
        await socket_db(outbox.relay_mark_sent)(sent)
        await socket_db(outbox.relay_release)(failed)
        if sent:
            log.info("relayed %d outbox frames", len(sent))

    async def _run(self, hook: SocketsHook) -> None:
        try:
            await hook(open_sockets())
        except Exception:
            log.exception("supervisor hook %s failed", getattr(hook, "__qualname__", hook))


async def catch_up(sockets: list[Any]) -> None:
    """Sends every open socket the frames of its rooms it has not delivered yet (read from
    the outbox in one query for the whole process)."""
    after: dict[str, int] = {}
    for socket in sockets:
        for room, last in socket.sequencer.last.items():
            after[room] = min(last, after.get(room, last))
    if not after:
        return
    history = await socket_db(outbox.rooms_history)(after)
    for socket in sockets:
        for room in list(socket.sequencer.last):
            frames = history.get(room)
            if not frames:
                continue
            try:
                async with socket.one_at_a_time:
                    outcome = socket.sequencer.fill(room, outbox.texts_for(socket.channel_name, frames))
                    await socket.deliver(room, outcome)
            except Exception:
                log.exception("catch-up of %s failed", room)
