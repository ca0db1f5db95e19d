"""The outbox of room frames (models: RoomSequence, RoomEvent).

Writes (inside the caller's transaction):
- `outbox_record(room, event, data, message)`: queues one outgoing message; just before
  the transaction commits (collab.core.db.before_commit) all the messages it queued are
  written at once: each room's seq counter is bumped, in sorted room order, each frame
  encoded once with its `seq` and `id`, and the rows inserted in one statement. A control
  message that makes sockets join rooms (`joins`) gets each joined room's seq as of this
  commit in `message["join_seqs"]` (the room's counter is locked like a bumped one, so no
  frame of it can commit between that read and this COMMIT).

Why at the end and in sorted order: bumping a room's counter locks its row until COMMIT,
and a transaction that broadcasts to several rooms (a group room and its course room, a
queue and the users in it) would otherwise lock them in the order its code path sends,
so two transactions could lock two rooms in opposite orders and deadlock. Sorted, every
transaction locks in one order; done last, the locks are held for the COMMIT only.

After commit (collab.realtime.broadcast): the channel-layer message goes out; on success
the row is marked sent (`mark_sent`: batched by the web process's supervisor, at once
elsewhere). A failed send (Redis down) leaves it unsent, and a relay (`relay_claim`, the
supervisor's `relay`) re-sends it.

Reads:
- `room_seqs(rooms)`: the current seq of each room (0 for a room that never had one).
- `room_history(room, after)`: the retained frames of a room with seq > after, in order
  (each with the channel it was not sent to live: `texts_for` keeps it from that socket).

Retention: `outbox_prune` keeps at least the last OUTBOX_RETAIN_EVENTS frames of each room
and every frame younger than OUTBOX_RETAIN_SECONDS, and never drops an unsent frame
younger than OUTBOX_UNSENT_MAX_AGE.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from collab.core.db import before_commit
from collab.core.jsonframes import dumps
from collab.realtime.models import RoomEvent, RoomSequence

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplayFrame:
    """A retained frame: its seq, its text, and the channel it was not sent to live (the
    socket a change came from, e.g. the joining socket of `attendee-joined`), or None."""

    seq: int
    text: str
    exclude: str | None = None


def texts_for(channel_name: str, frames: list[ReplayFrame]) -> list[tuple[int, str | None]]:
    """`frames` as the socket `channel_name` gets them from the store (a replay, a gap
    fill, a catch-up): [(seq, text)], the text None for a frame that socket was excluded
    from live, so it counts as delivered without being sent, there as live (`room_frame`)."""
    return [(frame.seq, None if frame.exclude == channel_name else frame.text) for frame in frames]


@dataclass(eq=False)
class OutboxFrame:
    """One message queued by `outbox_record`. `seq` (history frames only), `pos` (its
    row) and `message["text"]` are filled in when the transaction writes it, just before
    COMMIT; `written` says whether that happened."""

    room: str
    event: str | None
    data: bytes  # the payload, encoded when it was recorded
    message: dict
    history: bool
    id: uuid.UUID
    joins: tuple[str, ...] = ()  # rooms whose seq at commit goes in message["join_seqs"]
    # Called with message["join_seqs"] once read, still in the transaction (before COMMIT).
    on_joined: Callable[[dict[str, int]], None] | None = field(default=None, repr=False)
    seq: int | None = None
    pos: int | None = None
    written: bool = False

    @classmethod
    def new(
        cls,
        *,
        room: str,
        event: str | None,
        data: Any,
        message: dict,
        history: bool,
        joins: tuple[str, ...] = (),
        on_joined: Callable[[dict[str, int]], None] | None = None,
    ) -> OutboxFrame:
        """A frame not yet written: `data` encoded now (once for every recipient), a new
        `id`; a control-only message (`event` None) is never history."""
        return cls(
            room=room,
            event=event,
            data=orjson.dumps(data, option=orjson.OPT_UTC_Z) if event is not None else b"null",
            message=message,
            history=history and event is not None,
            id=uuid.uuid4(),
            joins=tuple(joins),
            on_joined=on_joined,
        )

    def number(self, seq: int) -> None:
        """Gives a history frame its seq: in its message (`room` and `seq`, the sockets'
        duplicate check) and in its text."""
        self.seq = seq
        self.message["room"], self.message["seq"] = self.room, seq
        self.message["text"] = _encode(self)


def _bump_seqs(room: str, count: int) -> int:
    """Adds `count` to the room's counter and returns the new value. The row lock is held
    to the end of the transaction: the next writer of this room waits for our commit."""
    table = connection.ops.quote_name(RoomSequence._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (room, seq) VALUES (%s, %s) "
            f"ON CONFLICT (room) DO UPDATE SET seq = {table}.seq + %s RETURNING seq",
            [room, count, count],
        )
        return int(cursor.fetchone()[0])


def _encode(frame: OutboxFrame) -> str:
    if frame.seq is not None:
        head, tail = encode_around_seq(frame)
        return f"{head}{frame.seq}{tail}"
    return dumps({"event": frame.event, "room": frame.room, "data": orjson.Fragment(frame.data)})


def encode_around_seq(frame: OutboxFrame) -> tuple[str, str]:
    """A history frame's text without its seq: (head, tail), the text being
    `head + str(seq) + tail` = `{"event", "room", "seq", "id", "data"}`. For a writer that
    learns the seq in the statement that stores the text (collab.realtime.fused_write)."""
    head = dumps({"event": frame.event, "room": frame.room})
    tail = dumps({"id": frame.id, "data": orjson.Fragment(frame.data)})
    return f'{head[:-1]},"seq":', f",{tail[1:]}"


def outbox_record(
    *,
    room: str,
    event: str | None,
    data: Any,
    message: dict,
    history: bool,
    joins: tuple[str, ...] = (),
    on_joined: Callable[[dict[str, int]], None] | None = None,
) -> OutboxFrame:
    """Queues one outgoing message in the current transaction (see the module docstring).

    `message` is the channel-layer message without its text; for a frame (`event` given)
    `{"event", "room", "seq", "id", "data"}` is put in `message["text"]` when it is
    written, and for a history frame (`history=True`) `message["room"]` and
    `message["seq"]` for the sockets' duplicate check. `data` is encoded now: changing
    it afterwards changes nothing. A control-only message (`event` None) gets no seq.
    `joins` (a control message's `join` rooms): `message["join_seqs"]` = {room: the room's
    seq before this transaction's own frames of it}, read and locked just before COMMIT,
    so a socket that joins later knows exactly which frames came after the grant.
    `on_joined(join_seqs)`: called with those seqs right after they are read, before
    COMMIT and in the same transaction (to persist a user's admission point: the
    enrolment's `admitted_seq`, read by `resume`).
    Must run inside `transaction.atomic()`."""
    frame = OutboxFrame.new(
        room=room, event=event, data=data, message=message, history=history, joins=joins, on_joined=on_joined
    )
    # One hook per frame: a frame queued in a savepoint that rolls back loses its hook.
    before_commit(partial(_stage, frame))
    return frame


def _stage(frame: OutboxFrame) -> None:
    """Before COMMIT, round one: collects the frames still wanted; the first one queues
    the write, which runs after every frame has been collected."""
    state = transaction.get_connection().before_commit_state
    if "outbox" not in state:
        state["outbox"] = []
        before_commit(_write_staged)
    state["outbox"].append(frame)


def _write_staged() -> None:
    frames: list[OutboxFrame] = transaction.get_connection().before_commit_state.pop("outbox", [])
    if not frames:
        return
    counts = Counter(frame.room for frame in frames if frame.history)
    joined = {room for frame in frames for room in frame.joins}
    # Each room's seq before this transaction's frames. A joined room without frames here
    # is "bumped" by 0: that reads its committed seq and locks it to our COMMIT, so a
    # frame of it is either at or below the read (committed before the grant) or above it
    # (after): the joining sockets start exactly there (consumer.room_control).
    before: dict[str, int] = {}
    for room in sorted(counts.keys() | joined):  # one lock order for every transaction
        before[room] = _bump_seqs(room, counts[room]) - counts[room]
    following = {room: seq + 1 for room, seq in before.items()}
    for frame in frames:  # seqs of a room in the order its frames were recorded
        if frame.joins:
            frame.message["join_seqs"] = {room: before[room] for room in frame.joins}
            if frame.on_joined is not None:
                frame.on_joined(frame.message["join_seqs"])
        if frame.history:
            frame.number(following[frame.room])
            following[frame.room] += 1
        elif frame.event is not None:
            frame.message["text"] = _encode(frame)
    rows = RoomEvent.objects.bulk_create(
        [RoomEvent(id=f.id, room=f.room, seq=f.seq, event=f.event or "", message=f.message) for f in frames]
    )
    for frame, row in zip(frames, rows, strict=True):
        frame.pos, frame.written = row.pos, True


def write_queued() -> None:
    """Writes what this thread's transaction has queued now, without committing. Only for
    tests that run a transaction's on-commit callbacks without committing it
    (captureOnCommitCallbacks): a real COMMIT has written them already."""
    transaction.get_connection().run_before_commit_hooks()


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


def room_seq_expression(room: str) -> Coalesce:
    """An annotation: the current seq of `room` (0 if it never had one), for a hot path
    that reads it in a query it makes anyway (the live-session join's lock query)."""
    return Coalesce(Subquery(RoomSequence.objects.filter(room=room).values("seq")[:1]), Value(0))


def room_history(*, room: str, after: int, upto: int | None = None) -> tuple[int, list[ReplayFrame]]:
    """(current seq, retained frames with after < seq [<= upto], in seq order)."""
    current = room_seqs([room])[room]
    rows = RoomEvent.objects.filter(room=room, seq__gt=after)
    if upto is not None:
        rows = rows.filter(seq__lte=upto)
    frames = [
        ReplayFrame(seq, message["text"], message.get("exclude"))
        for seq, message in rows.order_by("seq").values_list("seq", "message")
    ]
    if frames:
        current = max(current, frames[-1].seq)
    return current, frames


def room_event_id(*, room: str, seq: int) -> uuid.UUID | None:
    """The `id` of the retained frame `seq` of `room`, or None (pruned, or never written)."""
    return RoomEvent.objects.filter(room=room, seq=seq).values_list("id", flat=True).first()


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
            out[room].append(ReplayFrame(seq, message["text"], message.get("exclude")))
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
