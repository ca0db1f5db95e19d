"""Presence writes.

The flow: a lease changes in Redis (collab.realtime.leases; atomic, decides first/last), and
only when a user turned live or offline, or changed their own status or activity, does
a service lock the user's `UserPresence` row and reconcile. Under that lock it reads
the truth (the leases *now*), computes what others see, and compares it with what the
course rooms were last told (`announced_status` and, while visible, `activity`). A
`presence-changed` is broadcast (after commit) only when that differs, and the new
value is stored in the same transaction (presence.fanout then coalesces the frames
per course room, so a storm of connects cannot flood a class). So whichever of a disconnect, a racing
reconnect, an admin action or two sweeps at once gets there first announces the
change, and the others find nothing to say: no duplicates, no lost transitions.

Sockets' lease transitions are reconciled in batches (`presence_sync_many`, through
presence.consumers' group commit): one transaction for the users whose first or last
lease came while the previous batch ran, with the outcome of one sync each.

Database writes are kept rare: a heartbeat writes lastSeenAt at most once per
PRESENCE_WRITE_MIN_INTERVAL per user (a Redis SET NX slot shared by all processes);
a brand-new row is one INSERT, never INSERT + UPDATE.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from django.db import IntegrityError, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from collab.accounts.models import User
from collab.core.errors import NotAllowed
from collab.courses.membership import member_course_ids, member_course_ids_many
from collab.realtime import leases
from collab.realtime.broadcast import broadcast_on_commit
from collab.realtime.rooms import course_room, user_room
from presence import fanout
from presence.events import PRESENCE_CHANGED, PresenceView, presence_payload
from presence.models import Status, UserPresence
from presence.selectors import others_view, self_view

T = TypeVar("T")
log = logging.getLogger(__name__)


def _retry_insert_race(service: Callable[..., T]) -> Callable[..., T]:
    """A first row for a user is INSERTed without a lock to take; if another request
    inserted it first, running the service again finds the row and locks it."""

    @functools.wraps(service)
    def wrapper(**kwargs) -> T:
        try:
            return service(**kwargs)
        except IntegrityError:
            return service(**kwargs)

    return wrapper


def epoch_to_datetime(epoch: float) -> datetime:
    """A Unix time (seconds, as Redis lease expiries are kept) as an aware UTC datetime."""
    return datetime.fromtimestamp(epoch, tz=UTC)


def _locked_row(user_id: uuid.UUID | str, *, user: User | None = None) -> tuple[UserPresence, bool]:
    """The user's row locked FOR UPDATE (not the user row), with its user (the payloads
    carry the name), or an unsaved new one."""
    row = UserPresence.objects.select_for_update(of=("self",)).select_related("user").filter(user_id=user_id).first()
    if row is not None:
        return row, False
    return (UserPresence(user=user) if user is not None else UserPresence(user_id=user_id)), True


def _store(row: UserPresence, is_new: bool, fields: Iterable[str]) -> None:
    if is_new:
        row.save(force_insert=True)
    else:
        row.save(update_fields=sorted({*fields, "updated_at"}))


def _shown(status: str, activity: str) -> tuple[str, str]:
    """What others see of a (status, activity): no activity while offline."""
    return status, (activity if status != Status.OFFLINE else "")


def _announced(row: UserPresence, is_new: bool) -> tuple[str, str]:
    """What the course rooms were last told about this user."""
    if is_new:
        return Status.OFFLINE, ""
    return _shown(row.announced_status, row.activity)


def _mark_seen(row: UserPresence, seen_at: datetime) -> None:
    if row.last_seen_at is None or seen_at > row.last_seen_at:
        row.last_seen_at = seen_at
    # While invisible the lastSeenAt others see stands still.
    if row.status != Status.OFFLINE and (row.shown_last_seen_at is None or seen_at > row.shown_last_seen_at):
        row.shown_last_seen_at = seen_at


def _self_payload(row: UserPresence, *, live: bool) -> dict:
    return presence_payload(self_view(row.user, row, live=live))


def _announcement(row: UserPresence, before: tuple[str, str], *, live: bool) -> dict | None:
    """Called with the row locked: the presence-changed payload of what others now see,
    when it differs from what the course rooms were told (`before`), else None. Stores
    the new value in `row.announced_status` (the caller saves it)."""
    view = others_view(row.user, row, live=live)
    after = (view.status, view.activity)
    if after == before:
        return None
    row.announced_status = after[0]
    return presence_payload(view)  # built once for every room


def _announce_if_changed(row: UserPresence, before: tuple[str, str], *, live: bool) -> bool:
    """Called with the row locked. Broadcasts (on commit) what others now see, to the
    course rooms of the user's courses, when it differs from what they were told."""
    payload = _announcement(row, before, live=live)
    if payload is None:
        return False
    rooms = [course_room(course_id) for course_id in member_course_ids(row.user_id)]
    if rooms:
        # After commit, through the per-room coalescing fan-out (presence.fanout); a
        # rollback sends nothing. broadcast_on_commit cannot coalesce across processes.
        transaction.on_commit(functools.partial(fanout.announce, rooms, payload), robust=True)
    return True


