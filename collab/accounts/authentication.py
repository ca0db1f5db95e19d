"""REST authentication: SimpleJWT's, plus the revocation check every access path shares."""

from __future__ import annotations

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed

from collab.accounts.revocation import credentials_revoked
from collab.core.tokens import Credentials


class RevocableJWTAuthentication(JWTAuthentication):
    """A signed, unexpired access token of an active user that was not signed out
    (collab.accounts.revocation). `request.auth` keeps the validated token; views read
    its credentials with `request_credentials(request)`."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            return None
        user, token = result
        try:
            credentials = Credentials.from_claims(token.payload)
        except (KeyError, ValueError, TypeError):
            raise AuthenticationFailed({"detail": "The token is malformed.", "code": "token_not_valid"})
        if credentials_revoked(credentials, user_generation=user.token_generation):
            raise AuthenticationFailed({"detail": "This session was signed out.", "code": "token_revoked"})
        return user, token


def request_credentials(request) -> Credentials:
    """The credentials of the access token RevocableJWTAuthentication accepted."""
    return Credentials.from_claims(request.auth.payload)


class RevocableJWTScheme(SimpleJWTScheme):
    """drf-spectacular documents the subclass as SimpleJWT's bearer scheme (jwtAuth)."""

    target_class = "collab.accounts.authentication.RevocableJWTAuthentication"
