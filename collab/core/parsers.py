"""The REST body parser: camelCase JSON, and a 400 (not a 500) for any body it cannot read."""

from __future__ import annotations

from djangorestframework_camel_case.parser import CamelCaseJSONParser
from rest_framework.exceptions import ParseError


class JSONParser(CamelCaseJSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            # json.loads and underscoreize recurse per nesting level; a hostile body
            # nested a few thousand levels deep raises RecursionError, not ValueError.
            raise ParseError("JSON parse error - the body is nested too deeply.")
