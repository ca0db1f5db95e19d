"""Content negotiation: DRF's, except that `?format=` sent empty is refused.

DRF reads an empty `format` as absent and answers in the Accept header's format; the
OpenAPI schema enumerates `format` where a route offers one (json, csv), and "" is not
among them, so it is a 400 `invalid` naming the parameter, as every empty query value is
(collab.core.params.query_value)."""

from __future__ import annotations

from rest_framework.negotiation import DefaultContentNegotiation

from collab.core.params import query_value


class ContentNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        if format_suffix is None:
            query_value(request, self.settings.URL_FORMAT_OVERRIDE)  # refuses `?format=`
        return super().select_renderer(request, renderers, format_suffix)
