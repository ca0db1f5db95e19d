"""Keyset cursors over (time, id): with timestamps forced equal, paging sees every item once."""

import uuid

import pytest
from django.test import RequestFactory
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collab.core.params import Cursor, cursor_param, keyset_page
from liveSessions.models import SessionMessage
from tests.factories import UserFactory
from tests.liveSessions.factories import LiveSessionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def chat(db):
    return LiveSessionFactory(), UserFactory()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    groups=st.lists(st.integers(min_value=1, max_value=6), min_size=1, max_size=8),
    limit=st.integers(min_value=1, max_value=7),
)
def test_pages_with_equal_timestamps_return_everything_exactly_once(chat, groups, limit):
    session, author = chat
    SessionMessage.objects.filter(session=session).delete()
    base = timezone.now()
    expected = []
    for step, size in enumerate(groups):  # `size` messages share each instant
        at = base - timezone.timedelta(seconds=step)
        for _ in range(size):
            expected.append(SessionMessage.objects.create(session=session, author=author, body="m", sent_at=at).id)
    seen, cursor = [], None
    for _ in range(len(expected) + 1):
        page, next_cursor = keyset_page(
            SessionMessage.objects.filter(session=session),
            time_field="sent_at",
            cursor=None if cursor is None else _decode(cursor),
            limit=limit,
        )
        assert len(page) <= limit
        seen += [m.id for m in page]
        if next_cursor is None:
            break
        cursor = next_cursor
    assert len(seen) == len(expected) and set(seen) == set(expected)
    times = [SessionMessage.objects.get(id=i).sent_at for i in seen]
    assert times == sorted(times, reverse=True)


def _decode(text: str) -> Cursor:
    return cursor_param(RequestFactory().get("/", {"cursor": text}))


def test_a_cursor_is_opaque_and_round_trips():
    cursor = Cursor(timezone.now(), uuid.uuid4())
    text = cursor.encode()
    assert str(cursor.id) not in text and "=" not in text
    assert _decode(text) == cursor
