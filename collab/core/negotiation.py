"""Content negotiation: DRF's, except for what it does with a `?format=` it cannot serve.

DRF reads an empty `format` as absent and answers in the Accept header's format; the
OpenAPI schema enumerates `format` where a route offers one (json, csv), and "" is not
among them, so it is a 400 `invalid` naming the parameter, as every empty query value is
(collab.core.params.query_value). A format the route does not offer (`?format=xml`) was
DRF's 404 "Not found." for a resource that exists; it is a 406 `not_acceptable` naming
the formats the route offers, as an Accept header it cannot satisfy is."""

from __future__ import annotations

from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation

from collab.core.params import query_value


class ContentNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        if format_suffix is None:
            query_value(request, self.settings.URL_FORMAT_OVERRIDE)  # refuses `?format=`
        return super().select_renderer(request, renderers, format_suffix)

    def filter_renderers(self, renderers, format):
        """The renderers of `format`; 406 `not_acceptable` naming the offered ones if none."""
        offered = [renderer for renderer in renderers if renderer.format == format]
        if not offered:
            names = ", ".join(dict.fromkeys(renderer.format for renderer in renderers))
            raise NotAcceptable(f'format: "{format}" is not offered here; one of: {names}.')
        return offered


JSON_MEDIA_RANGES = frozenset({"application/json", "application/*", "*/*"})


def plain_json_accepted(accept: str | None) -> bool:
    """Whether DRF's negotiation answers this Accept header with plain JSON, for a fast
    path in front of a JSON-only view: absent, or a list of media ranges without
    parameters (q-values and `indent` DRF honours) of which one is JSON or a wildcard."""
    if accept is None:
        return True
    if ";" in accept:
        return False
    return any(part.strip() in JSON_MEDIA_RANGES for part in accept.split(","))
