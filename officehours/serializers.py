"""Validate office-hours input and shape office-hours output (never decide)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from collab.core.bodies import BodySerializer
from collab.core.fields import (
    StrictBooleanField,
    StrictCharField,
    StrictChoiceField,
    StrictFloatField,
    StrictIntegerField,
    StrictUUIDField,
    WallClockTimeField,
)
from collab.core.text import TextField
from officehours.models import EntryStatus, OfficeHours
from officehours.schedule import is_valid_timezone

ESTIMATE_HELP = (
    "Estimated wait in whole minutes = position x the mean service time (admittedAt -> completedAt) "
    "of the instructor's last 10 completed entries, or 10 minutes when there is no history; rounded up."
)


class UserRefSerializer(serializers.Serializer):
    id = StrictUUIDField()
    name = StrictCharField()


class OfficeHoursSerializer(serializers.ModelSerializer):
    instructor_id = StrictUUIDField(read_only=True)
    staff = serializers.SerializerMethodField(help_text="Who holds the slot: the instructor or one of their TAs")
    start_time = WallClockTimeField(read_only=True, help_text="Wall-clock time in `timezone`")
    end_time = WallClockTimeField(read_only=True, help_text="Wall-clock time in `timezone`, after startTime")
    # Declared: DRF builds a read-only model field without allow_blank, and the schema
    # would then refuse the "" of a slot without a link.
    meeting_url = serializers.URLField(read_only=True, allow_blank=True, help_text='"" when there is none')

    class Meta:
        model = OfficeHours
        fields = [
            "id",
            "instructor_id",
            "staff",
            "day_of_week",
            "start_time",
            "end_time",
            "timezone",
            "location",
            "meeting_url",
            "is_active",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(UserRefSerializer)
    def get_staff(self, slot: OfficeHours) -> dict:
        holder = slot.staff if slot.staff_id else slot.instructor
        return {"id": str(holder.id), "name": holder.name}


class OfficeHoursWriteSerializer(BodySerializer):
    """Create (all required but location, meetingUrl, isActive, timezone) or PATCH (partial)."""

    day_of_week = StrictIntegerField(min_value=0, max_value=6, help_text="0 = Sunday ... 6 = Saturday")
    start_time = WallClockTimeField(help_text="Wall-clock time in `timezone`, HH:MM[:SS]")
    end_time = WallClockTimeField(help_text="After startTime, same day")
    timezone = TextField(max_length=64, required=False, default="UTC", help_text="IANA name")
    location = TextField(max_length=200, required=False, allow_blank=True, default="")
    meeting_url = serializers.URLField(max_length=500, required=False, allow_blank=True, default="")
    is_active = StrictBooleanField(required=False, default=True)

    def validate_timezone(self, value: str) -> str:
        if not is_valid_timezone(value):
            raise serializers.ValidationError("Unknown time zone; use an IANA name such as Europe/Berlin.")
        return value

    def validate(self, attrs):
        start, end = attrs.get("start_time"), attrs.get("end_time")
        if start is not None and end is not None and end <= start:
            raise serializers.ValidationError({"end_time": ["Must be after startTime."]})
        return attrs


class OfficeHoursCreateSerializer(OfficeHoursWriteSerializer):
    instructor_id = StrictUUIDField(
        required=False,
        allow_null=True,
        help_text="Whose schedule (default: yours). A TA adds their own slot to their instructor's schedule.",
    )


class ScheduleSerializer(serializers.Serializer):
    instructor_id = StrictUUIDField()
    is_open = StrictBooleanField()
    slots = OfficeHoursSerializer(many=True)
    rejoin_cooldown_minutes = StrictIntegerField(
        allow_null=True, help_text="Minutes after a completed entry before the same student may join again"
    )
    daily_question_cap = StrictIntegerField(
        allow_null=True, help_text="Questions (entries admitted) per student per day, in the queue's time zone"
    )


class QueueRulesSerializer(BodySerializer):
    """PATCH the schedule's fairness rules (null removes a rule)."""

    rejoin_cooldown_minutes = StrictIntegerField(min_value=1, max_value=7 * 24 * 60, allow_null=True)
    daily_question_cap = StrictIntegerField(min_value=1, max_value=100, allow_null=True)


