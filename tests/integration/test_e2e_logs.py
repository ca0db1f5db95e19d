"""What the Procfile's web process (uvicorn) writes to its log about handshakes: the
socket ticket in the URL is a credential and never appears there, refused or accepted,
and a socket at an unknown path is refused like any other, not an ERROR and a 500."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import websockets

from tests.factories import PASSWORD, UserFactory
from tests.servers import start_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


async def _handshake_status(url: str, **options) -> int:
    try:
        async with websockets.connect(url, open_timeout=20, **options):
            return 101
    except websockets.InvalidStatus as refused:
        return refused.response.status_code


async def _try_handshakes(server, email: str) -> dict[str, str]:
    """Handshakes a client might make; returns the secrets it sent in their URLs."""
    async with httpx.AsyncClient(base_url=server.http_url, timeout=20) as http:
        login = await http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        access = login.json()["access"]

        async def mint() -> str:
            response = await http.post("/api/auth/ws-ticket", headers={"Authorization": f"Bearer {access}"})
            return response.json()["ticket"]

        live = await mint()
        used = await mint()
        tickets = {"garbage": "NotARealTicketButStillASecretOfTheClient", "live": live, "used": used}
        assert await _handshake_status(f"{server.ws_url}?ticket={tickets['garbage']}") == 403
        # Refused by origin: the ticket is not consumed and stays valid for its 30 s.
        assert await _handshake_status(f"{server.ws_url}?ticket={live}", origin="http://evil.example") == 403
        assert await _handshake_status(f"{server.ws_url}?ticket={used}") == 101
        assert await _handshake_status(f"{server.ws_url}?ticket={used}") == 403
        assert await _handshake_status(f"{server.ws_url}?token={access}") == 403
        assert await _handshake_status(server.ws_url.replace("/ws/", "/no-such-socket/")) == 403
    return {**tickets, "access token": access}


def test_handshake_log_lines_carry_no_ticket_and_an_unknown_path_is_refused(tmp_path):
    user = UserFactory()
    log = tmp_path / "web.log"
    server = start_server(log_path=log)
    try:
        secrets = asyncio.run(_try_handshakes(server, user.email))
    finally:
        server.stop()
    text = log.read_text()
    assert '"WebSocket /ws/?ticket=[redacted]" [accepted]' in text, text
    assert '"WebSocket /no-such-socket/" 403' in text, text
    for name, secret in secrets.items():
        assert secret not in text, f"the {name} is in the web log"
    assert "ERROR" not in text and "Traceback" not in text, text
