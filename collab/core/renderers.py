"""A JSON renderer for hot read paths whose payloads are built in camelCase already.

The default renderer walks every key of every response to camelise it, which for a
list of hundreds of users costs more than the query behind it (bench/, docs/performance.md).
Views whose selectors build wire-ready dicts use this one: orjson, no key rewriting.
Error bodies still go through the camelising renderer (their field names come from
serializers in snake_case).
"""

from __future__ import annotations

import orjson
from djangorestframework_camel_case.render import CamelCaseJSONRenderer
from rest_framework.renderers import BaseRenderer


class WireReadyJSONRenderer(BaseRenderer):
    media_type = "application/json"
    format = "json"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        response = (renderer_context or {}).get("response")
        if response is not None and response.status_code >= 400:
            return CamelCaseJSONRenderer().render(data, accepted_media_type, renderer_context)
        if data is None:
            return b""
        # OPT_UTC_Z writes UTC times as "…Z", as DRF's DateTimeField does.
        return orjson.dumps(data, option=orjson.OPT_UTC_Z)


class JsonForMetadataAndErrorsMixin:
    """For an APIView that also offers a non-JSON renderer (e.g. CSV): the OPTIONS
    answer and every error are JSON whatever format was asked, since only the
    resource itself has another representation (a CSV renderer cannot draw either)."""

    def finalize_response(self, request, response, *args, **kwargs):
        if request.method == "OPTIONS" or getattr(response, "status_code", 200) >= 400:
            from djangorestframework_camel_case.render import CamelCaseJSONRenderer

            request.accepted_renderer = CamelCaseJSONRenderer()
            request.accepted_media_type = CamelCaseJSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)