# -- liveness transitions --------------------------------------------------------------


def presence_sync(*, user_id: uuid.UUID | str, seen_at: datetime | None = None) -> bool:
    """Reconciles what others were told with the leases, after a lease transition
    (first lease, last lease released, leases lapsed). `seen_at` also records when the
    user was last seen. Returns True when a presence-changed was sent. A batch of one:
    the same statements as a sync written for one user."""
    return presence_sync_many(user_ids=[user_id], seen_at=seen_at)[0]


# Per user: when they were last seen (a user not in the mapping: not marked seen).
SeenAt = datetime | Mapping[uuid.UUID | str, datetime] | None

# Users per presence_sync_many of the sweep and of a process re-taking its sockets' leases:
# one transaction holds this many row locks at most (a lone sync waits for one batch).
SYNC_CHUNK = 200


def presence_sync_many(*, user_ids: Sequence[uuid.UUID | str], seen_at: SeenAt = None) -> list[bool]:
    """`presence_sync` of many users in one transaction, with the same outcome as one
    call per user in the order of `user_ids`: the same rows, and the same announcements
    in the same order in each course room. Returns one bool per entry of `user_ids`
    (True: a presence-changed was sent for it); a user listed twice is reconciled once,
    its later entries False (a second sync in a row finds nothing to say). A deleted
    user is skipped (False). `seen_at` applies to every user, or, a mapping, to each
    user it names (as a sync of each with its own `seen_at`).

    A first row is INSERTed without a lock to take: when a racing transaction inserted
    one of them first (IntegrityError), the batch runs again and finds that row to lock,
    as a single sync's retry does. Each failure leaves one more of the batch's rows in
    place, so this ends; the number of tries is bounded anyway (then IntegrityError).

    It exists for the class-start storm: 500 first leases within seconds were 500
    transactions of ~5 round trips each (docs/performance.md S13). Statements, whatever
    the count: the row locks, the missing users, one ZMSCORE, one pipelined write-slot
    mark, the course ids of those announced, one INSERT, the UPDATE (one statement
    for several rows), COMMIT.

    The rows are locked in user-id order (ORDER BY before FOR UPDATE locks them in that
    order) and new rows inserted in that order, so two batches, or a batch and a single
    sync or update (one row each), never wait for each other in a cycle."""
    ids = list(dict.fromkeys(_as_uuid(user_id) for user_id in user_ids))
    if isinstance(seen_at, Mapping):
        seen = {_as_uuid(user_id): at for user_id, at in seen_at.items()}
    else:
        seen = dict.fromkeys(ids, seen_at) if seen_at is not None else {}
    for attempt in range(len(ids) + 1):
        try:
            announced = _sync_locked(ids, seen)
            break
        except IntegrityError:
            if attempt == len(ids):
                raise
    results, unsaid = [], set(announced)
    for user_id in map(_as_uuid, user_ids):
        results.append(user_id in unsaid)
        unsaid.discard(user_id)  # a second sync of the user in a row has nothing to say
    return results


