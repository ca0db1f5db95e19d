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
    next_before = serializers.DateTimeField(
        allow_null=True, help_text="Pass as ?before= to get the next older page; null when there is none."
    )


def history_response(messages: list, *, limit: int) -> dict:
    next_before = messages[-1].sent_at if len(messages) == limit and messages else None
    return ChatHistorySerializer({"messages": messages, "next_before": next_before}).data
