"""Signals of the courses core, for the apps that hang things off a course.

`enrollment_removed(sender=Course, course=, user_id=, actor=)` is sent by
`courses.services.enrollment_delete` *inside its transaction*, after the Enrollment row
is gone, so a receiver's permission checks already see the user as not enrolled. The
courses core knows nothing of study groups, live sessions or office hours; each app
connects a receiver in its `receivers` module (imported by its `AppConfig.ready()`, so
receivers run in INSTALLED_APPS order) and takes the user out of what it holds. A
receiver:

- does its writes through its app's services and sends with `broadcast_on_commit` /
  `sockets_control_on_commit`: nothing leaves before commit;
- takes the same row locks its app's join services take, so a join racing the
  unenrolment either commits first (and is undone by the receiver) or waits and is
  refused;
- may raise: the signal is sent with `send`, not `send_robust`, on purpose, so the whole
  unenrolment rolls back (the enrolment stays, nothing is sent) and the error reaches the
  caller. Receivers must therefore not refuse for ordinary reasons: "nothing to do" is a
  silent return.

`enrollment_role_changed(sender=Course, course=, enrollment=, actor=)` is sent by
`courses.services.enrollment_role_update` inside its transaction, after the new role
(`enrollment.role`, student | ta) is saved, also with `send`: a receiver may refuse the
change (raise a DomainError) and the role change rolls back.
"""

from django.dispatch import Signal

enrollment_removed = Signal()
enrollment_role_changed = Signal()
