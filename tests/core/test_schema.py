"""The OpenAPI schema documents every /api route, with bodies, and generates cleanly."""

from __future__ import annotations

import inspect
import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db

NOT_DOCUMENTED = {"api/schema", "api/docs"}
PUBLIC = {("post", "/api/auth/register"), ("post", "/api/auth/login"), ("post", "/api/auth/refresh")}
HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def url_conf_operations() -> set[tuple[str, str]]:
    """(method, OpenAPI path) of every /api route the URLconf really serves."""
    found: set[tuple[str, str]] = set()

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
                continue
            if not isinstance(pattern, URLPattern) or not route.startswith("api/") or route in NOT_DOCUMENTED:
                continue
            view = pattern.callback
            actions = getattr(view, "actions", None)
            if actions:
                methods = [m for m in actions if m in HTTP_METHODS]
            else:
                methods = [m for m in HTTP_METHODS if hasattr(view.cls, m)]
            path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
            found.update((method, path) for method in methods)

    walk(get_resolver().url_patterns, "")
    return found


@pytest.fixture
def schema(client) -> dict:
    response = client.get("/api/schema?format=json")
    assert response.status_code == 200
    body = response.json()
    assert body["openapi"].startswith("3.")
    return body


def schema_operations(schema: dict) -> set[tuple[str, str]]:
    return {(method, path) for path, item in schema["paths"].items() for method in item if method in HTTP_METHODS}


def test_schema_is_served_anonymously_and_lists_every_api_route(schema):
    served = url_conf_operations()
    # The foundation's routes at least; every app's routes as they arrive.
    assert {
        ("post", "/api/auth/register"),
        ("post", "/api/auth/login"),
        ("post", "/api/auth/refresh"),
        ("post", "/api/auth/logout"),
        ("post", "/api/auth/logout-all"),
        ("get", "/api/auth/me"),
        ("post", "/api/auth/ws-ticket"),
        ("get", "/api/courses"),
        ("post", "/api/courses"),
        ("get", "/api/courses/{course_id}"),
        ("get", "/api/courses/{course_id}/members"),
        ("post", "/api/courses/{course_id}/enrollments"),
        ("delete", "/api/courses/{course_id}/enrollments/{user_id}"),
    } <= served
    documented = {op for op in schema_operations(schema) if op[1].startswith("/api/")}
    assert served - documented == set(), "routes missing from the schema"
    assert documented - served == set(), "schema operations no route serves"


def test_health_is_documented_with_its_503(schema):
    responses = schema["paths"]["/health"]["get"]["responses"]
    # 400 (a Host not served) and 406 (an Accept it cannot produce) come from the core.
    assert set(responses) == {"200", "503", "400", "406"}
    health = schema["components"]["schemas"]["Health"]
    assert set(health["properties"]) == {"status", "database", "channelLayer"}


BODYLESS_ACTIONS = (
    "/ws-ticket",
    "/logout-all",
    "/start",
    "/cancel",
    "/join",
    "/leave",
    "/heartbeat",
    "/open",
    "/close",
    "/complete",
    "/requeue",
)


