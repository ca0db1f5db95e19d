"""The sweep sends `leases_swept` (collab.realtime.signals) after its own work; a
failing receiver neither fails the sweep nor stops the others."""

import time

import pytest

from collab.realtime import leases
from collab.realtime.signals import leases_swept
from presence import services, sweep
from presence.models import UserPresence

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def connected():
    """Connects temporary receivers and disconnects them afterwards."""
    added = []

    def connect(receiver):
        leases_swept.connect(receiver, weak=False)
        added.append(receiver)
        return receiver

    yield connect
    for receiver in added:
        leases_swept.disconnect(receiver)


def test_receivers_run_after_the_sweep_has_announced(course, student, connected):
    services.presence_heartbeat(user_id=student.id)
    leases.leases_drop_all(user_id=student.id)
    seen = []
    connected(lambda sender, **kwargs: seen.append(UserPresence.objects.get(user=student).announced_status))
    assert sweep.presence_sweep() == 1
    # The receiver saw the sweep's work committed: the user is already announced offline.
    assert seen == ["offline"]
    assert sweep.presence_sweep() == 0
    assert seen == ["offline", "offline"]  # every sweep, also when nobody lapsed


def test_a_failing_receiver_neither_fails_the_sweep_nor_stops_the_others(course, student, connected, caplog):
    calls = []

    def broken(sender, **kwargs):
        calls.append("broken")
        raise RuntimeError("boom")

    connected(broken)
    connected(lambda sender, **kwargs: calls.append("next"))
    services.presence_heartbeat(user_id=student.id)
    leases.lease_release(user_id=student.id, lease_id=leases.HTTP_LEASE)
    leases.lease_touch(user_id=student.id, lease_id="ws:dead", now=time.time() - leases.lease_ttl() - 5)
    assert sweep.presence_sweep() == 1
    assert calls == ["broken", "next"]
    assert "leases_swept receiver" in caplog.text and "boom" in caplog.text
