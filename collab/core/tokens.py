"""Reading access tokens: the claims every check needs, verified once per process.

A token names its user, the signed-in session it belongs to (`sid`, shared by every
token a login's refresh chain issues) and the user's token generation when it was issued
(`gen`). Whether the session or generation was revoked since is
collab.accounts.revocation's question; this module only reads what the token says.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import AccessToken

SESSION_CLAIM = "sid"
GENERATION_CLAIM = "gen"


@dataclass(frozen=True)
class Credentials:
    """What an access token (or a socket ticket minted with one) vouches for.

    `session_id` is None for tokens issued without a session (before sessions existed);
    `generation` is 0 for those. `expires_at` is a Unix time in seconds."""

    user_id: uuid.UUID
    session_id: str | None
    generation: int
    expires_at: float

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> Credentials:
        """Raises KeyError, ValueError or TypeError on a malformed claim set."""
        session_id = claims.get(SESSION_CLAIM)
        return cls(
            user_id=uuid.UUID(str(claims[jwt_settings.USER_ID_CLAIM])),
            session_id=str(session_id)[:64] if session_id else None,
            generation=int(claims.get(GENERATION_CLAIM) or 0),
            expires_at=float(claims["exp"]),
        )

    def expired(self, now: float | None = None) -> bool:
        return self.expires_at + leeway_seconds() <= (time.time() if now is None else now)


@functools.lru_cache(maxsize=4096)
def _verified(raw: str) -> Credentials | None:
    """The credentials of a token whose signature and claims checked out, else None.
    Cached: a client sends the same token with every request until it refreshes, and
    checking the signature was a tenth of the hot presence read (bench/). The cache holds
    only what the signed token says, which never changes: expiry is checked on every
    use, and revocation (collab.accounts.revocation) is asked on every use too, so a
    cached token never outlives a sign-out."""
    try:
        return Credentials.from_claims(AccessToken(raw).payload)
    except (TokenError, KeyError, ValueError, TypeError):
        return None


def access_credentials(raw: str | None) -> Credentials | None:
    """The credentials of a valid, unexpired access token, or None. Pure computation:
    the caller asks whether they were revoked and whether the user is active."""
    if not raw or len(raw) > 4096:
        return None
    credentials = _verified(raw.strip())
    if credentials is None or credentials.expired():
        return None
    return credentials


def bearer_credentials(authorization: str | None) -> Credentials | None:
    """access_credentials() of an `Authorization: Bearer …` header value, read as
    SimpleJWT's JWTAuthentication reads it (so REST and every fast path agree): ASCII
    whitespace-separated, exactly two parts, the first one of AUTH_HEADER_TYPES, case
    and all (`bearer …` is not authenticated)."""
    if not authorization:
        return None
    parts = authorization.encode("latin-1", errors="replace").split()
    if len(parts) != 2 or parts[0] not in _header_types():
        return None
    return access_credentials(parts[1].decode("latin-1"))


def _header_types() -> set[bytes]:
    types = jwt_settings.AUTH_HEADER_TYPES
    return {types.encode("latin-1")} if isinstance(types, str) else {name.encode("latin-1") for name in types}


def leeway_seconds() -> float:
    leeway = jwt_settings.LEEWAY
    return leeway.total_seconds() if isinstance(leeway, timedelta) else float(leeway)