class AnnouncementSerializer(serializers.Serializer):
    id = StrictUUIDField()
    instructor_id = StrictUUIDField()
    message = StrictCharField()
    author = serializers.SerializerMethodField(help_text="The staff member who posted it (null: account deleted)")
    created_at = serializers.DateTimeField()

    @extend_schema_field(UserRefSerializer(allow_null=True))
    def get_author(self, announcement) -> dict | None:
        return _user_ref(announcement.author) if announcement.author_id else None


class AnnouncementWriteSerializer(BodySerializer):
    message = TextField(max_length=500)


class QueueStateSerializer(serializers.Serializer):
    instructor_id = StrictUUIDField()
    is_open = StrictBooleanField()
    manually_opened = StrictBooleanField(help_text="Opened by hand: stays open until closed by hand")
    manually_closed_at = serializers.DateTimeField(
        allow_null=True, help_text="Closed by hand at: no slot reopens it before the next slot starts"
    )


class StudentSummarySerializer(serializers.Serializer):
    id = StrictUUIDField()
    name = StrictCharField()


STAFF_HELP = (
    "The course staff who serve this queue for you: the instructor first, then the TAs (of your courses), "
    "by name. Who of them is online comes from presence: the course's presence list marks staff, and "
    "presence-changed frames in your course rooms follow them."
)


class QueueStaffSerializer(serializers.Serializer):
    id = StrictUUIDField()
    name = StrictCharField()
    role = StrictCharField(help_text="instructor or ta")


class InstructorQueueEntrySerializer(serializers.Serializer):
    id = StrictUUIDField()
    student = StudentSummarySerializer()
    status = StrictChoiceField(choices=EntryStatus.choices)
    question = StrictCharField()
    position = StrictIntegerField(allow_null=True, help_text="1-based place among waiting entries")
    estimated_wait_minutes = StrictIntegerField(allow_null=True, help_text=ESTIMATE_HELP)
    joined_queue_at = serializers.DateTimeField()
    admitted_at = serializers.DateTimeField(allow_null=True)
    admitted_by = UserRefSerializer(allow_null=True, help_text="The staff member serving the student")
    waiting_minutes = StrictIntegerField(help_text="Whole minutes since joinedQueueAt")


class InstructorQueueSerializer(serializers.Serializer):
    instructor_id = StrictUUIDField()
    viewer = StrictChoiceField(
        choices=["instructor"], help_text="instructor (the staff view: the instructor, admins and TAs)"
    )
    is_open = StrictBooleanField()
    queue_length = StrictIntegerField(help_text="Waiting entries in this view (a TA: their courses' students)")
    admitted_count = StrictIntegerField()
    mean_service_minutes = StrictFloatField(help_text="Mean of the last 10 completed entries (default 10)")
    entries = InstructorQueueEntrySerializer(many=True, help_text="Admitted first, then waiting in order")
    staff = QueueStaffSerializer(many=True, help_text=STAFF_HELP)


class OwnEntrySerializer(serializers.Serializer):
    id = StrictUUIDField()
    status = StrictChoiceField(choices=EntryStatus.choices)
    question = StrictCharField()
    position = StrictIntegerField(allow_null=True, help_text="null once admitted")
    estimated_wait_minutes = StrictIntegerField(allow_null=True, help_text=ESTIMATE_HELP)
    joined_queue_at = serializers.DateTimeField()
    admitted_at = serializers.DateTimeField(allow_null=True)
    admitted_by = UserRefSerializer(allow_null=True, required=False, help_text="Who is coming, once admitted")


