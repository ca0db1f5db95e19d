from __future__ import annotations

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views import defaults
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView


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
    return JsonResponse({"error": {"code": "not_found", "message": "Not found."}}, status=404)


def server_error(request):
    if _wants_html(request):
        return defaults.server_error(request)
    return JsonResponse({"error": {"code": "server_error", "message": "The server hit an error."}}, status=500)
