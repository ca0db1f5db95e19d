"""Reading an access token outside DRF's authentication (socket handshakes, async fast paths)."""

from __future__ import annotations

import functools
import time
import uuid
from datetime import timedelta

from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import AccessToken


@functools.lru_cache(maxsize=4096)
def _verified(raw: str) -> tuple[uuid.UUID, float] | None:
    """(user id, expiry) of a token whose signature and claims checked out, else None.
    Cached: a client sends the same token with every request until it refreshes, and
    checking the signature was a tenth of the hot presence read (bench/). A token's
    verdict never improves with time, and its expiry is checked on every use."""
    try:
        token = AccessToken(raw)
        return uuid.UUID(str(token[jwt_settings.USER_ID_CLAIM])), float(token["exp"])
    except (TokenError, KeyError, ValueError, TypeError):
        return None


def bearer_user_id(authorization: str | None) -> uuid.UUID | None:
    """The user id of a valid, unexpired access token in an `Authorization: Bearer …`
    value, or None. Pure computation: whether that user exists and is active is the
    caller's to check."""
    if not authorization or not authorization.lower().startswith("bearer "):
        return None
    verified = _verified(authorization[7:].strip())
    if verified is None or verified[1] + _leeway_seconds() <= time.time():
        return None
    return verified[0]


def _leeway_seconds() -> float:
    leeway = jwt_settings.LEEWAY
    return leeway.total_seconds() if isinstance(leeway, timedelta) else float(leeway)
