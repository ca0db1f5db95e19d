"""presence.hooks: other apps run after every sweep; a failing hook breaks nothing."""

import time

import pytest

from presence import hooks, leases, services
from presence.models import UserPresence

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def registered():
    """Registers temporary hooks and removes them afterwards."""
    added = []

    def register(hook):
        hooks.on_presence_swept(hook)
        added.append(hook)
        return hook

    yield register
    for hook in added:
        hooks.remove_presence_swept_hook(hook)


def test_hooks_run_after_the_sweep_has_announced(course, student, registered):
    services.presence_heartbeat(user_id=student.id)
    leases.leases_drop_all(user_id=student.id)
    seen = []
    registered(lambda: seen.append(UserPresence.objects.get(user=student).announced_status))
    assert services.presence_sweep() == 1
    # The hook saw the sweep's work committed: the user is already announced offline.
    assert seen == ["offline"]
    assert services.presence_sweep() == 0
    assert seen == ["offline", "offline"]  # every sweep, also when nobody lapsed


def test_a_failing_hook_neither_fails_the_sweep_nor_stops_the_others(course, student, registered, caplog):
    calls = []

    def broken():
        calls.append("broken")
        raise RuntimeError("boom")

    registered(broken)
    registered(lambda: calls.append("next"))
    services.presence_heartbeat(user_id=student.id)
    leases.lease_release(user_id=student.id, lease_id=leases.HTTP_LEASE)
    leases.lease_touch(user_id=student.id, lease_id="ws:dead", now=time.time() - leases.lease_ttl() - 5)
    assert services.presence_sweep() == 1
    assert calls == ["broken", "next"]
    assert "presence sweep hook" in caplog.text


def test_registering_twice_keeps_one(registered):
    def hook():
        return None

    registered(hook)
    registered(hook)
    assert hooks.presence_swept_hooks().count(hook) == 1
