"""The courses core on the socket: a socket joins the course room of every course its
user teaches or is enrolled in, before its handshake is accepted. Enrolment changes move
open sockets later (courses.services, after commit)."""

from __future__ import annotations

from collections.abc import Iterable

from collab.courses.membership import member_course_ids
from collab.realtime.dispatch import socket_rooms
from collab.realtime.rooms import course_room


@socket_rooms
def course_rooms(user) -> Iterable[str]:
    """`course-<id>` for each course `user` is a member of (one query)."""
    return [course_room(course_id) for course_id in member_course_ids(user.id)]
