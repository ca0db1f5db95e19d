"""Course presence snapshots: the `GET /api/presence/course/:id` answer, built once and
shared by every reader until something it shows changes.

A class of 500 opening the page asks the same question 500 times within seconds; built
from PostgreSQL and the leases each time it cost ~15 ms of a server's CPU (bench/). A
snapshot holds, per course, the active members (who may read it) and every online
member's item twice, as others see it and as its owner sees it (`connected`, the real
lastSeenAt), each already encoded, with the expiry of the lease that makes them online.

When it stops being true:
- presence changes: presence.fanout drops the snapshot of a course room right before it
  sends the room a presence frame. A snapshot read earlier may miss a change, but the
  reader's socket, already in the room, gets the frame that carries it; a read after
  the frame sees it. (Changes waiting in a coalescing window are not lost either way.)
- a lease lapses before the sweep notices: each item carries its lease's expiry and the
  reader drops it past that time, as the database read does.
- membership, names and accounts: enrolments, courses and users saved or deleted drop
  the snapshots concerned on commit (presence.apps connects the receivers).
- anything else (lastSeenAt ticks) ages out after PRESENCE_SNAPSHOT_TTL seconds.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import uuid

import orjson
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction

from collab.core.redis_client import async_redis, sync_redis
from collab.courses.membership import course_members_and_staff, member_course_ids
from collab.courses.models import Course, Enrollment
from collab.realtime import leases
from collab.realtime.rooms import course_room
from presence import selectors
from presence.events import presence_item

log = logging.getLogger(__name__)

COURSE_ROOM_PREFIX = course_room("")

# This process's parsed snapshots by course, with the stamp they were read under, and
# the builds in flight by (event loop, course).
PARSED_KEPT = 256
_parsed: dict[str, tuple[str, dict]] = {}
_building: dict[tuple[int, str], asyncio.Future] = {}
# The share of its lifetime after which a read starts the snapshot's replacement.
REFRESH_AHEAD = 0.7
# Far longer than any snapshot lives, so a generation never goes back under one.
GENERATION_LIFETIME = 24 * 3600


def snapshot_key(course_id: uuid.UUID | str) -> str:
    return f"{settings.CACHES['default']['KEY_PREFIX']}:presence:course-snapshot:{course_id}"


def stamp_key(course_id: uuid.UUID | str) -> str:
    return f"{settings.CACHES['default']['KEY_PREFIX']}:presence:course-snapshot-stamp:{course_id}"


def generation_key(course_id: uuid.UUID | str) -> str:
    return f"{settings.CACHES['default']['KEY_PREFIX']}:presence:course-snapshot-gen:{course_id}"


def _encode(item: dict) -> str:
    return orjson.dumps(item, option=orjson.OPT_UTC_Z).decode()


def snapshot_build(course_id: uuid.UUID | str) -> dict | None:
    """Reads the course's members and online members (4 queries, 1 Redis round trip) and
    stores the snapshot; None when there is no such course.

    The snapshot is stamped with the course's generation read *before* the queries: if
    a change drops the course's snapshots meanwhile, the generation moves on and this
    one, possibly built from the older rows, is never served."""
    generation = int(sync_redis().get(generation_key(course_id)) or 0)
    course = Course.objects.filter(id=course_id).values("id", "instructor_id").first()
    if course is None:
        return None
    member_ids, staff = course_members_and_staff(course["id"], course["instructor_id"])
    live = leases.live_expiries(member_ids)
    active_member_ids, online = selectors.presence_course_snapshot_rows(member_ids=member_ids, live_ids=list(live))
    items = [
        {
            "u": str(user.id),
            "x": live[str(user.id)],
            "o": _encode(presence_item(selectors.others_view(user, row, live=True), staff=user.id in staff)),
            "s": _encode(presence_item(selectors.self_view(user, row, live=True), staff=user.id in staff)),
        }
        for user, row in online
    ]
    snapshot = {
        "gen": generation,
        "stamp": f"{generation}:{secrets.token_hex(8)}",
        "builtAt": time.time(),
        "courseId": str(course["id"]),
        "members": [str(member_id) for member_id in active_member_ids],
        "items": items,
    }
    pipe = sync_redis().pipeline(transaction=True)
    pipe.set(snapshot_key(course_id), orjson.dumps(snapshot), ex=settings.PRESENCE_SNAPSHOT_TTL)
    pipe.set(stamp_key(course_id), snapshot["stamp"], ex=settings.PRESENCE_SNAPSHOT_TTL)
    pipe.execute()
    return snapshot


async def snapshot_read(course_id: uuid.UUID | str) -> dict | None:
    """The stored snapshot if it is of the course's current generation, else None.

    Checked on every read with one small MGET (its stamp and the generation); the
    snapshot itself is fetched and parsed once per process per build (`_parsed`)."""
    redis = async_redis()
    stamp, generation = await redis.mget(stamp_key(course_id), generation_key(course_id))
    if not stamp or int(stamp.partition(":")[0]) != int(generation or 0):
        return None
    cached = _parsed.get(str(course_id))
    if cached is not None and cached[0] == stamp:
        return cached[1]
    raw = await redis.get(snapshot_key(course_id))
    if not raw:
        return None
    snapshot = orjson.loads(raw)
    if snapshot["stamp"] != stamp:
        return None  # rebuilt between the two reads: the next read takes the new one
    snapshot["memberSet"] = frozenset(snapshot["members"])
    _parsed.pop(str(course_id), None)
    _parsed[str(course_id)] = (stamp, snapshot)
    while len(_parsed) > PARSED_KEPT:
        _parsed.pop(next(iter(_parsed)))  # the least recently stored
    return snapshot


def snapshot_parsed(course_id: uuid.UUID | str) -> dict | None:
    """The snapshot of the course this process last read, without asking Redis whether
    it is still current (the caller asks: presence.course_read compares its stamp)."""
    cached = _parsed.get(str(course_id))
    return None if cached is None else cached[1]


def snapshot_lists_member(snapshot: dict, user_id: str) -> bool:
    """Whether `user_id` is among the snapshot's active members (who may read it)."""
    members = snapshot.get("memberSet")
    return user_id in members if members is not None else user_id in snapshot["members"]


