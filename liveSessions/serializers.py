from datetime import timedelta

from django.core.validators import URLValidator
from django.utils import timezone
from rest_framework import serializers

from collab.accounts.serializers import UserSummarySerializer
from collab.chat.models import MESSAGE_MAX_LENGTH
from collab.chat.serializers import ChatHistorySerializer, ChatMessageSerializer
from collab.core.bodies import BodySerializer
from collab.core.fields import (
    BoundedDateTimeField,
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
    StrictUUIDField,
)
from collab.core.text import TextField
from liveSessions.models import CAPACITY_MAX, DURATION_MAX_MINUTES, LiveSession

# A class is planned weeks or months ahead; years ahead is a typo (and 9999 overflowed).
SCHEDULE_MAX_AHEAD_DAYS = 730
HTTP_URL = [URLValidator(schemes=["http", "https"])]
MATERIALS_MAX = 50


class HttpUrlField(serializers.URLField):
    """http or https only: a recording or material link opened by every student."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 500)
        super().__init__(**kwargs)
        self.validators = [v for v in self.validators if not isinstance(v, URLValidator)] + HTTP_URL


class MaterialSerializer(serializers.Serializer):
    title = TextField(max_length=200)
    url = HttpUrlField()


class LiveSessionCreateSerializer(BodySerializer):
    title = TextField(max_length=200)
    description = TextField(max_length=5000, allow_blank=True, required=False, default="")
    scheduled_at = BoundedDateTimeField(
        help_text=f"ISO 8601 with a time zone; in the future, at most {SCHEDULE_MAX_AHEAD_DAYS} days ahead."
    )
    duration = StrictIntegerField(min_value=1, max_value=DURATION_MAX_MINUTES, help_text="Minutes.")
    capacity = StrictIntegerField(
        min_value=1,
        max_value=CAPACITY_MAX,
        required=False,
        allow_null=True,
        default=None,
        help_text="Seats (the host takes none); null or absent: no limit.",
    )
    course_id = StrictUUIDField(required=False, allow_null=True, default=None, help_text="Absent: an open session.")
    materials = MaterialSerializer(many=True, required=False, default=list, max_length=MATERIALS_MAX)

    def validate_scheduled_at(self, value):
        now = timezone.now()
        if value <= now:
            raise serializers.ValidationError("Must be in the future.")
        if value > now + timedelta(days=SCHEDULE_MAX_AHEAD_DAYS):
            raise serializers.ValidationError(f"At most {SCHEDULE_MAX_AHEAD_DAYS} days ahead.")
        return value


class LiveSessionEndSerializer(BodySerializer):
    recording_url = HttpUrlField(required=False, allow_blank=True, default="")


class LiveSessionSerializer(serializers.ModelSerializer):
    instructor = UserSummarySerializer(read_only=True)
    course_id = StrictUUIDField(read_only=True, allow_null=True)
    materials = MaterialSerializer(many=True, read_only=True)
    recording_url = serializers.SerializerMethodField()
    active_attendees = StrictIntegerField(read_only=True, help_text="Attendees present now (the host excluded).")

    class Meta:
        model = LiveSession
        fields = [
            "id",
            "course_id",
            "instructor",
            "title",
            "description",
            "scheduled_at",
            "duration",
            "capacity",
            "status",
            "started_at",
            "ended_at",
            "cancelled_at",
            "planned_end_at",
            "recording_url",
            "materials",
            "active_attendees",
            "created_at",
        ]
        read_only_fields = fields

    def get_recording_url(self, obj) -> str | None:
        return obj.recording_url or None


class AttendanceStateSerializer(serializers.Serializer):
    """Answer to join and leave: your own attendance and the seats taken now."""

    session_id = StrictUUIDField()
    user_id = StrictUUIDField()
    present = StrictBooleanField()
    joined_at = serializers.DateTimeField(allow_null=True, help_text="Start of your current stay.")
    already_present = StrictBooleanField(help_text="true: you were already in; nothing changed.")
    active_attendees = StrictIntegerField()
    capacity = StrictIntegerField(allow_null=True)


class AttendeeSerializer(serializers.Serializer):
    user_id = StrictUUIDField(allow_null=True)
    name = StrictCharField()
    role = StrictCharField()
    is_host = StrictBooleanField()
    present = StrictBooleanField(help_text="In the session now.")
    present_since = serializers.DateTimeField(allow_null=True)
    first_joined_at = serializers.DateTimeField()
    last_left_at = serializers.DateTimeField(allow_null=True)


class AttendeesSerializer(serializers.Serializer):
    session_id = StrictUUIDField()
    active_attendees = StrictIntegerField()
    attendees = AttendeeSerializer(many=True)


class IntervalSerializer(serializers.Serializer):
    joined_at = serializers.DateTimeField()
    left_at = serializers.DateTimeField(allow_null=True)


class AttendanceRowSerializer(serializers.Serializer):
    user_id = StrictUUIDField(allow_null=True)
    name = StrictCharField()
    first_joined_at = serializers.DateTimeField()
    last_left_at = serializers.DateTimeField(allow_null=True)
    present = StrictBooleanField()
    joins = StrictIntegerField()
    attendance_seconds = StrictIntegerField(help_text="Time present while the session was live.")
    intervals = IntervalSerializer(many=True)


class AttendanceReportSerializer(serializers.Serializer):
    session_id = StrictUUIDField()
    title = StrictCharField()
    status = StrictCharField()
    started_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True)
    attendees = AttendanceRowSerializer(many=True)


class SessionSocketSerializer(BodySerializer):
    session_id = StrictUUIDField()


class SessionMessageSocketSerializer(BodySerializer):
    session_id = StrictUUIDField()
    message = TextField(max_length=MESSAGE_MAX_LENGTH)


class SessionMessageSerializer(ChatMessageSerializer):
    """A session chat message: REST history item and `session-new-message` payload."""

    session_id = StrictUUIDField()


class SessionChatHistorySerializer(ChatHistorySerializer):
    messages = SessionMessageSerializer(many=True)


class LiveSessionEventSerializer(LiveSessionSerializer):
    """The session inside lifecycle events: the REST shape minus activeAttendees (a
    count that needs a query and changes with every join)."""

    class Meta(LiveSessionSerializer.Meta):
        fields = [f for f in LiveSessionSerializer.Meta.fields if f != "active_attendees"]
        read_only_fields = fields
