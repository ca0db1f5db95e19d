from django.urls import re_path

from collab.realtime.consumer import CollabConsumer

CLOSE_NO_SUCH_ROUTE = 4404


async def refuse_unknown_path(scope, receive, send) -> None:
    """A socket at any path but /ws/ is refused before accept (HTTP 403 on the upgrade),
    as every refused handshake is. Without it Channels' router raises: an ERROR with a
    traceback in the log and a 500 to the client."""
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.close", "code": CLOSE_NO_SUCH_ROUTE})


websocket_urlpatterns = [
    re_path(r"^ws/?$", CollabConsumer.as_asgi()),
    re_path(r"", refuse_unknown_path),
]