@transaction.atomic
def _sync_locked(ids: list[uuid.UUID], seen: dict[uuid.UUID, datetime]) -> set[uuid.UUID]:
    """One try of presence_sync_many over distinct `ids`, each marked seen at its time in
    `seen` (if there): the users announced."""
    locked = UserPresence.objects.select_for_update(of=("self",)).select_related("user")
    rows = {row.user_id: row for row in locked.filter(user_id__in=ids).order_by("user_id")}
    missing = [user_id for user_id in ids if user_id not in rows]
    # Without a row, a new row; without a user too, the user was deleted while connected
    # (its lease outlived it): nothing to announce.
    users = User.objects.in_bulk(missing) if missing else {}
    new = {user_id: UserPresence(user=user) for user_id, user in users.items()}
    rows.update(new)
    present = [user_id for user_id in ids if user_id in rows]
    # Read under the row locks: every reconciler of these users sees the latest truth.
    live = leases.live_expiries(present)
    marked = [user_id for user_id in present if user_id in seen]
    if marked:
        # The rows hold a fresh lastSeenAt: heartbeats skip the database for a while.
        # Marked now, not on commit: after a rollback the cost is one skipped write each.
        leases.seen_write_slot_mark_many(marked)
    announced: dict[uuid.UUID, dict] = {}
    for user_id in present:
        row = rows[user_id]
        before = _announced(row, user_id in new)
        if user_id in seen:
            _mark_seen(row, seen[user_id])
        payload = _announcement(row, before, live=str(user_id) in live)
        if payload is not None:
            announced[user_id] = payload
    if announced:
        course_ids = member_course_ids_many(announced)
        changes = [  # in the order asked, as one by one
            ([course_room(course_id) for course_id in course_ids.get(user_id, ())], payload)
            for user_id, payload in announced.items()
        ]
        # After commit, as _announce_if_changed's, with one Redis call per room for all.
        transaction.on_commit(functools.partial(fanout.announce_many, changes), robust=True)
    fields = {"last_seen_at", "shown_last_seen_at"} if marked else set()
    if announced:
        fields.add("announced_status")
    stored = [rows[user_id] for user_id in sorted(rows) if user_id not in new]
    _store_many(
        [new[user_id] for user_id in sorted(new)],
        [row for row in stored if row.user_id in seen or row.user_id in announced],
        fields,
    )
    return set(announced)


def _as_uuid(user_id: uuid.UUID | str) -> uuid.UUID:
    return user_id if isinstance(user_id, uuid.UUID) else uuid.UUID(str(user_id))


def _store_many(new: list[UserPresence], updated: list[UserPresence], fields: set[str]) -> None:
    """New rows in one INSERT; changed ones in one UPDATE (a CASE per field), or a plain
    UPDATE for one. `fields` may name a field a row did not change: it is written as is."""
    if new:
        UserPresence.objects.bulk_create(new)
    if len(updated) == 1:
        _store(updated[0], False, fields)
    elif updated:
        now = timezone.now()
        for row in updated:
            row.updated_at = now  # bulk_update does not run auto_now
        UserPresence.objects.bulk_update(updated, sorted({*fields, "updated_at"}))


def presence_write_last_seen(*, user_id: uuid.UUID | str, seen_at: datetime | None = None) -> None:
    """Update last seen: one UPDATE, no lock (a later value simply wins). Callers hold
    the write slot (leases.seen_write_slot_take); a missing row is created by a sync."""
    seen_at = seen_at or timezone.now()
    updated = UserPresence.objects.filter(user_id=user_id).update(
        last_seen_at=seen_at,
        shown_last_seen_at=Case(When(status=Status.OFFLINE, then=F("shown_last_seen_at")), default=Value(seen_at)),
    )
    if not updated:
        presence_sync(user_id=user_id, seen_at=seen_at)


