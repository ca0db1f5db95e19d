"""Presence reads. The effective status is derived here, on every read, from the stored
choice and the live leases in Redis, so no reply ever shows someone online whose last
lease lapsed, even before the sweep has run. Visibility (PresencePermission) is applied
in the same query: users one may not see are omitted, or NotFound for a single look-up.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from django.db.models import F, Q, QuerySet

from collab.accounts.models import User
from collab.core.errors import NotFound
from collab.courses.membership import course_member_ids, course_members_and_staff
from collab.courses.models import Course
from collab.courses.selectors import course_get_visible
from collab.realtime import leases
from presence.events import PresenceView, presence_payload
from presence.models import Status, UserPresence
from presence.permissions import PresencePermission


def presence_row(user: User) -> UserPresence | None:
    """The user's row from a `select_related("presence")` query, or None (never stored)."""
    try:
        return user.presence
    except UserPresence.DoesNotExist:
        return None


def effective_status(*, chosen: str, live: bool) -> str:
    """What others see: offline without a live lease or when the user chose invisible."""
    return chosen if live and chosen != Status.OFFLINE else Status.OFFLINE


def others_view(user: User, row: UserPresence | None, *, live: bool) -> PresenceView:
    chosen = row.status if row else Status.ONLINE
    status = effective_status(chosen=chosen, live=live)
    return PresenceView(
        user_id=str(user.id),
        name=user.name,
        status=status,
        # An offline user has no current activity; an invisible one must not leak it.
        activity=(row.activity if row and status != Status.OFFLINE else ""),
        last_seen_at=row.shown_last_seen_at if row else None,
    )


def self_view(user: User, row: UserPresence | None, *, live: bool) -> PresenceView:
    return PresenceView(
        user_id=str(user.id),
        name=user.name,
        status=row.status if row else Status.ONLINE,
        activity=row.activity if row else "",
        last_seen_at=row.last_seen_at if row else None,
        connected=live,
    )


def view_for(viewer: User, user: User, row: UserPresence | None, *, live: bool) -> PresenceView:
    if viewer.id == user.id:
        return self_view(user, row, live=live)
    return others_view(user, row, live=live)


def _views(viewer: User, users: Iterable[User]) -> list[PresenceView]:
    users = list(users)
    live = leases.live_expiries([user.id for user in users])
    return [view_for(viewer, user, presence_row(user), live=str(user.id) in live) for user in users]


def _visible_users(viewer: User) -> QuerySet[User]:
    return User.objects.filter(PresencePermission.visible_users_q(viewer)).select_related("presence")


def presence_get(*, viewer: User, user_id: uuid.UUID) -> PresenceView:
    """One user's presence, in one query; NotFound when missing or not visible."""
    user = _visible_users(viewer).filter(id=user_id).first()
    if user is None:
        raise NotFound("No such user, or their presence is not visible to you.", code="user_not_found")
    return _views(viewer, [user])[0]


def presence_get_many(*, viewer: User, user_ids: Iterable[uuid.UUID]) -> list[PresenceView]:
    """Presence of many users in the order asked, duplicates and invisible users left out.
    One query (visibility is a subquery) plus one Redis round trip, whatever the count."""
    ordered = list(dict.fromkeys(user_ids))
    if not ordered:
        return []
    by_id = {user.id: user for user in _visible_users(viewer).filter(id__in=ordered)}
    return _views(viewer, [by_id[user_id] for user_id in ordered if user_id in by_id])


def _online(viewer: User, users: QuerySet[User]) -> QuerySet[User]:
    """Live (a lease in Redis), not invisible, visible to the viewer."""
    return (
        users.filter(is_active=True, id__in=leases.live_user_ids())
        .filter(PresencePermission.visible_users_q(viewer))
        .exclude(presence__status=Status.OFFLINE)
    )


