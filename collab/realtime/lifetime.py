"""A socket lives no longer than its credentials.

The socket knows when the access token it was opened with (or that minted its ticket)
expires. SOCKET_REAUTH_NOTICE seconds before, it is sent `reauth-required`
`{expiresAt, expiresIn}`; the client answers `reauth` with `{"token": …}` (a fresh access
token) or `{"ticket": …}` (a fresh ticket) of the same user, and the socket carries on
with the new expiry. Otherwise it is closed with 4401 when the credentials expire.
Revocation (logout, log out everywhere, a new password, deactivation) closes sockets at
once through their rooms (4000); re-authentication runs the same revocation check as
REST and the handshake.
"""

from __future__ import annotations

from datetime import UTC, datetime

from collab.core.errors import InvalidInput, NotAuthenticated
from collab.realtime.auth import reauthenticate
from collab.realtime.dispatch import Socket, socket_event

REAUTH_REQUIRED = "reauth-required"


def reauth_required_payload(expires_at: float, now: float) -> dict:
    return {
        "expiresAt": datetime.fromtimestamp(expires_at, tz=UTC).isoformat().replace("+00:00", "Z"),
        "expiresIn": max(int(expires_at - now), 0),
    }


@socket_event("reauth")
async def reauth(socket: Socket, data: dict) -> dict:
    """`{"token": …}` or `{"ticket": …}` → ack `{expiresAt}`; refused with
    `reauth_failed` (the socket keeps its old credentials and deadline)."""
    if not isinstance(data.get("token"), str) and not isinstance(data.get("ticket"), str):
        raise InvalidInput.for_fields({"token": ["A token or a ticket (a string) is required."]})
    credentials = await reauthenticate(socket.user, data)
    if credentials is None:
        raise NotAuthenticated("The token or ticket is not valid for this socket.", code="reauth_failed")
    await socket.credentials_renewed(credentials)
    return {"expiresAt": reauth_required_payload(credentials.expires_at, 0)["expiresAt"]}