def test_every_operation_documents_its_bodies(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            where = f"{method.upper()} {path}"
            assert operation.get("summary"), where
            success = {code: r for code, r in operation["responses"].items() if code.startswith("2")}
            assert success, f"{where} documents no success response"
            for code, response in success.items():
                if code != "204":
                    assert "application/json" in response.get("content", {}), f"{where} {code} has no JSON body"
            if method in ("post", "put", "patch"):
                body = operation.get("requestBody")
                if body is None:
                    # Actions that take no input (start, join, open, ...) document none.
                    assert path.endswith(BODYLESS_ACTIONS), f"{where} documents no request body"
                else:
                    assert "application/json" in body.get("content", {}), where


def test_security_matches_who_may_call(schema):
    for method, path in schema_operations(schema):
        security = schema["paths"][path][method].get("security")
        if (method, path) in PUBLIC or path == "/health":
            assert security == [{}], (method, path, security)
        elif path.startswith("/api/"):
            assert security == [{"jwtAuth": []}], (method, path, security)
    assert schema["components"]["securitySchemes"]["jwtAuth"]["scheme"] == "bearer"


def test_bodies_are_camel_case_like_the_wire(schema):
    components = schema["components"]["schemas"]
    assert set(components["AuthResponse"]["properties"]) == {"user", "access", "refresh"}
    assert "createdAt" in components["User"]["properties"]
    assert set(components["WsTicket"]["properties"]) == {"ticket", "expiresIn"}
    assert set(components["EnrollmentCreateRequest"]["properties"]) == {"userId", "email", "role"}
    assert "studentCount" in components["Course"]["properties"]
    assert "enrolledAt" in components["CourseMember"]["properties"]
    for name, component in components.items():
        for field in component.get("properties", {}):
            assert "_" not in field, f"{name}.{field} is not camelCase"


def test_schema_generates_without_warnings_and_validates():
    GENERATOR_STATS.reset()
    generated = SchemaGenerator().get_schema(request=None, public=True)
    assert not GENERATOR_STATS, f"drf-spectacular warned: {GENERATOR_STATS._warn_cache} {GENERATOR_STATS._error_cache}"
    validate_schema(generated)


def docs_page_assets(html: str) -> list[str]:
    """Every URL the /api/docs page loads: its <script src>, <link href> and <img src>, and
    the schema Swagger UI fetches (`url: "…"` in its inline script). Fails on any URL that
    leaves the server (a CDN): the page must work with no internet."""
    from html.parser import HTMLParser

    found: list[str] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            for name, value in attrs:
                if value and (tag, name) in {("script", "src"), ("link", "href"), ("img", "src")}:
                    found.append(value)

    Collect().feed(html)
    found += re.findall(r'\burl: "([^"]+)"', html)
    assert not re.search(r"(?:src|href)\s*=\s*[\"']?(?:https?:)?//", html), "the docs page loads from another host"
    assert all(url.startswith("/") and not url.startswith("//") for url in found), found
    return found


def test_docs_page_and_every_asset_it_loads_are_served_by_us(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assets = docs_page_assets(html)
    assert "/api/schema" in assets and any(url.endswith("swagger-ui-bundle.js") for url in assets), assets
    for url in assets:
        asset = client.get(url)
        body = asset.content if hasattr(asset, "content") else b"".join(asset.streaming_content)
        assert asset.status_code == 200 and body, url


def test_every_refusal_of_every_operation_is_documented_with_the_error_shape(schema):
    """issue 15: schemathesis found 190 status codes the schema did not list."""
    error_ref = {"$ref": "#/components/schemas/Error"}
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            responses = operation["responses"]
            expected = {"400", "406"} if not path.startswith("/api/") else {"400", "401", "403", "406", "429"}
            if method in ("post", "put", "patch", "delete"):
                expected |= {"409"} if path.startswith("/api/") else set()
            if "requestBody" in operation:
                expected |= {"404", "413", "415"}
            assert expected <= set(responses), (method, path, expected - set(responses))
            for status, response in responses.items():
                if status.startswith("4"):
                    assert response["content"]["application/json"]["schema"] == error_ref, (method, path, status)


def test_every_api_operation_documents_the_503_of_a_redis_outage(schema):
    """issue 13: while Redis is down, what needs it answers 503 `service_unavailable`."""
    error_ref = {"$ref": "#/components/schemas/Error"}
    for path, item in schema["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in item.items():
            if method in HTTP_METHODS:
                unavailable = operation["responses"]["503"]
                assert "Retry-After" in unavailable["headers"], (method, path)
                assert unavailable["content"]["application/json"]["schema"] == error_ref, (method, path)
                assert "service_unavailable" in unavailable["description"], (method, path)


# -- what the schema publishes is for API users, not the code's internal notes ------------

INTERNAL_WORDS = (
    "fast path",
    "snapshot",
    "docs/performance",
    "event loop",
    "selectors.",
    "subclass",
    "presence_item",
    "camelising",
)


def _descriptions(node, where: str = ""):
    """(where, text) of every `description` in the schema, operations and components alike."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "description" and isinstance(value, str):
                yield where, value
            else:
                yield from _descriptions(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _descriptions(value, f"{where}[{index}]")


def test_no_published_description_is_an_internal_note(schema):
    found = [(where, word) for where, text in _descriptions(schema) for word in INTERNAL_WORDS if word in text.lower()]
    assert found == []


def test_a_views_docstring_is_not_its_published_description(schema):
    # Docstrings are written for the code's readers; an operation's description for its
    # users comes from extend_schema(description=...) only.
    docstrings = set()
    for pattern_view in _api_views():
        for owner in (pattern_view, *(getattr(pattern_view, m, None) for m in HTTP_METHODS)):
            doc = inspect.getdoc(owner) if owner is not None else None
            if doc:
                docstrings.add(" ".join(doc.split()))
    published = [
        (f"{method.upper()} {path}", operation["description"])
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS and operation.get("description")
    ]
    assert [(where, text) for where, text in published if " ".join(text.split()) in docstrings] == []


def _api_views() -> list[type]:
    views: list[type] = []

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and route.startswith("api/") and hasattr(pattern.callback, "cls"):
                views.append(pattern.callback.cls)

    walk(get_resolver().url_patterns, "")
    return views