def presence_online_users(*, viewer: User, limit: int) -> tuple[list[PresenceView], int]:
    """The online users the viewer may see, by name, at most `limit`, and their total."""
    online = _online(viewer, User.objects.all())
    users = online.select_related("presence").order_by("name", "id")[:limit]
    return _views(viewer, users), online.count()


def presence_online_in_course(
    *, viewer: User, course_id: uuid.UUID, limit: int
) -> tuple[Course, list[PresenceView], int, set[uuid.UUID]]:
    """The online members (instructor and enrolled) of a course the viewer belongs to
    (admins: any course); NotFound otherwise.

    The members are read first and matched against their leases in one ZMSCORE, so the
    cost follows the size of the course, not the number of users online on the whole
    platform (bench/: with every live id in an IN clause this read managed 5 requests a
    second once thousands were online). Every member of a course may see every other
    member, so no visibility subquery is needed once course_get_visible has passed.
    Also returns the course's staff ids (instructor, TAs), read in the same query."""
    course = course_get_visible(user=viewer, course_id=course_id)
    member_ids, staff_ids = course_members_and_staff(course.id, course.instructor_id)
    online = _shown_online(list(leases.live_expiries(member_ids)))
    users = list(online[:limit])
    count = len(users) if len(users) < limit else online.count()
    return course, _views(viewer, users), count, staff_ids


def presence_course_snapshot_rows(
    *, member_ids: list, live_ids: list[str]
) -> tuple[list[uuid.UUID], list[tuple[User, UserPresence | None]]]:
    """For presence.snapshots: the active members of a course (who may read its presence)
    and its online members by name with their presence rows, in two queries."""
    active_member_ids = list(User.objects.filter(id__in=member_ids, is_active=True).values_list("id", flat=True))
    return active_member_ids, [(user, presence_row(user)) for user in _shown_online(live_ids)]


def _shown_online(live_ids: list[str]) -> QuerySet[User]:
    """Of these live users, those others see online (active, not invisible), by name."""
    return (
        User.objects.filter(id__in=live_ids, is_active=True)
        .exclude(presence__status=Status.OFFLINE)
        .select_related("presence")
        .order_by("name", "id")
    )


def course_presence_payloads(*, course_id: uuid.UUID | str) -> list[dict]:
    """Every active member of a course as others see them now (presence-changed payloads),
    for a socket that resumes the course room: two queries and one Redis round trip."""
    course = Course.objects.filter(id=course_id).values("instructor_id").first()
    if course is None:
        return []
    member_ids = course_member_ids(course_id=course_id, instructor_id=course["instructor_id"])
    users = list(User.objects.filter(id__in=member_ids, is_active=True).select_related("presence").order_by("id"))
    live = leases.live_expiries([user.id for user in users])
    return [presence_payload(others_view(user, presence_row(user), live=str(user.id) in live)) for user in users]


def presence_unannounced_among(*, user_ids: Sequence[uuid.UUID | str], chunk: int = 200) -> list[uuid.UUID]:
    """Of these users, all live (their leases were just re-taken), those whose course
    rooms were not told what others now see of them: no presence row yet, or one whose
    `announced_status` is not their chosen status (for a live user the two are the same
    once announced; invisible is `offline` both ways). That is "lease live, row offline"
    left by a first-lease sync that failed. One indexed query per `chunk` users, returning
    only the stale ones; a deleted user is not returned. In the order of `user_ids`."""
    ids = list(dict.fromkeys(u if isinstance(u, uuid.UUID) else uuid.UUID(str(u)) for u in user_ids))
    stale: set[uuid.UUID] = set()
    for start in range(0, len(ids), chunk):
        stale.update(
            User.objects.filter(id__in=ids[start : start + chunk])
            .filter(Q(presence__isnull=True) | ~Q(presence__announced_status=F("presence__status")))
            .values_list("id", flat=True)
        )
    return [user_id for user_id in ids if user_id in stale] if stale else []
