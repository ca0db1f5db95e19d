from rest_framework import serializers

from collab.accounts.models import Role, User
from collab.core.bodies import BodySerializer
from collab.core.fields import StrictCharField, StrictChoiceField, StrictIntegerField
from collab.core.text import TextField


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email", "name", "role", "created_at"]
        read_only_fields = fields


class UserSummarySerializer(serializers.ModelSerializer):
    """How a user appears to other users: no email."""

    class Meta:
        model = User
        fields = ["id", "name", "role"]
        read_only_fields = fields


class RegisterSerializer(BodySerializer):
    email = serializers.EmailField(max_length=254)
    password = StrictCharField(max_length=128, write_only=True, trim_whitespace=False)
    name = TextField(max_length=150)


class LoginSerializer(BodySerializer):
    email = serializers.EmailField(max_length=254)
    password = StrictCharField(max_length=128, write_only=True, trim_whitespace=False)


class RefreshSerializer(BodySerializer):
    refresh = StrictCharField(max_length=2048)


class TokenPairSerializer(serializers.Serializer):
    access = StrictCharField()
    refresh = StrictCharField()


class AuthResponseSerializer(TokenPairSerializer):
    user = UserSerializer()


class WsTicketSerializer(serializers.Serializer):
    ticket = StrictCharField()
    expires_in = StrictIntegerField(help_text="Seconds the ticket stays valid; it works once.")


class RoleField(StrictChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=Role.choices, **kwargs)
