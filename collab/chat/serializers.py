from rest_framework import serializers

from collab.core.fields import StrictCharField, StrictUUIDField


class ChatMessageSerializer(serializers.Serializer):
    """One message as REST history returns it and as `*-new-message` carries it: each
    app's subclass adds the id of what the message belongs to (sessionId, groupId)."""

    id = StrictUUIDField()
    user_id = StrictUUIDField(source="author_id", allow_null=True)
    name = StrictCharField(source="author_name")
    message = StrictCharField(source="body")
    sent_at = serializers.DateTimeField()


class ChatHistorySerializer(serializers.Serializer):
    """A page of chat history, newest first."""

    # Each app's subclass sets `messages` to its own message serializer.
    messages = ChatMessageSerializer(many=True)
    next_cursor = StrictCharField(
        allow_null=True, help_text="Pass as ?cursor= to get the next older page; null on the last page."
    )


def history_response(history_serializer: type[ChatHistorySerializer], messages: list, *, next_cursor: str | None):
    return history_serializer({"messages": messages, "next_cursor": next_cursor}).data
