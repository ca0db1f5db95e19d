"""/health: 200 when every part answers, 503 naming the part that does not."""

from __future__ import annotations

import socket

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_health_ok(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "channelLayer": "ok"}


def test_health_needs_no_token_and_ignores_a_broken_one(client):
    response = client.get("/health", HTTP_AUTHORIZATION="Bearer broken")
    assert response.status_code == 200


def test_health_is_503_naming_the_channel_layer_when_redis_is_unreachable(client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{unused_port()}/0"
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "ok", "channelLayer": "unavailable"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres_only(reason="points the connection at a closed PostgreSQL port; SQLite has no server")
def test_health_is_503_naming_the_database_when_postgres_is_unreachable(client):
    # A real unreachable server: point the connection at a closed port for one request.
    original = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = str(unused_port())
    try:
        response = client.get("/health")
    finally:
        connection.close()
        connection.settings_dict["PORT"] = original
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unavailable", "channelLayer": "ok"}


def test_health_is_not_redirected_to_https(client, settings):
    # Load balancers probe over plain HTTP inside the network.
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/health").status_code == 200
    assert client.get("/api/auth/me").status_code == 301
