"""Presence shapes on the wire (camelCase by the renderer/parser)."""

from __future__ import annotations

from rest_framework import serializers

from collab.core.bodies import BodySerializer
from collab.core.fields import (
    StrictBooleanField,
    StrictCharField,
    StrictChoiceField,
    StrictIntegerField,
    StrictUUIDField,
)
from collab.core.text import TextField
from presence.models import ACTIVITY_MAX_LENGTH, Status

BULK_MAX_IDS = 500
LIST_MAX_LIMIT = 500


class PresenceItemSerializer(serializers.Serializer):
    """One user's presence as the viewer sees it. `connected` only in one's own item."""

    user_id = StrictUUIDField()
    name = StrictCharField()
    status = StrictChoiceField(choices=Status.choices)
    activity = StrictCharField(allow_blank=True)
    last_seen_at = serializers.DateTimeField(allow_null=True)
    connected = StrictBooleanField(
        required=False, help_text="Only in your own item: whether any of your clients holds a live lease."
    )

    def to_representation(self, instance):
        data = super().to_representation(instance)
        connected = instance.get("connected") if isinstance(instance, dict) else instance.connected
        if connected is None:
            data.pop("connected", None)
        return data


class OnlineListSerializer(serializers.Serializer):
    users = PresenceItemSerializer(many=True)
    count = StrictIntegerField(help_text="All visible online users, not only those returned.")


class CoursePresenceItemSerializer(PresenceItemSerializer):
    staff = StrictBooleanField(help_text="Staff of this course: its instructor or a TA")


class CourseOnlineSerializer(OnlineListSerializer):
    course_id = StrictUUIDField()
    users = CoursePresenceItemSerializer(many=True)


class BulkRequestSerializer(BodySerializer):
    user_ids = serializers.ListField(child=StrictUUIDField(), max_length=BULK_MAX_IDS, allow_empty=True)


class BulkResponseSerializer(serializers.Serializer):
    users = PresenceItemSerializer(many=True, help_text="Visible users only, in the order asked, without duplicates.")


class StatusUpdateSerializer(BodySerializer):
    status = StrictChoiceField(choices=Status.choices, help_text="offline = invisible")
    activity = TextField(max_length=ACTIVITY_MAX_LENGTH, allow_blank=True, required=False)


class ActivityUpdateSerializer(BodySerializer):
    activity = TextField(max_length=ACTIVITY_MAX_LENGTH, allow_blank=True)


class HeartbeatSerializer(BodySerializer):
    """Nothing to send: the heartbeat is the request itself."""


class HeartbeatResponseSerializer(PresenceItemSerializer):
    expires_in = StrictIntegerField(help_text="Seconds the lease lives without another heartbeat.")
