"""A guarded insert and its room frame in one statement (PostgreSQL, outside a transaction).

The general way a change reaches its room (collab.realtime.outbox) is a transaction: BEGIN,
the change's reads and writes, just before COMMIT the room's seq bumped and the frame
inserted, COMMIT; then the frame is sent. For a chat message that is six round trips to
PostgreSQL and about 1.5 ms of ORM work on a database thread before a room of hundreds
starts to hear it (docs/performance.md, F6). Here the same writes are one
statement, which PostgreSQL runs as one transaction:

    WITH change AS (INSERT INTO <model> (…) SELECT … WHERE EXISTS (<guard>) RETURNING 1),
         bump   AS (INSERT INTO <room sequence> … SELECT … FROM change
                    ON CONFLICT (room) DO UPDATE SET seq = seq + 1 RETURNING seq),
         frame  AS (INSERT INTO <room event> … SELECT … FROM bump RETURNING pos, seq)
    SELECT pos, seq FROM frame

`guard` is the caller's permission and state check as a queryset (the same rule the
general path reads, compiled by the ORM, so the rule stays in one place; compiled once
per shape and reused, `Guard`). When it finds no
row nothing is written and the caller takes its general path, which says why. The frame's
text is stored as the outbox writes it (`encode_around_seq`: head, seq, tail), and it
is sent after commit, marked sent, relayed if that fails, exactly as a frame of the
general path (`collab.realtime.broadcast.send_recorded`).

What it keeps from the general path: one transaction per change, the room's row lock to
COMMIT (gapless, commit-ordered seqs), the frame written with its change, nothing sent
for a change that did not commit. It takes one room's lock only, after a key-share lock
on the guard's rows (the change's parent, which a foreign-key check would otherwise
lock after the room: see `_compile`). Only on PostgreSQL (SQLite has no data-modifying WITH) and only outside
`transaction.atomic()` (inside one the caller's other frames must share the
transaction's sorted locking): `available()` says whether it applies.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Hashable
from functools import partial
from typing import Any

import orjson
from django.db import connection, models, transaction

from collab.core.db.locks import key_share_sql
from collab.realtime.broadcast import send_recorded
from collab.realtime.models import RoomEvent, RoomSequence
from collab.realtime.outbox import OutboxFrame, encode_around_seq


def available() -> bool:
    """Whether `insert_with_frame` may run here: PostgreSQL, no transaction open."""
    return connection.vendor == "postgresql" and not connection.in_atomic_block


class Guard:
    """A permission and state check as a queryset built from a few ids:
    `Guard(build, shape, **ids)`, `build(**ids)` a queryset that has a row when the change
    is allowed. Its SQL is compiled once per `shape` (the ORM's compile costs more than
    the statement; a shape is any hashable naming the queryset's structure, e.g. whether
    the user is an admin, within one `build` function) and reused with these `ids` in place
    of the first call's. Its rows are key-share locked (`_compile`): a plain query of
    the change's parent, no DISTINCT, GROUP BY or aggregate (PostgreSQL refuses to lock
    those)."""

    __slots__ = ("build", "ids", "shape")

    def __init__(self, build: Callable[..., models.QuerySet], shape: Hashable, **ids: uuid.UUID | str) -> None:
        self.build, self.shape = build, shape
        self.ids = {
            name: value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)) for name, value in ids.items()
        }


# (model, guard function, guard shape) -> (SQL, one slot per parameter: an ids key, or
# None for the value in the compiled statement's own parameters, kept in `constants`), or
# False: not reusable.
_statements: dict[tuple, tuple[str, list[str | None], list[Any]] | bool] = {}


def _function_of(build: Callable[..., models.QuerySet]) -> object:
    """What tells two guards' builders apart in the statement cache: the code of the
    function under any `partial` (one per definition, so a closure or partial made per
    call still hits the cache; what its arguments change in the query is the shape's to
    name). Two guard functions of one model never share a statement, whatever their shape."""
    while isinstance(build, partial):
        build = build.func
    return getattr(build, "__code__", build)


def _compile(model: type[models.Model], guard: Guard) -> tuple[str, list[Any]]:
    fields = model._meta.concrete_fields
    # The guard's rows (the change's parent: the row its foreign key points at) are
    # key-share locked before the room's seq, not after it by the foreign-key check at
    # the statement's end: a transaction that locks the parent FOR UPDATE and then bumps
    # the room at its COMMIT (a session's end) would otherwise deadlock with this one.
    # Re-checked on the row's newest version if that transaction changed it.
    guard_sql, guard_params = key_share_sql(guard.build(**guard.ids).values("pk"))
    quote = connection.ops.quote_name
    sequences, events = quote(RoomSequence._meta.db_table), quote(RoomEvent._meta.db_table)
    sql = (
        f"WITH change AS (INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        # Typed: PostgreSQL would take an untyped parameter of a SELECT list (a NULL) as text.
        f"SELECT {', '.join(f'%s::{field.cast_db_type(connection)}' for field in fields)} "
        f"WHERE EXISTS ({guard_sql}) RETURNING 1), "
        f"bump AS (INSERT INTO {sequences} (room, seq) SELECT %s::varchar, 1 FROM change "
        f"ON CONFLICT (room) DO UPDATE SET seq = {sequences}.seq + 1 RETURNING seq), "
        f"frame AS (INSERT INTO {events} (id, room, seq, event, message, created_at) "
        f"SELECT %s::uuid, %s::varchar, bump.seq, %s::varchar, "
        f"%s::jsonb || jsonb_build_object('seq', bump.seq, 'text', %s::text || bump.seq::text || %s::text), now() "
        f"FROM bump RETURNING pos, seq) "
        f"SELECT pos, seq FROM frame"
    )
    return sql, list(guard_params)


def _statement(model: type[models.Model], guard: Guard) -> tuple[str, list[Any]]:
    """The statement and the guard's parameters for these ids: compiled once per shape.
    The first compile is checked against a second with other ids (every parameter that
    changed must be one of the ids, unchanged): if not, this shape is compiled every time."""
    key = (model, _function_of(guard.build), guard.shape)
    known = _statements.get(key)
    if known is None:
        sql, params = _compile(model, guard)
        other = Guard(guard.build, guard.shape, **{name: uuid.uuid4() for name in guard.ids})
        other_sql, other_params = _compile(model, other)
        slots: list[str | None] = []
        reusable = other_sql == sql and len(other_params) == len(params)
        for mine, theirs in zip(params, other_params, strict=False):
            name = next((n for n, v in other.ids.items() if theirs == v and mine == guard.ids[n]), None)
            if name is None and mine != theirs:
                reusable = False
            slots.append(name)
        _statements[key] = (sql, slots, params) if reusable else False
        return sql, params
    if known is False:
        return _compile(model, guard)
    sql, slots, constants = known
    return sql, [guard.ids[name] if name else value for name, value in zip(slots, constants, strict=True)]


def insert_with_frame(
    obj: models.Model, *, guard: Guard, room: str, event: str, data: Any, message: dict | None = None
) -> bool:
    """Inserts `obj` (a new, unsaved instance: every concrete field's value as `save()`
    would write it) if `guard` has a row, and with it the history frame `event`/`data`
    of `room` (its next seq), in one statement; the frame is sent after the commit.

    `message`: the channel-layer message without its text (default `{"type":
    "room.frame"}`). Returns False, having written nothing, when `guard` has no row.
    Raises what the database raises (an IntegrityError for a duplicate key, say); nothing
    is written then. Only where `available()`."""
    frame = OutboxFrame.new(
        room=room, event=event, data=data, message=dict(message or {"type": "room.frame"}), history=True
    )
    head, tail = encode_around_seq(frame)
    values = [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in obj._meta.concrete_fields]
    sql, guard_params = _statement(type(obj), guard)
    # The message as `number` will complete it: the statement stores it with its seq and text.
    stored = orjson.dumps({**frame.message, "room": room}).decode()
    params = [*values, *guard_params, room, frame.id, room, event, stored, head, tail]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return False
    frame.number(int(row[1]))
    frame.pos, frame.written = int(row[0]), True
    obj._state.adding, obj._state.db = False, connection.alias
    # Committed already (one statement, autocommit): on_commit runs the send at once.
    transaction.on_commit(partial(send_recorded, [(frame, data)]), robust=True)
    return True
