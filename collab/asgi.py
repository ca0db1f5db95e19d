"""ASGI entry point: HTTP goes to Django (behind the front routes of
collab.core.asgi_fast.front), WebSocket /ws/ to the collab consumer."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "collab.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from collab.core.asgi_fast.front import front_app  # noqa: E402
from collab.realtime import log_redaction  # noqa: E402
from collab.realtime.routing import websocket_urlpatterns  # noqa: E402

# uvicorn has set up its loggers by the time it imports this module.
log_redaction.install()

# A web process holding thousands of sockets keeps hundreds of thousands of long-lived
# objects, and each full collection scans all of them with the event loop stopped
# (bench/: 130-340 ms pauses, growing, while 4,000 sockets connected: the tail of every
# latency figure). What start-up loaded (Django, the apps) is frozen out of collections,
# and larger thresholds make collections rarer (settings.GC_THRESHOLDS).
gc.freeze()
gc.set_threshold(*settings.GC_THRESHOLDS)

application = ProtocolTypeRouter(
    {
        # A few hot reads answered before Django's handler (piece `front`), the rest by Django.
        "http": front_app(django_asgi_app),
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
