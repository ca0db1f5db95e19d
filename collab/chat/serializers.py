from rest_framework import serializers


class ChatMessageSerializer(serializers.Serializer):
    """One message as REST history returns it and as `*-new-message` carries it: each
    app's subclass adds the id of what the message belongs to (sessionId, groupId)."""

    id = serializers.UUIDField()
    user_id = serializers.UUIDField(source="author_id", allow_null=True)
    name = serializers.CharField(source="author_name")
    message = serializers.CharField(source="body")
    sent_at = serializers.DateTimeField()


class ChatHistorySerializer(serializers.Serializer):
    """A page of history; each app's subclass sets `messages` to its message serializer."""

    messages = ChatMessageSerializer(many=True)
    next_cursor = serializers.CharField(
        allow_null=True, help_text="Pass as ?cursor= to get the next older page; null on the last page."
    )


def history_response(history_serializer: type[ChatHistorySerializer], messages: list, *, next_cursor: str | None):
    return history_serializer({"messages": messages, "next_cursor": next_cursor}).data
