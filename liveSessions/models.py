"""Live class sessions, their attendance timeline and their chat.

Attendance keeps one `SessionAttendance` row per user per session (unique) and one
`AttendanceInterval` per join..leave pair, so the timeline survives rejoins. A user is
"present" while their row has `present_since` set, which is exactly when they have an
open interval (at most one: a partial unique constraint). Capacity is enforced under a
row lock on the `LiveSession` (services.attendance_join).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q

from collab.chat.models import ChatMessage


class SessionStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    LIVE = "live", "Live"
    ENDED = "ended", "Ended"
    CANCELLED = "cancelled", "Cancelled"


DURATION_MAX_MINUTES = 1440
CAPACITY_MAX = 10000


class LiveSession(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Empty course: an open session any signed-in user may see and join. PROTECT: the
    # attendance and chat of a course's sessions are history staff need.
    course = models.ForeignKey(
        "courses.Course", null=True, blank=True, on_delete=models.PROTECT, related_name="live_sessions"
    )
    instructor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="live_sessions")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=5000)
    scheduled_at = models.DateTimeField()
    duration = models.PositiveIntegerField(help_text="Planned length in minutes (1..1440).")
    capacity = models.PositiveIntegerField(null=True, blank=True, help_text="Seats for attendees; empty: no limit.")
    status = models.CharField(max_length=16, choices=SessionStatus.choices, default=SessionStatus.SCHEDULED)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # scheduled_at + duration, moved on start when the session starts late: auto-end
    # counts its grace from here, so a late start is not cut short.
    planned_end_at = models.DateTimeField()
    recording_url = models.URLField(max_length=500, blank=True)
    materials = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set once by the beat tasks (a conditional UPDATE), which makes them idempotent.
    reminder_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    ending_soon_sent_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["scheduled_at", "id"]
        indexes = [
            models.Index(fields=["course", "status", "scheduled_at"], name="live_sess_course_status_idx"),
            models.Index(fields=["instructor", "status", "scheduled_at"], name="live_sess_instr_status_idx"),
            models.Index(fields=["status", "scheduled_at"], name="live_sess_status_sched_idx"),
            models.Index(fields=["status", "planned_end_at"], name="live_sess_status_end_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(duration__gte=1, duration__lte=DURATION_MAX_MINUTES), name="live_sess_duration_range"
            ),
            models.CheckConstraint(
                condition=Q(capacity__isnull=True) | Q(capacity__gte=1, capacity__lte=CAPACITY_MAX),
                name="live_sess_capacity_range",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @staticmethod
    def planned_end(start: datetime, duration_minutes: int) -> datetime:
        return start + timedelta(minutes=duration_minutes)


def live_overlap(joined_at: datetime, left_at: datetime, session: LiveSession) -> timedelta:
    """The part of [joined_at, left_at] during which `session` was live (zero if it never
    started): the attendance arithmetic shared by the services that close intervals and
    the selectors that report open ones."""
    if session.started_at is None:
        return timedelta(0)
    start = max(joined_at, session.started_at)
    end = min(left_at, session.ended_at) if session.ended_at else left_at
    return max(end - start, timedelta(0))


class SessionAttendance(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    session = models.ForeignKey(LiveSession, on_delete=models.CASCADE, related_name="attendances")
    # SET_NULL: attendance is history staff need; a deleted user leaves it anonymised.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="live_session_attendances"
    )
    first_joined_at = models.DateTimeField()
    last_left_at = models.DateTimeField(null=True, blank=True)
    # Start of the open interval; null when the user is not present.
    present_since = models.DateTimeField(null=True, blank=True)
    # Time present while the session was live, summed over closed intervals only.
    attended = models.DurationField(default=timedelta)
    # The user's sockets inside `session-<id>`: the user stays present until the last
    # one leaves (two tabs). Kept under the session row lock.
    socket_channels = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["first_joined_at", "id"]
        constraints = [models.UniqueConstraint(fields=["session", "user"], name="live_attendance_session_user_unique")]
        indexes = [models.Index(fields=["session", "present_since"], name="live_attendance_present_idx")]

    def __str__(self) -> str:
        return f"{self.user} in {self.session}"

    @property
    def is_present(self) -> bool:
        return self.present_since is not None


class LeaveReason(models.TextChoices):
    LEFT = "left", "Left"
    DISCONNECTED = "disconnected", "Disconnected"
    SESSION_ENDED = "session_ended", "Session ended"
    SESSION_CANCELLED = "session_cancelled", "Session cancelled"
    UNENROLLED = "unenrolled", "Unenrolled from the course"
    # Its sockets died without a disconnect (server process killed) and the user's
    # presence leases lapsed: services.attendance_release_lapsed.
    CONNECTION_LOST = "connection_lost", "Connection lost"


class AttendanceInterval(models.Model):
    attendance = models.ForeignKey(SessionAttendance, on_delete=models.CASCADE, related_name="intervals")
    joined_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True, blank=True)
    left_reason = models.CharField(max_length=20, choices=LeaveReason.choices, blank=True)

    class Meta:
        ordering = ["joined_at", "id"]
        constraints = [
            # One open interval per attendance: joining twice never opens a second one.
            models.UniqueConstraint(
                fields=["attendance"], condition=Q(left_at__isnull=True), name="live_interval_one_open"
            )
        ]
        indexes = [models.Index(fields=["attendance", "joined_at"], name="live_interval_att_joined_idx")]

    def __str__(self) -> str:
        return f"{self.joined_at:%H:%M:%S}-{self.left_at:%H:%M:%S}" if self.left_at else f"{self.joined_at} (open)"


class SessionMessage(ChatMessage):
    session = models.ForeignKey(LiveSession, on_delete=models.CASCADE, related_name="messages")

    class Meta(ChatMessage.Meta):
        indexes = [models.Index(fields=["session", "sent_at"], name="live_message_session_sent_idx")]
