"""REST: a study group's message history: newest first, paged, deleted messages hidden,
bad queries refused, a bounded number of queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from studygroups.models import StudyGroupMessage
from tests.studygroups.conftest import BASE, add_member, enrolled_student, make_group

pytestmark = pytest.mark.django_db


def test_messages_history_is_newest_first_paged_and_hides_deleted(api, cast):
    now = timezone.now()
    for i in range(5):
        StudyGroupMessage.objects.create(
            group=cast.group, author=cast.member, body=f"m{i}", sent_at=now - timedelta(minutes=i)
        )
    StudyGroupMessage.objects.create(group=cast.group, author=cast.member, body="hidden", deleted_at=now, sent_at=now)
    other = make_group(cast.group.course, cast.member, name="Other")
    StudyGroupMessage.objects.create(group=other, author=cast.member, body="elsewhere")

    first = api(cast.group_admin).get(f"{BASE}/{cast.group.id}/messages?limit=3").json()
    assert [m["message"] for m in first["messages"]] == ["m0", "m1", "m2"]
    assert first["messages"][0]["userId"] == str(cast.member.id)
    assert first["messages"][0]["name"] == cast.member.name
    assert first["nextCursor"] is not None
    rest = (
        api(cast.group_admin)
        .get(f"{BASE}/{cast.group.id}/messages", {"limit": 3, "cursor": first["nextCursor"]})
        .json()
    )
    assert [m["message"] for m in rest["messages"]] == ["m3", "m4"]
    assert rest["nextCursor"] is None


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=101",
        "before=nope",
        "before=2020-01-01T00:00:00%2B16:00",
        "cursor=e30",
        # issue 15 (negative_data_rejection): an empty value was read as absent.
        "before=",
        "cursor=",
        "limit=",
    ],
)
def test_messages_refuses_bad_query(api, cast, query):
    response = api(cast.member).get(f"{BASE}/{cast.group.id}/messages?{query}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and list(error["fields"]) == [query.split("=")[0]]


def test_messages_has_no_n_plus_one(api, cast, django_assert_max_num_queries):
    for _ in range(3):
        author = enrolled_student(cast.group.course)
        add_member(cast.group, author)
        for i in range(5):
            StudyGroupMessage.objects.create(group=cast.group, author=author, body=f"hi {i}")
    client = api(cast.member)
    with django_assert_max_num_queries(3):
        response = client.get(f"{BASE}/{cast.group.id}/messages")
    assert len(response.json()["messages"]) == 15
