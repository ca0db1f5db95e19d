"""An async fast path in front of a DRF view (piece `async_front`).

A DRF view is sync: under ASGI every request to it takes a worker thread, then DRF's
authentication, throttles and rendering. For a read that many clients make at the same
moment and that a ready answer can serve (the course presence snapshot:
docs/performance.md change 9, 104 → 489 req/s on one process), `async_front` answers on
the event loop when the fast path can, and hands every other request, untouched, to the
DRF view, which answers or refuses as on any route.

It relies on what Django and drf-spectacular read off a view DRF built: `cls`,
`initkwargs` and `csrf_exempt` are copied onto the wrapper so the schema, URL
resolution and CSRF see the DRF view. With `async_front` off the DRF view is used alone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from asgiref.sync import sync_to_async
from django.http import HttpResponse

from collab.core.asgi_fast import enabled
from collab.core.asgi_fast.front import FRONT_TRIED, drf_view_headers
from collab.core.errors import is_service_outage

FastPath = Callable[..., Awaitable[bytes | None]]


def async_front(drf_view: Callable, fast_path: FastPath) -> Callable:
    """The DRF view `drf_view` (from `as_view()`) behind `fast_path(request, **kwargs)`,
    which returns a JSON body (bytes) to answer with 200, or None to let DRF handle the
    request. A fast path failing for a service outage (Redis down) also leaves the
    request to DRF, which answers it or refuses it with its 503."""
    if not enabled("async_front"):
        return drf_view
    in_thread = sync_to_async(drf_view)
    view_headers: dict[str, str] = {}

    async def view(request, **kwargs):
        body = None
        # A request the front route already tried and left to DRF is not asked again.
        if not getattr(request, "scope", {}).get(FRONT_TRIED):
            try:
                body = await fast_path(request, **kwargs)
            except Exception as exc:
                if not is_service_outage(exc):
                    raise
                # Redis is down: the DRF path answers (503 if it needs Redis too)
        if body is not None:
            if not view_headers:  # the DRF view's own (Allow): computed once, after setup
                view_headers.update(drf_view_headers(drf_view.cls, **drf_view.initkwargs))
            return HttpResponse(body, content_type="application/json", headers=view_headers)
        return await in_thread(request, **kwargs)

    view.cls, view.initkwargs, view.csrf_exempt = drf_view.cls, drf_view.initkwargs, True
    return view
