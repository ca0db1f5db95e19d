"""Renderers beside DRF's: wire-ready JSON for hot read paths, and the one base of every
CSV download.

WireReadyJSONRenderer: the default renderer walks every key of every response to
camelise it, which for a list of hundreds of users costs more than the query behind it
(bench/, docs/performance.md). Views whose selectors build wire-ready dicts use this
one: orjson, no key rewriting. Error bodies still go through the camelising renderer
(their field names come from serializers in snake_case).

CsvRenderer: the rules every report downloads with (`?format=csv` or
`Accept: text/csv`): a header row, then one row per record, each cell through
collab.core.csvcells.csv_cell (formula-safe text, ISO times, empty for null), UTF-8,
and served as an attachment (`csv_download`). Errors and OPTIONS stay JSON
(JsonForMetadataAndErrorsMixin).
"""

from __future__ import annotations

import csv
import io
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence

import orjson
from django.utils import timezone
from djangorestframework_camel_case.render import CamelCaseJSONRenderer
from rest_framework.renderers import BaseRenderer
from rest_framework.response import Response

from collab.core.csvcells import csv_cell


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


class CsvRenderer(BaseRenderer, ABC):
    """Base of every CSV report: a subclass names its `columns` and yields its rows
    (`rows(data)`, one sequence of raw values per line, in column order); the cell rules
    are applied here, the same for every report."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"
    columns: Sequence[str] = ()

    @abstractmethod
    def rows(self, data) -> Iterable[Sequence]:
        """The report's lines: one sequence of raw values per line, in column order."""

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(self.columns)
        for row in self.rows(data):
            writer.writerow([csv_cell(value) for value in row])
        return out.getvalue().encode("utf-8")


def csv_download(data, *, name: str) -> Response:
    """A Response of `data` for a CsvRenderer, downloaded as `<name>-<YYYYMMDD>.csv`."""
    response = Response(data)
    stamp = timezone.now().strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.csv"'
    return response
