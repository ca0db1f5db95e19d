"""Check a REST response of a test against the served OpenAPI schema, with schemathesis'
own response checks (the ones tests/core/test_schemathesis.py runs on generated requests),
so a case it found stays a plain regression test of its app."""

from __future__ import annotations

import functools
import json

import requests
import schemathesis
from django.test import Client
from schemathesis.core.transport import Response


@functools.cache
def served_schema():
    """The schema as /api/schema serves it, loaded by schemathesis (once per process)."""
    response = Client().get("/api/schema?format=json")
    assert response.status_code == 200, response.content[:200]
    return schemathesis.openapi.from_dict(json.loads(response.content))


def assert_documented(method: str, path: str, response) -> None:
    """`response` (a Django/DRF test response to `method` on the templated `path`, e.g.
    "/api/office-hours/{office_hours_id}") has a documented status and a body, content
    type and headers that match the schema; raises AssertionError (or schemathesis'
    FailureGroup, which says what differs) otherwise."""
    operation = served_schema()[path][method.upper()]
    documented = operation.definition.raw.get("responses", {})
    assert str(response.status_code) in documented, f"{method} {path}: {response.status_code} is not documented"
    request = requests.Request(method.upper(), f"http://testserver{response.request['PATH_INFO']}").prepare()
    headers = {name.lower(): [value] for name, value in response.headers.items()}
    operation.validate_response(Response(response.status_code, headers, response.content, request, 0.0, True))
