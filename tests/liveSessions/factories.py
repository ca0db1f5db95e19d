"""Live-session test data. Sessions are built straight in the database (no broadcasts);
tests that exercise creation go through the service or the API."""

from __future__ import annotations

from datetime import timedelta

import factory
from django.utils import timezone

from liveSessions.models import LiveSession, SessionStatus
from tests.factories import CourseFactory


class LiveSessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LiveSession

    course = factory.SubFactory(CourseFactory)
    instructor = factory.LazyAttribute(lambda o: o.course.instructor if o.course else None)
    title = factory.Sequence(lambda n: f"Session {n}")
    description = "Live class."
    scheduled_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=1))
    duration = 60
    capacity = None
    status = SessionStatus.SCHEDULED
    planned_end_at = factory.LazyAttribute(lambda o: o.scheduled_at + timedelta(minutes=o.duration))


def live_session(course=None, *, instructor=None, status=SessionStatus.SCHEDULED, **fields) -> LiveSession:
    """A session in any status with consistent timestamps."""
    now = timezone.now()
    if status in (SessionStatus.LIVE, SessionStatus.ENDED):
        fields.setdefault("scheduled_at", now - timedelta(minutes=5))
        fields.setdefault("started_at", now - timedelta(minutes=5))
    if status == SessionStatus.ENDED:
        fields.setdefault("ended_at", now - timedelta(minutes=1))
    if status == SessionStatus.CANCELLED:
        fields.setdefault("cancelled_at", now)
    kwargs = {"course": course, "status": status, **fields}
    if instructor is not None:
        kwargs["instructor"] = instructor
    return LiveSessionFactory(**kwargs)