async def snapshot_get(course_id: uuid.UUID | str) -> dict | None:
    """The current snapshot, built if missing; concurrent misses in one process wait for
    one build (when a snapshot is dropped, dozens of readers miss at once)."""
    snapshot = await snapshot_read(course_id)
    if snapshot is not None:
        return snapshot
    return await asyncio.shield(_build(course_id))


def _build(course_id: uuid.UUID | str) -> asyncio.Future:
    """The build of the course's snapshot in flight in this process, started if none."""
    key = (id(asyncio.get_running_loop()), str(course_id))
    build = _building.get(key)
    if build is None:
        build = asyncio.ensure_future(sync_to_async(snapshot_build)(course_id))
        _building[key] = build
        build.add_done_callback(lambda _: _building.pop(key, None))
    return build


def snapshot_refresh_ahead(course_id: uuid.UUID | str, snapshot: dict, *, now: float) -> None:
    """Starts a rebuild in the background once `snapshot` (the course's current one) has
    lived REFRESH_AHEAD of its PRESENCE_SNAPSHOT_TTL, so it is replaced before it expires.

    When a snapshot merely expired, every read of the course in the process waited for
    its rebuild (13 ms on a quiet machine, 100 ms and more on a loaded one): a bench run
    at 1,000 reads/s had its p99 at the length of those waits (docs/performance.md R6).
    The snapshot served meanwhile is still within its lifetime; changes drop it as before."""
    built_at = snapshot.get("builtAt")
    if built_at is None or now < built_at + REFRESH_AHEAD * settings.PRESENCE_SNAPSHOT_TTL:
        return
    key = (id(asyncio.get_running_loop()), str(course_id))
    if key not in _building:
        _build(course_id).add_done_callback(_log_failure)


def _log_failure(build: asyncio.Future) -> None:
    if not build.cancelled() and build.exception() is not None:
        log.warning("presence snapshot refresh failed: %r", build.exception())


def snapshot_render(snapshot: dict, *, viewer_id: str, limit: int, now: float | None = None) -> bytes:
    """The response body for one viewer: online members whose lease is still live, by
    name, at most `limit`, the viewer's own item as they see it, and the total."""
    now = time.time() if now is None else now
    online = [item for item in snapshot["items"] if item["x"] > now]
    shown = [item["s"] if item["u"] == viewer_id else item["o"] for item in online[:limit]]
    return f'{{"courseId":"{snapshot["courseId"]}","users":[{",".join(shown)}],"count":{len(online)}}}'.encode()


def snapshot_drop(*course_ids: uuid.UUID | str) -> None:
    """Moves the courses to a new generation: their stored snapshots are never served again."""
    if not course_ids:
        return
    try:
        pipe = sync_redis().pipeline(transaction=False)
        for course_id in course_ids:
            pipe.incr(generation_key(course_id))
            pipe.expire(generation_key(course_id), GENERATION_LIFETIME)
        pipe.execute()
    except Exception:
        # The snapshot still ages out (PRESENCE_SNAPSHOT_TTL); the change itself stands.
        log.exception("dropping presence snapshots failed")


def snapshot_drop_for_room(room: str) -> None:
    if room.startswith(COURSE_ROOM_PREFIX):
        snapshot_drop(room.removeprefix(COURSE_ROOM_PREFIX))


def snapshot_drop_on_commit(*course_ids: uuid.UUID | str) -> None:
    transaction.on_commit(lambda: snapshot_drop(*course_ids), robust=True)


# -- receivers (connected in PresenceConfig.ready) -------------------------------------


def on_enrollment_changed(sender, instance: Enrollment, **kwargs) -> None:
    snapshot_drop_on_commit(instance.course_id)


def on_course_changed(sender, instance: Course, **kwargs) -> None:
    snapshot_drop_on_commit(instance.id)


def on_user_saved(sender, instance, created: bool = False, **kwargs) -> None:
    # A name, an activation: shown in or deciding who reads the user's courses' snapshots.
    if not created:
        snapshot_drop_on_commit(*member_course_ids(instance.id))
