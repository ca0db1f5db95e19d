"""REST: the lists of live sessions (a course's upcoming ones, an instructor's own by
status), their query counts, and a session's attendees."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from liveSessions import services
from tests.factories import CourseFactory, EnrollmentFactory, UserFactory
from tests.liveSessions.conftest import BASE, S
from tests.liveSessions.factories import live_session

pytestmark = pytest.mark.django_db


# -- lists -------------------------------------------------------------------------------


def test_course_list_is_upcoming_soonest_first(api, course, student, make_session):
    now = timezone.now()
    later = make_session(scheduled_at=now + timedelta(days=2))
    sooner = make_session(scheduled_at=now + timedelta(hours=2))
    running = make_session(S.LIVE)
    make_session(S.ENDED)
    make_session(S.CANCELLED)
    live_session(CourseFactory(), status=S.SCHEDULED)  # another course
    data = api(student).get(f"{BASE}/course/{course.id}").json()
    assert [item["id"] for item in data] == [str(running.id), str(sooner.id), str(later.id)]


def test_my_sessions_filters_by_status(api, instructor, make_session):
    scheduled = make_session()
    ended = make_session(S.ENDED)
    everything = api(instructor).get(f"{BASE}/instructor/my-sessions").json()
    assert {item["id"] for item in everything} == {str(scheduled.id), str(ended.id)}
    only_ended = api(instructor).get(f"{BASE}/instructor/my-sessions?status=ended").json()
    assert [item["id"] for item in only_ended] == [str(ended.id)]
    assert api(instructor).get(f"{BASE}/instructor/my-sessions?status=bogus").status_code == 400
    assert api(instructor).get(f"{BASE}/instructor/my-sessions?limit=0").status_code == 400
    # issue 15 (negative_data_rejection): `?status=` was read as absent (every session).
    for query in ["status=", "limit=", "status=ENDED"]:
        response = api(instructor).get(f"{BASE}/instructor/my-sessions?{query}")
        assert response.status_code == 400, query
        assert list(response.json()["error"]["fields"]) == [query.split("=")[0]]
    assert len(api(instructor).get(f"{BASE}/instructor/my-sessions?limit=1").json()) == 1


def test_lists_do_not_grow_queries_with_rows(api, instructor, course, make_session, django_assert_max_num_queries):
    for _ in range(12):
        session = make_session(S.LIVE)
        for _ in range(2):
            user = UserFactory()
            EnrollmentFactory(course=course, user=user)
            services.attendance_join(actor=user, session_id=session.id)
    client = api(instructor)
    with django_assert_max_num_queries(4):
        assert len(client.get(f"{BASE}/course/{course.id}").json()) == 12
    with django_assert_max_num_queries(3):
        data = client.get(f"{BASE}/instructor/my-sessions").json()
    assert {item["activeAttendees"] for item in data} == {2}


def test_attendees_show_who_is_present_first(api, live, course, instructor, student, django_assert_max_num_queries):
    gone = UserFactory(name="Aaron Gone")
    EnrollmentFactory(course=course, user=gone)
    services.attendance_join(actor=gone, session_id=live.id)
    services.attendance_leave(actor=gone, session_id=live.id)
    services.attendance_join(actor=student, session_id=live.id)
    services.attendance_join(actor=instructor, session_id=live.id)
    with django_assert_max_num_queries(5):
        data = api(student).get(f"{BASE}/{live.id}/attendees").json()
    assert data["activeAttendees"] == 1
    names = [(a["name"], a["present"], a["isHost"]) for a in data["attendees"]]
    assert names[-1] == ("Aaron Gone", False, False)
    assert (instructor.name, True, True) in names and (student.name, True, False) in names
    assert all("email" not in a for a in data["attendees"])
