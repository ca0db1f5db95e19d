"""The courses core on the socket: a socket joins the course room of every course its
user teaches or is enrolled in, before its handshake is accepted. Enrolment changes move
open sockets later (courses.services, after commit)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from collab.courses.membership import member_course_ids_many
from collab.courses.selectors import enrollment_admitted_seq
from collab.realtime.dispatch import room_floor, socket_rooms
from collab.realtime.rooms import course_room


@socket_rooms
def course_rooms(users: list) -> dict[uuid.UUID, Iterable[str]]:
    """`course-<id>` for each course each of `users` is a member of (one query)."""
    courses = member_course_ids_many(user.id for user in users)
    return {user_id: [course_room(course_id) for course_id in ids] for user_id, ids in courses.items()}


@room_floor("course-")
def course_room_floor(user_id: uuid.UUID, course_id: str) -> int | None:
    """The seq the user was admitted to the course room at (their enrolment), for `resume`."""
    try:
        course_id = uuid.UUID(course_id)
    except ValueError:
        return None
    return enrollment_admitted_seq(user_id=user_id, course_id=course_id)