def presence_touch_last_seen(*, user_id: uuid.UUID | str) -> bool:
    """Coalesced lastSeenAt: writes only when this user's write slot is free.
    Returns whether the database was written."""
    if not leases.seen_write_slot_take(user_id=user_id):
        return False
    presence_write_last_seen(user_id=user_id)
    return True


def presence_heartbeat(*, user_id: uuid.UUID | str, lease_id: str = leases.HTTP_LEASE) -> int:
    """Renews a lease (the `http` lease for the REST heartbeat) and lastSeenAt.

    Not one transaction on purpose: the lease lives in Redis, and most heartbeats end
    there. Only the first lease (the user turns live) or a free write slot reaches the
    database, each in its own short transaction. Returns the lease's lifetime (s)."""
    now = time.time()
    if leases.lease_touch(user_id=user_id, lease_id=lease_id, now=now):
        presence_sync(user_id=user_id, seen_at=epoch_to_datetime(now))
    else:
        presence_touch_last_seen(user_id=user_id)
    return leases.lease_ttl()


# -- the user's own choices --------------------------------------------------------------


@_retry_insert_race
@transaction.atomic
def presence_update(*, user: User, status: str | None = None, activity: str | None = None) -> PresenceView:
    """Update presence: the user's own status choice and/or activity. Course rooms hear
    about it only if what others see changed (an invisible user's activity does not);
    the user's own room hears their real choice whenever it changed (their other tabs)."""
    row, is_new = _locked_row(user.id, user=user)
    before_others = _announced(row, is_new)
    before_self = (row.status, row.activity)
    live = leases.is_live(user.id)
    now = timezone.now()
    if live:
        _mark_seen(row, now)  # before a change to invisible: others last saw them now
    if status is not None:
        row.status = status
    if activity is not None:
        row.activity = activity
    if live:
        _mark_seen(row, now)
    fields = {"status", "activity", "last_seen_at", "shown_last_seen_at"}
    if _announce_if_changed(row, before_others, live=live):
        fields.add("announced_status")
    if (row.status, row.activity) != before_self:
        broadcast_on_commit(user_room(user.id), PRESENCE_CHANGED, _self_payload(row, live=live), history=False)
    _store(row, is_new, fields)
    return self_view(user, row, live=live)


def presence_set_activity(*, user: User, activity: str) -> PresenceView:
    return presence_update(user=user, activity=activity)


# -- staff ---------------------------------------------------------------------------------


def presence_force_offline(*, actor: User, user_ids: Iterable[uuid.UUID | str]) -> int:
    """Moderation: drops every lease of the users and sets their choice to offline
    (invisible) with no activity, so a client that keeps its socket open stays hidden
    until the user picks a status again. Returns how many were announced offline."""
    if not (actor.is_staff or actor.is_admin):
        raise NotAllowed("Only staff can force users offline.", code="not_staff")
    announced = 0
    for user_id in user_ids:
        leases.leases_drop_all(user_id=user_id)
        if _force_offline_one(user_id=user_id):
            announced += 1
    return announced


@_retry_insert_race
@transaction.atomic
def _force_offline_one(*, user_id: uuid.UUID | str) -> bool:
    row, is_new = _locked_row(user_id)
    before_others = _announced(row, is_new)
    before_self = (row.status, row.activity)
    row.status, row.activity = Status.OFFLINE, ""
    fields = {"status", "activity"}
    changed = _announce_if_changed(row, before_others, live=leases.is_live(user_id))
    if changed:
        fields.add("announced_status")
    if (row.status, row.activity) != before_self:
        broadcast_on_commit(user_room(user_id), PRESENCE_CHANGED, _self_payload(row, live=False), history=False)
    _store(row, is_new, fields)
    return changed