class StudentQueueSerializer(serializers.Serializer):
    instructor_id = StrictUUIDField()
    viewer = StrictChoiceField(choices=["student"], help_text="student")
    is_open = StrictBooleanField()
    queue_length = StrictIntegerField(help_text="Waiting entries (no names)")
    estimated_wait_minutes = StrictIntegerField(
        help_text=ESTIMATE_HELP + " Yours while waiting, 0 when admitted, else what joining now would mean."
    )
    entry = OwnEntrySerializer(allow_null=True, help_text="Your open entry, if any")
    announcements = AnnouncementSerializer(many=True, help_text="The latest staff announcements, newest first")
    staff = QueueStaffSerializer(many=True, help_text=STAFF_HELP)


class EntrySerializer(serializers.Serializer):
    """An entry as returned to the instructor after an action on it."""

    id = StrictUUIDField()
    instructor_id = StrictUUIDField()
    student = StudentSummarySerializer()
    status = StrictChoiceField(choices=EntryStatus.choices)
    question = StrictCharField()
    joined_queue_at = serializers.DateTimeField()
    admitted_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True)
    removed_reason = StrictCharField(allow_blank=True)
    admitted_by = serializers.SerializerMethodField(help_text="Who admitted the student (instructor or TA)")
    completed_by = serializers.SerializerMethodField(help_text="Who completed the meeting")

    @extend_schema_field(UserRefSerializer(allow_null=True))
    def get_admitted_by(self, entry) -> dict | None:
        return _user_ref(entry.admitted_by) if entry.admitted_by_id else None

    @extend_schema_field(UserRefSerializer(allow_null=True))
    def get_completed_by(self, entry) -> dict | None:
        return _user_ref(entry.completed_by) if entry.completed_by_id else None


def _user_ref(user) -> dict:
    return {"id": str(user.id), "name": user.name}


class LeftEntrySerializer(serializers.Serializer):
    """A student's own entry after leaving."""

    id = StrictUUIDField()
    instructor_id = StrictUUIDField()
    status = StrictChoiceField(choices=EntryStatus.choices)
    question = StrictCharField()
    joined_queue_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)


class JoinSerializer(BodySerializer):
    question = TextField(max_length=1000)


class AdmitSerializer(BodySerializer):
    entry_id = StrictUUIDField(required=False, allow_null=True, help_text="Omit to admit the next in line")


class RemoveSerializer(BodySerializer):
    reason = TextField(max_length=200)


class QueueRefSerializer(BodySerializer):
    """Socket frames join-/leave-office-hours-queue."""

    instructor_id = StrictUUIDField()


class StatsBucketSerializer(serializers.Serializer):
    joined = StrictIntegerField(help_text="Entries that joined the queue")
    served = StrictIntegerField(help_text="Of those, admitted by staff")
    left_or_removed = StrictIntegerField(help_text="Left or removed before being admitted")
    median_wait_minutes = StrictFloatField(allow_null=True, help_text="joinedQueueAt -> admittedAt, median")
    p90_wait_minutes = StrictFloatField(allow_null=True, help_text="joinedQueueAt -> admittedAt, 90th pct.")
    median_service_minutes = StrictFloatField(
        allow_null=True, help_text="admittedAt -> completedAt (time with staff), median"
    )


class StatsDaySerializer(StatsBucketSerializer):
    date = serializers.DateField()


class StatsHourSerializer(StatsBucketSerializer):
    day_of_week = StrictIntegerField(help_text="0 = Sunday ... 6 = Saturday")
    hour = StrictIntegerField(help_text="0..23")


class StatsStaffSerializer(serializers.Serializer):
    staff = UserRefSerializer()
    completed = StrictIntegerField()
    median_service_minutes = StrictFloatField(allow_null=True)


class QueueStatsSerializer(serializers.Serializer):
    instructor_id = StrictUUIDField()
    # "from" is a Python keyword: declared below under its wire name.
    to = serializers.DateField()
    timezone = StrictCharField()
    totals = StatsBucketSerializer()
    by_day = StatsDaySerializer(many=True)
    by_hour = StatsHourSerializer(many=True, help_text="Per hour of the week the students joined in")
    busiest_hours = StatsHourSerializer(many=True, help_text="The 5 hours with the most joins")
    by_staff = StatsStaffSerializer(many=True, help_text="By who completed the entries")


QueueStatsSerializer._declared_fields["from"] = serializers.DateField()
