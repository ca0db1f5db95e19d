"""What the apps do when a user leaves a course.

The courses core knows nothing of study groups, live sessions or office hours, yet an
unenrolled user must not keep seeing or taking part in what hangs off the course. Each
app registers a hook in its `AppConfig.ready()`:

    from collab.courses.hooks import on_enrollment_removed
    on_enrollment_removed(services.memberships_end_for_unenrolled)

`enrollment_delete` calls every hook, in registration order (INSTALLED_APPS order), as
`hook(course=course, user_id=user_id, actor=actor)`, *inside its transaction* and after
the Enrollment row is gone, so a hook's permission checks already see the user as not
enrolled. A hook:

- does its writes through its app's services/helpers and sends with
  `broadcast_on_commit` / `sockets_control_on_commit`: nothing leaves before commit;
- takes the same row locks its app's join services take, so a join racing the
  unenrolment either commits first (and is undone by the hook) or waits and is refused;
- may raise: the whole unenrolment rolls back (the enrolment stays, nothing is sent)
  and the error reaches the caller. Hooks must therefore not refuse for ordinary
  reasons: "nothing to do" is a silent return.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collab.accounts.models import User
    from collab.courses.models import Course

EnrollmentRemovedHook = Callable[..., None]

_enrollment_removed: list[EnrollmentRemovedHook] = []


def on_enrollment_removed(hook: EnrollmentRemovedHook) -> EnrollmentRemovedHook:
    """Registers `hook(course=, user_id=, actor=)`. Registering the same function twice
    (ready() may run more than once in tests) keeps one. Usable as a decorator."""
    if hook not in _enrollment_removed:
        _enrollment_removed.append(hook)
    return hook


def enrollment_removed_hooks() -> tuple[EnrollmentRemovedHook, ...]:
    return tuple(_enrollment_removed)


def remove_enrollment_removed_hook(hook: EnrollmentRemovedHook) -> None:
    """For tests that register a temporary hook."""
    if hook in _enrollment_removed:
        _enrollment_removed.remove(hook)


def run_enrollment_removed(*, course: Course, user_id: uuid.UUID, actor: User) -> None:
    """Called by courses.services.enrollment_delete inside its transaction."""
    for hook in enrollment_removed_hooks():
        hook(course=course, user_id=user_id, actor=actor)


# -- role changes --------------------------------------------------------------------

_role_changed: list[Callable[..., None]] = []


def on_enrollment_role_changed(hook: Callable[..., None]) -> Callable[..., None]:
    """Registers `hook(course=, enrollment=, actor=)`, called by
    courses.services.enrollment_role_update inside its transaction after the new role is
    saved. A hook may refuse (raise a DomainError): the role change rolls back."""
    if hook not in _role_changed:
        _role_changed.append(hook)
    return hook


def run_enrollment_role_changed(*, course: Course, enrollment, actor: User) -> None:
    for hook in tuple(_role_changed):
        hook(course=course, enrollment=enrollment, actor=actor)
