from rest_framework import serializers

from collab.chat.models import MESSAGE_MAX_LENGTH
from collab.chat.serializers import ChatHistorySerializer, ChatMessageSerializer
from collab.core.bodies import BodySerializer
from collab.core.fields import StrictBooleanField, StrictCharField, StrictIntegerField, StrictUUIDField
from collab.core.text import TextField
from studygroups.models import (
    DEFAULT_MAX_MEMBERS,
    DESCRIPTION_MAX_LENGTH,
    MAX_MEMBERS,
    MIN_MEMBERS,
    NAME_MAX_LENGTH,
    MemberRole,
    StudyGroup,
    StudyGroupMember,
)

# -- input ------------------------------------------------------------------------------


class StudyGroupCreateSerializer(BodySerializer):
    name = TextField(max_length=NAME_MAX_LENGTH)
    description = TextField(max_length=DESCRIPTION_MAX_LENGTH, allow_blank=True, required=False, default="")
    course_id = StrictUUIDField()
    max_members = StrictIntegerField(min_value=MIN_MEMBERS, max_value=MAX_MEMBERS, default=DEFAULT_MAX_MEMBERS)


class StudyGroupUpdateSerializer(BodySerializer):
    """Any of the fields; at least one."""

    name = TextField(max_length=NAME_MAX_LENGTH, required=False)
    description = TextField(max_length=DESCRIPTION_MAX_LENGTH, allow_blank=True, required=False)
    max_members = StrictIntegerField(min_value=MIN_MEMBERS, max_value=MAX_MEMBERS, required=False)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Give at least one of name, description, maxMembers.")
        return attrs


class GroupRefSerializer(BodySerializer):
    """A socket frame naming a group: {groupId}."""

    group_id = StrictUUIDField()


class GroupMessageInSerializer(GroupRefSerializer):
    """{groupId, message}: the message follows the text rule (collab.core.text)."""

    message = TextField(max_length=MESSAGE_MAX_LENGTH)


# -- output -----------------------------------------------------------------------------


class PersonSerializer(serializers.Serializer):
    id = StrictUUIDField()
    name = StrictCharField()


class StudyGroupSerializer(serializers.ModelSerializer):
    """A study group as the asking user sees it: its member count and the user's own membership."""

    # The counts and the asker's membership come annotated from selectors.with_stats.
    course_id = StrictUUIDField(read_only=True)
    created_by = PersonSerializer(read_only=True, allow_null=True)
    member_count = StrictIntegerField(read_only=True)
    is_member = StrictBooleanField(read_only=True)
    is_full = StrictBooleanField(read_only=True)
    my_role = serializers.ChoiceField(
        choices=MemberRole.choices,
        read_only=True,
        allow_null=True,
        help_text="admin or member if you are in the group, null otherwise.",
    )

    class Meta:
        model = StudyGroup
        fields = [
            "id",
            "course_id",
            "name",
            "description",
            "max_members",
            "member_count",
            "is_member",
            "is_full",
            "my_role",
            "is_active",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class StudyGroupEventSerializer(StudyGroupSerializer):
    """A group on the socket (`study-group-created`, `-updated`): the REST group without
    the fields that depend on who asks."""

    is_member = None
    my_role = None

    class Meta(StudyGroupSerializer.Meta):
        fields = [f for f in StudyGroupSerializer.Meta.fields if f not in ("is_member", "my_role")]
        read_only_fields = fields


class StudyGroupMemberSerializer(serializers.ModelSerializer):
    user_id = StrictUUIDField(read_only=True)
    name = StrictCharField(source="user.name", read_only=True)

    class Meta:
        model = StudyGroupMember
        fields = ["user_id", "name", "role", "joined_at"]
        read_only_fields = fields


class GroupMessageSerializer(ChatMessageSerializer):
    """A group chat message: REST history item and `study-group-new-message` payload."""

    group_id = StrictUUIDField()


class GroupChatHistorySerializer(ChatHistorySerializer):
    messages = GroupMessageSerializer(many=True)
