"""Office hours: weekly slots, the per-instructor queue state and queue entries."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Length
from django.db.models.lookups import GreaterThanOrEqual, LessThanOrEqual


class OfficeHours(models.Model):
    """A weekly slot. `day_of_week` counts like JavaScript's Date.getDay(): 0 = Sunday ...
    6 = Saturday (Python's weekday() starts on Monday; see officehours.schedule)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    instructor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="office_hours")
    # Who holds the slot: the instructor, or a TA of one of their courses. The queue is
    # the instructor's either way; it is open while any staff member's slot is live.
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="office_hours_held", null=True, blank=True
    )
    day_of_week = models.PositiveSmallIntegerField(help_text="0 = Sunday ... 6 = Saturday")
    start_time = models.TimeField()
    end_time = models.TimeField()
    timezone = models.CharField(max_length=64, default="UTC", help_text="IANA time zone the times are in")
    location = models.CharField(max_length=200, blank=True, default="")
    meeting_url = models.URLField(max_length=500, blank=True, default="")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "office hours slot"
        verbose_name_plural = "office hours slots"
        ordering = ["day_of_week", "start_time", "id"]
        indexes = [models.Index(fields=["instructor", "day_of_week", "is_active"], name="officehours_slot_instr_day")]
        constraints = [
            models.CheckConstraint(condition=Q(day_of_week__lte=6), name="officehours_slot_day_range"),
            models.CheckConstraint(condition=Q(end_time__gt=F("start_time")), name="officehours_slot_end_after_start"),
        ]

    def __str__(self) -> str:
        return f"{self.instructor_id} day {self.day_of_week} {self.start_time}-{self.end_time} {self.timezone}"


class OfficeHoursQueueState(models.Model):
    """One row per instructor; every queue change locks it (select_for_update), which
    serialises joins and "admit next" per instructor and makes open/close transactional.

    - `manually_opened`: the instructor opened the queue by hand; it stays open (also
      past the end of a slot) until closed by hand.
    - `manually_closed_at`: the instructor closed it by hand at this moment; a slot only
      opens the queue again if its occurrence starts after this (the *next* slot).
    - `is_open`: what was last announced (office-hours-opened/closed); the tick compares
      the computed state with it, which makes the tick idempotent.
    """

    instructor = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="office_hours_queue_state"
    )
    manually_opened = models.BooleanField(default=False)
    manually_closed_at = models.DateTimeField(null=True, blank=True)
    is_open = models.BooleanField(default=False)
    changed_at = models.DateTimeField(null=True, blank=True)
    # Fairness rules the instructor sets with the schedule (null: no rule).
    rejoin_cooldown_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Minutes after a completed entry before the student may join again"
    )
    daily_question_cap = models.PositiveIntegerField(
        null=True, blank=True, help_text="Questions (entries that reached staff) per student per day"
    )

    class Meta:
        verbose_name = "office hours queue state"
        indexes = [models.Index(fields=["is_open"], name="officehours_state_open")]

    def __str__(self) -> str:
        return f"queue of {self.instructor_id}: {'open' if self.is_open else 'closed'}"


class EntryStatus(models.TextChoices):
    WAITING = "waiting", "Waiting"
    ADMITTED = "admitted", "Admitted"
    COMPLETED = "completed", "Completed"
    LEFT = "left", "Left"
    REMOVED = "removed", "Removed"


OPEN_STATUSES = (EntryStatus.WAITING, EntryStatus.ADMITTED)


class OfficeHoursQueue(models.Model):
    """One student's place in an instructor's queue (a queue entry). Entries are kept
    after they end: they are the history the estimated wait is computed from.
    PROTECT: staff decide what happens to queue records before a user is deleted."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    instructor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="office_hours_queue_entries"
    )
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="office_hours_queue_joins"
    )
    status = models.CharField(max_length=16, choices=EntryStatus.choices, default=EntryStatus.WAITING)
    question = models.TextField(max_length=1000)
    # Requeue keeps this: the place in line is the original join time.
    joined_queue_at = models.DateTimeField()
    admitted_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True, help_text="When the entry left or was removed")
    removed_reason = models.CharField(max_length=200, blank=True, default="")
    # The staff member (instructor or TA) who admitted / completed the entry.
    admitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = "office hours queue entry"
        verbose_name_plural = "office hours queue entries"
        ordering = ["joined_queue_at", "id"]
        indexes = [
            models.Index(fields=["instructor", "status", "joined_queue_at"], name="officehours_q_instr_status"),
            models.Index(fields=["student", "status"], name="officehours_q_student_status"),
            models.Index(fields=["instructor", "-completed_at"], name="officehours_q_instr_completed"),
            # Insight (officehours.stats) reads a term of one queue by join time.
            models.Index(
                fields=["instructor", "joined_queue_at"],
                name="officehours_q_instr_joined",
                include=["status", "admitted_at", "completed_at", "completed_by", "student"],
            ),
        ]
        constraints = [
            # At most one open entry per student per instructor, whatever the race.
            models.UniqueConstraint(
                fields=["instructor", "student"],
                condition=Q(status__in=["waiting", "admitted"]),
                name="officehours_one_open_entry",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in EntryStatus]), name="officehours_q_status_valid"
            ),
            models.CheckConstraint(
                condition=GreaterThanOrEqual(Length("question"), 1), name="officehours_q_question_not_empty"
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("question"), 1000), name="officehours_q_question_max"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.student_id} in queue of {self.instructor_id} ({self.status})"


class QueueAnnouncement(models.Model):
    """A message from staff to everyone following an instructor's queue."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    instructor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="office_hours_announcements"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    message = models.TextField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "office hours announcement"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["instructor", "-created_at"], name="officehours_ann_instr_created")]

    def __str__(self) -> str:
        return f"{self.instructor_id}: {self.message[:40]}"
