"""The socket's path asked over plain HTTP (collab/realtime/views.py): a JSON 426 that says
to upgrade, never Django's HTML 404, whatever DEBUG says (docs/protocol.md, "Connecting")."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tests.asgi_stack import FrontStack


@pytest.fixture(params=[False, True], ids=["debug-off", "debug-on"])
def client(request, settings):
    settings.DEBUG = request.param
    return Client(raise_request_exception=False)


@pytest.mark.parametrize("path", ["/ws/", "/ws", "/ws/?ticket=abc"])
def test_a_plain_get_on_the_socket_path_is_a_json_426_naming_websocket(client, path):
    response = client.get(path)
    assert response.status_code == 426
    assert response["Content-Type"] == "application/json"
    assert response["Upgrade"] == "websocket"
    # No hop-by-hop header: a WSGI server (wsgiref) refuses one from an application.
    assert "Connection" not in response
    error = response.json()["error"]
    assert error["code"] == "upgrade_required"
    assert "WebSocket" in error["message"]


def test_a_head_gets_the_same_status_and_headers_without_a_body(client):
    response = client.head("/ws/")
    assert response.status_code == 426 and response["Upgrade"] == "websocket"
    assert response["Content-Type"] == "application/json"
    assert response.content == b""


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_another_method_is_a_json_405_allowing_get(client, method):
    response = getattr(client, method)("/ws/", data=b"{}", content_type="application/json")
    assert response.status_code == 405 and response["Allow"] == "GET, HEAD"
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_a_path_under_the_socket_path_is_still_the_json_404(client, settings):
    # Only /ws/ itself is the socket: /ws/x over HTTP is no route (HTML only with DEBUG on,
    # as for any path outside the API).
    response = client.get("/ws/anything")
    assert response.status_code == 404


def test_through_the_asgi_stack_an_http_scope_on_ws_reaches_the_426():
    # The ASGI router sends an HTTP request (no upgrade) on /ws/ to Django, not the consumer.
    status, headers, body, answered_by = FrontStack().get("/ws/")
    assert (status, answered_by) == (426, "django")
    assert (b"upgrade", b"websocket") in [(name.lower(), value) for name, value in headers]
    assert json.loads(body)["error"]["code"] == "upgrade_required"
