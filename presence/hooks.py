"""What other apps do after presence's sweep.

Presence knows nothing of live sessions, office hours or study groups, yet what they
hold for a user "while connected" must not outlive a crashed server process: a process
killed with SIGKILL runs no disconnect handler, and only the presence leases notice
(they lapse by themselves). An app registers a hook in its `AppConfig.ready()`:

    from presence.hooks import on_presence_swept
    on_presence_swept(services.attendance_release_lapsed)

`presence.services.presence_sweep` calls every hook, in registration order, as
`hook()` once its own work is done, outside any transaction. No user list is passed on
purpose: a user whose socket died with its process may have gone offline since by a
clean release of their last lease elsewhere (then no sweep ever reports them), so a
hook reads the leases itself (`presence.leases.live_expiries`, one round trip for any
number of users) for what it holds. A hook:

- is idempotent and safe to run twice at once (two sweeps may overlap);
- opens its own transactions and sends with `broadcast_on_commit`;
- should not raise: if it does, the error is logged and the other hooks still run;
  the sweep itself never fails because of a hook, and the next sweep runs it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

PresenceSweptHook = Callable[..., object]

_swept: list[PresenceSweptHook] = []


def on_presence_swept(hook: PresenceSweptHook) -> PresenceSweptHook:
    """Registers `hook()`. Registering the same function twice (ready()
    may run more than once in tests) keeps one. Usable as a decorator."""
    if hook not in _swept:
        _swept.append(hook)
    return hook


def presence_swept_hooks() -> tuple[PresenceSweptHook, ...]:
    return tuple(_swept)


def remove_presence_swept_hook(hook: PresenceSweptHook) -> None:
    """For tests that register a temporary hook."""
    if hook in _swept:
        _swept.remove(hook)


def run_presence_swept() -> None:
    """Called by presence.services.presence_sweep at its end."""
    for hook in presence_swept_hooks():
        try:
            hook()
        except Exception:
            log.exception("presence sweep hook %r failed", hook)
