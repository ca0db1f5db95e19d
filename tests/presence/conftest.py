import pytest

import tests.conftest as root_conftest


@pytest.fixture(autouse=True)
def _hear_presence_frames(monkeypatch):
    """Presence tests are about presence frames: their sockets hear every frame."""
    monkeypatch.setattr(root_conftest, "IGNORED_BY_DEFAULT", frozenset())


@pytest.fixture
def uncoalesced(settings):
    """Each change is broadcast at once; the coalescing fan-out is tested in test_fanout.py."""
    settings.PRESENCE_BROADCAST_WINDOW = 0
