"""Every error under /api/ in the one error shape, whatever DEBUG says.

With DEBUG off Django answers its own errors (no route, a bad Host header, a body over
DATA_UPLOAD_MAX_MEMORY_SIZE, a crash outside DRF) through the handlers of
collab.core.views, which speak the error shape. With DEBUG on (`make run`'s embedded
default) it answers them with its HTML debug pages instead, and a client of the API gets
HTML where it was promised JSON. This middleware, outermost, replaces such an answer
under /api/ (and on /health, read by load balancers and monitors) with the handlers' one;
the admin and the console keep their HTML (README, "Error pages").
"""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import DisallowedHost, RequestDataTooBig
from django.http import HttpRequest, HttpResponse

from collab.core import views


def _is_debug_error_page(request: HttpRequest, response: HttpResponse) -> bool:
    return (
        response.status_code in (400, 403, 404, 500)
        # "/api" itself too: a client that dropped the slash is still an API client.
        and (request.path.startswith("/api/") or request.path in ("/api", "/health"))
        and not response.get("Content-Type", "").startswith("application/json")
    )


def _json_error(request: HttpRequest, status: int) -> HttpResponse:
    """The handler's answer for `status`; for a 400 the cause is found again from the
    request (the debug page keeps no exception to hand on)."""
    if status == 404:
        return views.not_found(request)
    if status == 403:
        return views.permission_denied(request)
    if status == 500:
        return views.server_error(request)
    try:
        request.get_host()
    except DisallowedHost as exc:
        return views.bad_request(request, exc)
    length = request.META.get("CONTENT_LENGTH") or "0"
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is not None and length.isdigit() and int(length) > limit:
        return views.bad_request(request, RequestDataTooBig())
    return views.bad_request(request)


class ApiErrorsAsJson:
    """Outermost middleware: see the module docstring. Runs on the event loop under ASGI
    (no thread hop) and inline under WSGI."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        if self.is_async:
            return self.__acall__(request)
        return self._checked(request, self.get_response(request))

    async def __acall__(self, request: HttpRequest):
        return self._checked(request, await self.get_response(request))

    @staticmethod
    def _checked(request: HttpRequest, response: HttpResponse) -> HttpResponse:
        return _json_error(request, response.status_code) if _is_debug_error_page(request, response) else response
