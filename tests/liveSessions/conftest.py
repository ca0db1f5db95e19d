from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from liveSessions.models import SessionStatus
from tests.liveSessions.factories import live_session

S = SessionStatus
BASE = "/api/live-sessions"


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


def _create_body(**extra):
    return {
        "title": "Week 2",
        "description": "Loops",
        "scheduledAt": (timezone.now() + timedelta(days=1)).isoformat(),
        "duration": 50,
        "capacity": 25,
        **extra,
    }
