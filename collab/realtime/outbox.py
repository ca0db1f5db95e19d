"""The outbox of room frames (models: RoomSequence, RoomEvent).

Writes (inside the caller's transaction):
- `outbox_record(room, event, data, message)`: allocates the room's next seq, encodes the
  frame once with `seq` and `id`, stores it; returns the row to send after commit.

After commit (`send_recorded`): the channel-layer message goes out; on success the row is
marked sent (batched by the web process's supervisor, at once elsewhere). A failed send
(Redis down) leaves it unsent, and a relay (`relay_claim` / `relay_send`) re-sends it.

Reads:
- `room_seqs(rooms)`: the current seq of each room (0 for a room that never had one).
- `room_history(room, after)`: the retained frames of a room with seq > after, in order.

Retention: `outbox_prune` keeps at least the last OUTBOX_RETAIN_EVENTS frames of each room
and every frame younger than OUTBOX_RETAIN_SECONDS, and never drops an unsent frame
younger than OUTBOX_UNSENT_MAX_AGE.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from collab.realtime.models import RoomEvent, RoomSequence

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplayFrame:
    seq: int
    text: str


def _next_seq(room: str) -> int:
    """Bumps the room's counter and returns the new value. The row lock is held to the end
    of the caller's transaction: the next writer of this room waits for our commit."""
    table = connection.ops.quote_name(RoomSequence._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (room, seq) VALUES (%s, 1) "
            f"ON CONFLICT (room) DO UPDATE SET seq = {table}.seq + 1 RETURNING seq",
            [room],
        )
        return int(cursor.fetchone()[0])


def outbox_record(*, room: str, event: str | None, data: Any, message: dict, history: bool) -> RoomEvent:
    """Stores one outgoing message in the current transaction.

    `message` is the channel-layer message without its text; for a history frame
    (`history=True`, `event` given) the frame `{"event", "room", "seq", "id", "data"}` is
    encoded here and put in `message["text"]`, with `message["room"]` and `message["seq"]`
    for the sockets' duplicate check. A control-only message gets no seq.
    Must run inside `transaction.atomic()`."""
    from collab.realtime.broadcast import encode_frame

    event_id = uuid.uuid4()
    seq = None
    if event is not None:
        if history:
            seq = _next_seq(room)
            message["text"] = encode_frame(room, event, data, seq=seq, event_id=event_id)
            message["room"], message["seq"] = room, seq
        else:
            message["text"] = encode_frame(room, event, data)
    return RoomEvent.objects.create(id=event_id, room=room, seq=seq, event=event or "", message=message)


# -- sending and marking ----------------------------------------------------------------

_sent_lock = threading.Lock()
_sent_pending: list[int] = []
# True while this process has a supervisor that flushes `_sent_pending` (web processes).
batched_marking = threading.Event()


def mark_sent(pos: int) -> None:
    """The row was handed to the channel layer. Batched where a supervisor flushes (one
    UPDATE for many sends); at once in processes without one (Celery)."""
    if batched_marking.is_set():
        with _sent_lock:
            _sent_pending.append(pos)
        return
    RoomEvent.objects.filter(pos=pos).update(sent_at=timezone.now(), claimed_until=None)


def flush_sent_marks() -> int:
    """Writes the batched marks (sync; the supervisor calls it off the event loop)."""
    with _sent_lock:
        batch = _sent_pending[:]
        _sent_pending.clear()
    if batch:
        RoomEvent.objects.filter(pos__in=batch).update(sent_at=timezone.now(), claimed_until=None)
    return len(batch)


# A thread's record of its sends, for a caller that must tell whether delivery happened
# now (a chat ack says "stored, delivered when the service is back").
_delivery = threading.local()


class DeliveryTracker:
    """`with DeliveryTracker() as tracked:` … `tracked.failed` counts after-commit sends that
    could not reach the channel layer in this thread while the block ran."""

    def __init__(self) -> None:
        self.sent = 0
        self.failed = 0

    def __enter__(self) -> DeliveryTracker:
        self._outer = getattr(_delivery, "tracker", None)
        _delivery.tracker = self
        return self

    def __exit__(self, *exc) -> None:
        _delivery.tracker = self._outer


