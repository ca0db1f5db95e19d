"""The socket path's answer to plain HTTP.

`/ws/` is a WebSocket endpoint; a GET or HEAD without `Upgrade: websocket` (a browser
tab, `curl`, a proxy that dropped the upgrade headers) reaches Django's HTTP handler
instead of the consumer. Without a route it got a 404 (Django's HTML debug page under
DEBUG), though every HTTP answer of the API is JSON: here it is told what to do instead.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from collab.core.exceptions import error_body

UPGRADE_REQUIRED = "upgrade_required"


@csrf_exempt
def upgrade_required(request: HttpRequest) -> JsonResponse:
    """A plain GET or HEAD on /ws/ (or /ws): 426 `upgrade_required` with `Upgrade:
    websocket` (RFC 9110 §15.5.22: a 426 names the protocol to switch to). Any other
    method: 405 `method_not_allowed` with `Allow: GET, HEAD` (a WebSocket opens with a GET)."""
    if request.method not in ("GET", "HEAD"):
        response = JsonResponse(error_body("method_not_allowed", f'Method "{request.method}" not allowed.'), status=405)
        response["Allow"] = "GET, HEAD"
        return response
    response = JsonResponse(
        error_body(
            UPGRADE_REQUIRED,
            "This is the WebSocket endpoint: open it with a WebSocket upgrade "
            "(GET with `Upgrade: websocket`), see docs/protocol.md.",
        ),
        status=426,
    )
    # Upgrade is what RFC 9110 requires of a 426. No `Connection: Upgrade`: a hop-by-hop
    # header that a WSGI server (wsgiref) refuses from an application.
    response["Upgrade"] = "websocket"
    return response
