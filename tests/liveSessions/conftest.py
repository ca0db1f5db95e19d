import pytest

from liveSessions.models import SessionStatus
from tests.liveSessions.factories import live_session


@pytest.fixture
def make_session(course):
    """`make_session(status=..., course=..., **fields)`: defaults to `course`."""

    def make(status=SessionStatus.SCHEDULED, **fields):
        fields.setdefault("course", course)
        return live_session(status=status, **fields)

    return make


@pytest.fixture
def session(make_session):
    return make_session()


@pytest.fixture
def live(make_session):
    return make_session(SessionStatus.LIVE)
