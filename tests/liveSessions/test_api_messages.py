"""REST: a live session's chat history (newest first, cursor paging, messages sharing a
timestamp seen exactly once, out-of-range query params refused) and the host deleting a
message."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liveSessions import services
from liveSessions.models import SessionMessage
from tests.liveSessions.conftest import BASE, S
from tests.liveSessions.factories import live_session

pytestmark = pytest.mark.django_db


def test_messages_history_newest_first_with_cursor(api, live, student):
    sent = [services.session_message_send(actor=student, session_id=live.id, message=f"m{i}") for i in range(5)]
    page = api(student).get(f"{BASE}/{live.id}/messages?limit=2").json()
    assert [m["message"] for m in page["messages"]] == ["m4", "m3"]
    assert page["messages"][0]["userId"] == str(student.id)
    cursor = page["nextCursor"]
    older = api(student).get(f"{BASE}/{live.id}/messages", {"limit": 2, "cursor": cursor}).json()
    assert [m["message"] for m in older["messages"]] == ["m2", "m1"]
    last = api(student).get(f"{BASE}/{live.id}/messages", {"limit": 2, "cursor": older["nextCursor"]}).json()
    assert [m["message"] for m in last["messages"]] == ["m0"] and last["nextCursor"] is None
    assert api(student).get(f"{BASE}/{live.id}/messages?limit=1000").status_code == 400
    assert api(student).get(f"{BASE}/{live.id}/messages?before=yesterday").status_code == 400
    assert len(sent) == 5


def test_the_host_deletes_a_chat_message_and_the_room_sees_it(
    api, live, instructor, student, other_student, admin_user, django_capture_on_commit_callbacks
):
    from collab.realtime.testing import capture_broadcasts
    from liveSessions.models import SessionMessage

    message = services.session_message_send(actor=student, session_id=live.id, message="rude")
    path = f"{BASE}/{live.id}/messages/{message.id}"
    # Refusals first: nothing changes and nothing is broadcast.
    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        assert api(None).delete(path).status_code == 401
        refused = api(student).delete(path)
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "not_session_owner")
        outsider = api(other_student).delete(path)
        assert (outsider.status_code, outsider.json()["error"]["code"]) == (404, "session_not_found")
        missing = api(instructor).delete(f"{BASE}/{live.id}/messages/{uuid.uuid4()}")
        assert (missing.status_code, missing.json()["error"]["code"]) == (404, "message_not_found")
        elsewhere = live_session(live.course, status=S.LIVE)
        wrong_session = api(instructor).delete(f"{BASE}/{elsewhere.id}/messages/{message.id}")
        assert wrong_session.json()["error"]["code"] == "message_not_found"
    assert sent == []
    assert SessionMessage.objects.get(id=message.id).deleted_at is None

    with capture_broadcasts() as sent, django_capture_on_commit_callbacks(execute=True):
        assert api(instructor).delete(path).status_code == 204
    assert [(b.event, b.room) for b in sent] == [("session-message-deleted", f"session-{live.id}")]
    assert api(student).get(f"{BASE}/{live.id}/messages").json()["messages"] == []
    again = api(admin_user).delete(path)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "message_already_deleted")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ties=st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=12), limit=st.integers(1, 8))
def test_history_pages_through_messages_sharing_a_timestamp_exactly_once(api, live, student, ties, limit):
    """issue 15: 200 messages, four sharing a timestamp, paged by 7 with before= returned 198."""
    SessionMessage.objects.filter(session=live).delete()
    now = timezone.now()
    made = [
        SessionMessage.objects.create(session=live, author=student, body="m", sent_at=now - timedelta(seconds=i)).id
        for i, count in enumerate(ties)
        for _ in range(count)
    ]
    client, seen, query = api(student), [], {"limit": limit}
    for _ in range(len(made) + 1):
        page = client.get(f"{BASE}/{live.id}/messages", query).json()
        seen += [m["id"] for m in page["messages"]]
        if page["nextCursor"] is None:
            break
        query = {"limit": limit, "cursor": page["nextCursor"]}
    assert sorted(seen) == sorted(str(i) for i in made) and len(seen) == len(set(seen))


@pytest.mark.parametrize(
    "query",
    [
        "before=2020-01-01T00:00:00%2B16:00",  # issue 15: PostgreSQL refuses the offset (was a 500)
        "before=2020-01-01T00:00:00-15:00",
        "before=9999-12-31T23:59:59-14:00",
        "before=0001-01-01T00:00:00%2B14:00",
        "before=2020-13-01T00:00:00Z",
        "before=2020-01-01T00:00:00",
        "cursor=not-a-cursor",
        "cursor=WyJ4IiwieSJd",
        # issue 15 (negative_data_rejection): an empty value was read as absent.
        "before=",
        "cursor=",
        "limit=",
    ],
)
def test_messages_refuse_out_of_range_query_params_before_the_database(api, live, student, query):
    response = api(student).get(f"{BASE}/{live.id}/messages?{query}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and list(error["fields"]) == [query.split("=")[0]]
