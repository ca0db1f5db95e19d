from rest_framework import serializers


class ChatMessageSerializer(serializers.Serializer):
    """One message as REST returns it; matches the socket payload (chat_payload)."""

    id = serializers.UUIDField()
    user_id = serializers.UUIDField(source="author_id", allow_null=True)
    name = serializers.CharField(source="author_name")
    message = serializers.CharField(source="body")
    sent_at = serializers.DateTimeField()


class ChatHistorySerializer(serializers.Serializer):
    messages = ChatMessageSerializer(many=True)
    next_cursor = serializers.CharField(
        allow_null=True, help_text="Pass as ?cursor= to get the next older page; null on the last page."
    )


def history_response(messages: list, *, next_cursor: str | None) -> dict:
    return ChatHistorySerializer({"messages": messages, "next_cursor": next_cursor}).data
