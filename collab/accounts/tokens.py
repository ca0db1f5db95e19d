"""Reading an access token outside DRF's authentication (socket handshakes, async fast paths)."""

from __future__ import annotations

import uuid

from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import AccessToken


def bearer_user_id(authorization: str | None) -> uuid.UUID | None:
    """The user id of a valid, unexpired access token in an `Authorization: Bearer …`
    value, or None. Pure computation: whether that user exists and is active is the
    caller's to check."""
    if not authorization or not authorization.lower().startswith("bearer "):
        return None
    try:
        token = AccessToken(authorization[7:].strip())
        return uuid.UUID(str(token[jwt_settings.USER_ID_CLAIM]))
    except (TokenError, KeyError, ValueError):
        return None
