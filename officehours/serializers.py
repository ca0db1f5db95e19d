"""Validate office-hours input and shape office-hours output (never decide)."""

from __future__ import annotations

from rest_framework import serializers

from collab.core.text import TextField
from officehours.models import EntryStatus, OfficeHours
from officehours.schedule import is_valid_timezone

ESTIMATE_HELP = (
    "Estimated wait in whole minutes = position x the mean service time (admittedAt -> completedAt) "
    "of the instructor's last 10 completed entries, or 10 minutes when there is no history; rounded up."
)


class OfficeHoursSerializer(serializers.ModelSerializer):
    instructor_id = serializers.UUIDField(read_only=True)

    class Meta:
        model = OfficeHours
        fields = [
            "id",
            "instructor_id",
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


class OfficeHoursWriteSerializer(serializers.Serializer):
    """Create (all required but location, meetingUrl, isActive, timezone) or PATCH (partial)."""

    day_of_week = serializers.IntegerField(min_value=0, max_value=6, help_text="0 = Sunday ... 6 = Saturday")
    start_time = serializers.TimeField(help_text="Wall-clock time in `timezone`, HH:MM[:SS]")
    end_time = serializers.TimeField(help_text="After startTime, same day")
    timezone = TextField(max_length=64, required=False, default="UTC", help_text="IANA name")
    location = TextField(max_length=200, required=False, allow_blank=True, default="")
    meeting_url = serializers.URLField(max_length=500, required=False, allow_blank=True, default="")
    is_active = serializers.BooleanField(required=False, default=True)

    def validate_timezone(self, value: str) -> str:
        if not is_valid_timezone(value):
            raise serializers.ValidationError("Unknown time zone; use an IANA name such as Europe/Berlin.")
        return value

    def validate(self, attrs):
        start, end = attrs.get("start_time"), attrs.get("end_time")
        if start is not None and end is not None and end <= start:
            raise serializers.ValidationError({"end_time": ["Must be after startTime."]})
        return attrs


class ScheduleSerializer(serializers.Serializer):
    instructor_id = serializers.UUIDField()
    is_open = serializers.BooleanField()
    slots = OfficeHoursSerializer(many=True)


class QueueStateSerializer(serializers.Serializer):
    instructor_id = serializers.UUIDField()
    is_open = serializers.BooleanField()
    manually_opened = serializers.BooleanField(help_text="Opened by hand: stays open until closed by hand")
    manually_closed_at = serializers.DateTimeField(
        allow_null=True, help_text="Closed by hand at: no slot reopens it before the next slot starts"
    )


class StudentSummarySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class InstructorQueueEntrySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    student = StudentSummarySerializer()
    status = serializers.ChoiceField(choices=EntryStatus.choices)
    question = serializers.CharField()
    position = serializers.IntegerField(allow_null=True, help_text="1-based place among waiting entries")
    estimated_wait_minutes = serializers.IntegerField(allow_null=True, help_text=ESTIMATE_HELP)
    joined_queue_at = serializers.DateTimeField()
    admitted_at = serializers.DateTimeField(allow_null=True)
    waiting_minutes = serializers.IntegerField(help_text="Whole minutes since joinedQueueAt")


class InstructorQueueSerializer(serializers.Serializer):
    instructor_id = serializers.UUIDField()
    viewer = serializers.CharField(help_text="instructor")
    is_open = serializers.BooleanField()
    queue_length = serializers.IntegerField(help_text="Waiting entries")
    admitted_count = serializers.IntegerField()
    mean_service_minutes = serializers.FloatField(help_text="Mean of the last 10 completed entries (default 10)")
    entries = InstructorQueueEntrySerializer(many=True, help_text="Admitted first, then waiting in order")


class OwnEntrySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=EntryStatus.choices)
    question = serializers.CharField()
    position = serializers.IntegerField(allow_null=True, help_text="null once admitted")
    estimated_wait_minutes = serializers.IntegerField(allow_null=True, help_text=ESTIMATE_HELP)
    joined_queue_at = serializers.DateTimeField()
    admitted_at = serializers.DateTimeField(allow_null=True)


class StudentQueueSerializer(serializers.Serializer):
    instructor_id = serializers.UUIDField()
    viewer = serializers.CharField(help_text="student")
    is_open = serializers.BooleanField()
    queue_length = serializers.IntegerField(help_text="Waiting entries (no names)")
    estimated_wait_minutes = serializers.IntegerField(
        help_text=ESTIMATE_HELP + " Yours while waiting, 0 when admitted, else what joining now would mean."
    )
    entry = OwnEntrySerializer(allow_null=True, help_text="Your open entry, if any")


class EntrySerializer(serializers.Serializer):
    """An entry as returned to the instructor after an action on it."""

    id = serializers.UUIDField()
    instructor_id = serializers.UUIDField()
    student = StudentSummarySerializer()
    status = serializers.ChoiceField(choices=EntryStatus.choices)
    question = serializers.CharField()
    joined_queue_at = serializers.DateTimeField()
    admitted_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True)
    removed_reason = serializers.CharField(allow_blank=True)


class LeftEntrySerializer(serializers.Serializer):
    """A student's own entry after leaving."""

    id = serializers.UUIDField()
    instructor_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=EntryStatus.choices)
    question = serializers.CharField()
    joined_queue_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)


class JoinSerializer(serializers.Serializer):
    question = TextField(max_length=1000)


class AdmitSerializer(serializers.Serializer):
    entry_id = serializers.UUIDField(required=False, allow_null=True, help_text="Omit to admit the next in line")


class RemoveSerializer(serializers.Serializer):
    reason = TextField(max_length=200)


class QueueRefSerializer(serializers.Serializer):
    """Socket frames join-/leave-office-hours-queue."""

    instructor_id = serializers.UUIDField()