def note_delivery(ok: bool) -> None:
    tracker = getattr(_delivery, "tracker", None)
    if tracker is not None:
        if ok:
            tracker.sent += 1
        else:
            tracker.failed += 1


# -- reads -----------------------------------------------------------------------------


def room_seqs(rooms: list[str]) -> dict[str, int]:
    """Current seq per room, one query; rooms never written to are 0."""
    if not rooms:
        return {}
    found = dict(RoomSequence.objects.filter(room__in=rooms).values_list("room", "seq"))
    return {room: int(found.get(room, 0)) for room in rooms}


def room_history(*, room: str, after: int, upto: int | None = None) -> tuple[int, list[ReplayFrame]]:
    """(current seq, retained frames with after < seq [<= upto], in seq order)."""
    current = room_seqs([room])[room]
    rows = RoomEvent.objects.filter(room=room, seq__gt=after)
    if upto is not None:
        rows = rows.filter(seq__lte=upto)
    frames = [ReplayFrame(seq, message["text"]) for seq, message in rows.order_by("seq").values_list("seq", "message")]
    if frames:
        current = max(current, frames[-1].seq)
    return current, frames


def rooms_history(after: dict[str, int]) -> dict[str, list[ReplayFrame]]:
    """For many rooms at once (after a Redis outage): retained frames with seq > after[room]."""
    if not after:
        return {}
    lowest = min(after.values())
    out: dict[str, list[ReplayFrame]] = {room: [] for room in after}
    rows = (
        RoomEvent.objects.filter(room__in=list(after), seq__gt=lowest)
        .order_by("room", "seq")
        .values_list("room", "seq", "message")
    )
    for room, seq, message in rows:
        if seq > after[room]:
            out[room].append(ReplayFrame(seq, message["text"]))
    return out


# -- relay -----------------------------------------------------------------------------


def relay_claim(*, limit: int = 500) -> list[RoomEvent]:
    """Claims unsent rows older than OUTBOX_RELAY_GRACE (the on-commit sender had its
    chance), oldest first, for OUTBOX_CLAIM_SECONDS. Several relays at once take disjoint
    rows (SKIP LOCKED); a relay that dies lets its claim lapse."""
    now = timezone.now()
    grace = now - timedelta(seconds=settings.OUTBOX_RELAY_GRACE)
    with transaction.atomic():
        rows = list(
            RoomEvent.objects.select_for_update(skip_locked=True)
            .filter(sent_at__isnull=True, created_at__lte=grace)
            .exclude(claimed_until__gt=now)
            .order_by("pos")[:limit]
        )
        if rows:
            RoomEvent.objects.filter(pos__in=[row.pos for row in rows]).update(
                claimed_until=now + timedelta(seconds=settings.OUTBOX_CLAIM_SECONDS)
            )
    return rows


def relay_release(positions: list[int]) -> None:
    """Sends that failed: the rows may be claimed again at the next tick."""
    if positions:
        RoomEvent.objects.filter(pos__in=positions).update(claimed_until=None)


def relay_mark_sent(positions: list[int]) -> None:
    if positions:
        RoomEvent.objects.filter(pos__in=positions).update(sent_at=timezone.now(), claimed_until=None)


# -- retention -------------------------------------------------------------------------


def outbox_prune(*, now=None) -> int:
    """Deletes what retention no longer needs (idempotent; two runs at once are harmless:
    each DELETE removes what is left). Returns the number of rows deleted."""
    now = now or timezone.now()
    old = now - timedelta(seconds=settings.OUTBOX_RETAIN_SECONDS)
    abandoned = now - timedelta(seconds=settings.OUTBOX_UNSENT_MAX_AGE)
    events = connection.ops.quote_name(RoomEvent._meta.db_table)
    seqs = connection.ops.quote_name(RoomSequence._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {events} WHERE created_at < %s AND (sent_at IS NOT NULL OR created_at < %s) AND ("
            f" seq IS NULL OR seq <= (SELECT s.seq FROM {seqs} s WHERE s.room = {events}.room) - %s)",
            [old, abandoned, settings.OUTBOX_RETAIN_EVENTS],
        )
        return cursor.rowcount


def newest_pos() -> int:
    return RoomEvent.objects.aggregate(top=Max("pos"))["top"] or 0
