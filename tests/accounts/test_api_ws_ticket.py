"""REST auth: POST /api/auth/ws-ticket: the ticket's shape and its storage in Redis, and
tickets being unique."""

from __future__ import annotations

import json
import time

import pytest

from collab.core.redis_client import sync_redis
from collab.realtime.tickets import _key as ticket_key

pytestmark = pytest.mark.django_db


# -- ws-ticket --------------------------------------------------------------------------


def test_ws_ticket_shape_and_storage(api, student):
    response = api(student).post("/api/auth/ws-ticket")
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"ticket", "expiresIn"}
    assert body["expiresIn"] == 30
    assert isinstance(body["ticket"], str) and len(body["ticket"]) >= 32
    redis = sync_redis()
    stored = json.loads(redis.get(ticket_key(body["ticket"])))
    # The ticket carries the credentials of the token that minted it (user, session, expiry).
    assert stored["user"] == str(student.id)
    assert stored["exp"] > time.time()
    assert 0 < redis.ttl(ticket_key(body["ticket"])) <= 30


def test_ws_tickets_are_unique(api, student):
    client = api(student)
    tickets = {client.post("/api/auth/ws-ticket").json()["ticket"] for _ in range(5)}
    assert len(tickets) == 5
