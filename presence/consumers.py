"""Presence on the socket: every socket holds a lease while it is open.

- connect: a fresh lease id goes into `socket.state["presence.lease"]` and is taken.
- traffic: any accepted frame renews the lease, but at most every `leases.renew_after()`
  seconds (tracked in `socket.state["presence.renewedAt"]`), so chat traffic costs no
  Redis round trip per frame.
- `presence-heartbeat`: renews the lease now and lastSeenAt (coalesced). A client that
  sends nothing else should send it at least every PRESENCE_OFFLINE_AFTER / 2 seconds.
- disconnect: the lease is released (a release that fails with Redis unreachable is
  retried by the re-assert, below). A process killed before it can do this leaves a
  lease that lapses on its own; the sweep then announces the user offline.
- re-assert: each web process re-takes the leases of all its open sockets every
  PRESENCE_REASSERT_INTERVAL seconds and at once when Redis is back after an outage or a
  restart (collab.realtime.supervisor), so a Redis that lost its data never shows a
  connected user offline for long, and the sweep never frees what they hold.
- resume: a socket that resumes a course room gets the current presence of its members
  in one `presence-batch`.

Redis work runs on the event loop (redis.asyncio); the database only on a transition
(first or last lease) or a free lastSeenAt write slot, in a worker thread. Transitions
of the process's sockets are reconciled in batches (a group commit, below).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import Counter

from django.conf import settings
from django.utils import timezone

from collab.core.asgi_fast.socket_db import socket_db
from collab.core.errors import is_service_outage
from collab.realtime import leases, supervisor
from collab.realtime.dispatch import (
    Socket,
    on_room_resumed,
    on_socket_connect,
    on_socket_disconnect,
    on_socket_traffic,
    socket_event,
    validate,
)
from collab.realtime.groupcommit import GroupCommit
from collab.realtime.rooms import course_room
from presence import events, selectors, services
from presence.events import presence_payload
from presence.serializers import ActivityUpdateSerializer, HeartbeatSerializer, StatusUpdateSerializer

STATE_LEASE = "presence.lease"
STATE_RENEWED = "presence.renewedAt"

# The syncs of first and last leases that arrive while a batch of them runs go together
# in the next batch (services.presence_sync_many): one transaction for the whole batch
# instead of one of ~5 round trips per user, so a class of 500 connecting at 10:00 costs
# a few transactions, not 500 (docs/performance.md S13). One key: every user of the
# process may share a batch (rows are locked in user-id order, so batches of other
# processes cannot deadlock with it). A lone sync runs at once.
SYNC_BATCH_MAX = 100
_SYNC_KEY = "presence"

log = logging.getLogger(__name__)


async def _sync_batch(_key, items: list[tuple]) -> list[bool]:
    """Items are (user id, seen at); the batch marks every user seen at the latest of
    their times (its items were asked within one batch's run of each other)."""
    seen_at = max(seen_at for _, seen_at in items)
    return await socket_db(services.presence_sync_many)(user_ids=[user_id for user_id, _ in items], seen_at=seen_at)


_syncs = GroupCommit(_sync_batch, max_batch=SYNC_BATCH_MAX)


async def _sync(user_id) -> bool:
    """Reconciles the user after their first or last lease, in the next batch. Shielded:
    a socket task cancelled while its sync waits (the connection torn down) must not
    drop the sync, or the user would stay announced as they were until the sweep; run
    directly on the pool, the sync went through whatever happened to its caller too."""
    return await asyncio.shield(_syncs.submit(_SYNC_KEY, (user_id, timezone.now())))


async def _renew(socket: Socket) -> bool:
    """Touches the socket's lease; on the user's first live lease, announces them."""
    lease_id = socket.state.get(STATE_LEASE)
    if lease_id is None:
        return False
    socket.state[STATE_RENEWED] = time.monotonic()
    first = await leases.lease_touch_async(user_id=socket.user.id, lease_id=lease_id)
    if first:
        await _sync(socket.user.id)
    return first


# Connect-time syncs running behind their sockets: kept so none is collected mid-run.
_background: set[asyncio.Task] = set()
# Users with a first-lease sync still running ({user id: how many}): the re-assert's repair
# leaves them to it (their row says offline only because the sync has not committed yet).
_first_syncs: Counter = Counter()


@on_socket_connect
async def presence_take_lease(socket: Socket) -> None:
    """Takes the socket's lease (a connect hook: just after the accept, before the
    socket's first frame is handled); the first-lease sync runs behind it. Awaited, it
    held every socket's first frame (a class-start storm's `join-live-session`) for a
    batch's database trip, ~100 ms p50 of a storm member's time (docs/performance.md
    S15). Syncs are reconcilers under the user's presence row lock, so one that finishes
    after a later sync of the same user (a quick disconnect) still leaves the truth."""
    socket.state[STATE_LEASE] = leases.new_socket_lease_id()
    socket.state[STATE_RENEWED] = time.monotonic()
    if await leases.lease_touch_async(user_id=socket.user.id, lease_id=socket.state[STATE_LEASE]):
        _first_syncs[socket.user.id] += 1
        task = asyncio.ensure_future(_sync(socket.user.id))
        _background.add(task)
        task.add_done_callback(functools.partial(_sync_done, socket.user.id))


def _sync_done(user_id, task: asyncio.Task) -> None:
    _background.discard(task)
    _first_syncs[user_id] -= 1
    if _first_syncs[user_id] <= 0:
        del _first_syncs[user_id]
    if not task.cancelled() and task.exception() is not None:
        log.error("presence: a first-lease sync failed", exc_info=task.exception())


@on_socket_traffic
async def presence_renew_on_traffic(socket: Socket) -> None:
    renewed = socket.state.get(STATE_RENEWED, 0.0)
    if time.monotonic() - renewed >= leases.renew_after():
        await _renew(socket)


# Releases that failed because Redis was unreachable (even after the client's retry on a
# fresh connection): (user id, lease id). Retried on the supervisor's re-assert (at once
# when Redis is back, then every PRESENCE_REASSERT_INTERVAL), so the user goes offline
# then instead of when the lease lapses (PRESENCE_OFFLINE_AFTER). A process that dies
# with some left leaves them to lapse, as it leaves its open sockets' leases.
_unreleased: dict[tuple, None] = {}


@on_socket_disconnect
async def presence_release_lease(socket: Socket) -> None:
    lease_id = socket.state.pop(STATE_LEASE, None)
    if lease_id is None:
        return
    await _release(socket.user.id, lease_id)


async def _release(user_id, lease_id: str) -> bool:
    """Releases a lease and syncs the user on their last; False when Redis is unreachable
    (the release is kept in `_unreleased` for a later try)."""
    try:
        last = await leases.lease_release_async(user_id=user_id, lease_id=lease_id)
    except Exception as exc:
        if not is_service_outage(exc):
            raise
        if (user_id, lease_id) not in _unreleased:
            log.warning("presence: a lease release failed (%s); retrying it when Redis answers", exc)
        _unreleased[(user_id, lease_id)] = None
        return False
    _unreleased.pop((user_id, lease_id), None)
    if last:
        await _sync(user_id)
    return True


async def presence_release_pending() -> int:
    """Retries the releases that failed, oldest first; stops at the first that fails
    again (Redis is still away). Returns how many went through."""
    done = 0
    for user_id, lease_id in list(_unreleased):
        if not await _release(user_id, lease_id):
            break
        done += 1
    return done


@socket_event(events.UPDATE_PRESENCE)
async def update_presence(socket: Socket, data: dict) -> dict:
    body = validate(StatusUpdateSerializer, data)
    view = await socket_db(services.presence_update)(user=socket.user, **body)
    return presence_payload(view)


@socket_event(events.UPDATE_ACTIVITY)
async def update_activity(socket: Socket, data: dict) -> dict:
    body = validate(ActivityUpdateSerializer, data)
    view = await socket_db(services.presence_set_activity)(user=socket.user, activity=body["activity"])
    return presence_payload(view)


@socket_event(events.PRESENCE_HEARTBEAT)
async def presence_heartbeat(socket: Socket, data: dict) -> dict:
    validate(HeartbeatSerializer, data)
    first = await _renew(socket)
    # On a first lease the sync just wrote lastSeenAt; otherwise only a free slot writes.
    if not first and await leases.seen_write_slot_take_async(user_id=socket.user.id):
        await socket_db(services.presence_write_last_seen)(user_id=socket.user.id)
    return {"expiresIn": leases.lease_ttl()}


async def presence_reassert_leases(sockets: list) -> None:
    """Re-takes the lease of every open socket of this process in one pipeline. A user whose
    lease Redis had lost (it restarted) is live again at once; their presence row still says
    what the rooms were told, so the sync that follows finds nothing to announce. After a
    restart that is every user of the process: they are synced services.SYNC_CHUNK at a
    time (one transaction each), not one transaction per user.

    It also repairs "lease live, row offline": a user whose first-lease sync failed (the
    database or Redis hiccuped behind the handshake) has a live lease, so neither the
    sweep nor a later lease transition of another socket would announce them, and they
    showed offline until their next transition. The users of the other sockets are
    checked SYNC_CHUNK at a time (one indexed query each, returning only the stale ones:
    selectors.presence_unannounced_among) and the stale ones synced with the others, which
    announces them online as their first lease would have. A user whose first-lease sync
    is still running is left to it (the supervisor starts with a process's first socket
    and re-asserts at once: that socket's own sync had not committed yet).

    First it retries the lease releases of closed sockets that failed (`_unreleased`)."""
    if _unreleased:
        await presence_release_pending()
    held = [(socket.user.id, socket.state[STATE_LEASE]) for socket in sockets if socket.state.get(STATE_LEASE)]
    if not held:
        return
    firsts = await leases.leases_touch_many_async(held)
    now = time.monotonic()
    for socket in sockets:
        if socket.state.get(STATE_LEASE):
            socket.state[STATE_RENEWED] = now
    known = set(firsts)
    others = [
        user_id
        for user_id in dict.fromkeys(user_id for user_id, _ in held)
        if user_id not in known and user_id not in _first_syncs
    ]
    stale = (
        await socket_db(selectors.presence_unannounced_among)(user_ids=others, chunk=services.SYNC_CHUNK)
        if others
        else []
    )
    if stale:
        log.warning("presence: %d connected users were shown offline (a failed sync); announcing them", len(stale))
    to_sync = [*firsts, *stale]
    for start in range(0, len(to_sync), services.SYNC_CHUNK):
        await socket_db(services.presence_sync_many)(user_ids=to_sync[start : start + services.SYNC_CHUNK])


supervisor.on_redis_back(presence_reassert_leases)
supervisor.every(lambda: float(settings.PRESENCE_REASSERT_INTERVAL), presence_reassert_leases)

_COURSE_PREFIX = course_room("")


@on_room_resumed
async def presence_batch_on_resume(socket: Socket, room: str) -> None:
    """A resumed course room gets its members' current presence (what it missed is state,
    not history: no replay)."""
    if not room.startswith(_COURSE_PREFIX):
        return
    users = await socket_db(selectors.course_presence_payloads)(course_id=room[len(_COURSE_PREFIX) :])
    await socket.send_event(events.PRESENCE_BATCH, {"users": users}, room=room)
