import pytest

import tests.conftest as root_conftest
from collab.realtime import leases
from presence import services
from tests.factories import EnrollmentFactory, UserFactory


@pytest.fixture(autouse=True)
def _hear_presence_frames(monkeypatch):
    """Presence tests are about presence frames: their sockets hear every frame."""
    monkeypatch.setattr(root_conftest, "IGNORED_BY_DEFAULT", frozenset())


@pytest.fixture
def uncoalesced(settings):
    """Each change is broadcast at once; the coalescing fan-out is tested in test_fanout.py."""
    settings.PRESENCE_BROADCAST_WINDOW = 0


def go_online(user, lease_id="ws:test"):
    leases.lease_touch(user_id=user.id, lease_id=lease_id)
    services.presence_sync(user_id=user.id)


@pytest.fixture
def class_online(course, instructor, student):
    """A course with its instructor, `student` and five more students online, one away."""
    others = [UserFactory(name=f"Classmate {n}") for n in range(5)]
    for user in others:
        EnrollmentFactory(course=course, user=user)
    for user in [instructor, student, *others]:
        go_online(user)
    services.presence_update(user=others[0], status="away", activity="Reading ch. 3")
    return others
