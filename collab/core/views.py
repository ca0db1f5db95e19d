from __future__ import annotations

import sys

import redis
from django.conf import settings
from django.core.exceptions import DisallowedHost, RequestDataTooBig
from django.db import connection
from django.http import JsonResponse
from django.views import defaults
from drf_spectacular.utils import extend_schema, inline_serializer
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from collab.core.errors import ServiceUnavailable, is_service_outage
from collab.core.exceptions import error_body
from collab.core.renderers import JsonForMetadataAndErrorsMixin


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        return False


def _channel_layer_ok() -> bool:
    # The channel layer, the cache, tickets and Celery all live on this Redis.
    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


_HEALTH = inline_serializer(
    "Health",
    {
        "status": serializers.ChoiceField(choices=["ok", "unavailable"]),
        "database": serializers.ChoiceField(choices=["ok", "unavailable"]),
        "channelLayer": serializers.ChoiceField(choices=["ok", "unavailable"]),
    },
)


class HealthView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    @extend_schema(
        summary="Liveness of the web process and the parts it needs",
        # 503 has the same body, naming the part that is "unavailable".
        responses={200: _HEALTH, 503: _HEALTH},
    )
    def get(self, request):
        parts = {
            "database": "ok" if _database_ok() else "unavailable",
            "channelLayer": "ok" if _channel_layer_ok() else "unavailable",
        }
        healthy = all(value == "ok" for value in parts.values())
        body = {"status": "ok" if healthy else "unavailable", **parts}
        # Keys are already camelCase; the renderer leaves them as they are.
        return Response(body, status=200 if healthy else 503)


def _wants_html(request) -> bool:
    # The Django admin keeps its HTML pages; everything else speaks the API's error shape.
    return request.path.startswith("/admin/")


def not_found(request, exception=None):
    """URLs no route matches (e.g. /api/courses/not-a-uuid) answer in the one error shape."""
    if _wants_html(request):
        return defaults.page_not_found(request, exception)
    return JsonResponse(error_body("not_found", "Not found."), status=404)


def bad_request(request, exception=None):
    """Django's own 400s raised before a view runs (a bad Host header, a body over
    DATA_UPLOAD_MAX_MEMORY_SIZE, too many fields) answer in the error shape too."""
    if _wants_html(request):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return JsonResponse(
            error_body("request_too_large", f"The request body is larger than {limit} bytes."), status=413
        )
    if isinstance(exception, DisallowedHost):
        return JsonResponse(error_body("bad_host", "The Host header names no site this server serves."), status=400)
    return JsonResponse(error_body("bad_request", "The request is malformed."), status=400)


def permission_denied(request, exception=None):
    if _wants_html(request):
        return defaults.permission_denied(request, exception)
    return JsonResponse(error_body("permission_denied", "You are not allowed to do this."), status=403)


def service_unavailable_response() -> JsonResponse:
    """503 `service_unavailable` with Retry-After: Redis is down and the request needs it."""
    error = ServiceUnavailable()
    response = JsonResponse(error_body(error.code, error.message), status=503)
    response["Retry-After"] = str(error.retry_after)
    return response


def server_error(request):
    # Django calls this inside its `except`: an outage that escaped a view or middleware
    # (outside DRF's handler) is a 503, never a 500.
    if is_service_outage(sys.exc_info()[1] or Exception()):
        return service_unavailable_response()
    if _wants_html(request):
        return defaults.server_error(request)
    return JsonResponse(error_body("server_error", "The server hit an error."), status=500)


class SchemaView(JsonForMetadataAndErrorsMixin, SpectacularAPIView):
    """/api/schema (YAML or JSON); OPTIONS and errors in JSON."""


class DocsView(JsonForMetadataAndErrorsMixin, SpectacularSwaggerView):
    """/api/docs (Swagger UI, HTML); OPTIONS and errors in JSON, not a template error."""
