"""The console page and its files, without a browser: served at `/` by the app itself,
nothing from another host, and every API route the client calls exists."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from django.urls import Resolver404, resolve

CONSOLE = Path(__file__).resolve().parents[2] / "console"
JS = CONSOLE / "static" / "console" / "js"


def test_the_console_page_is_served_at_the_root(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    body = response.content.decode()
    assert '<script type="module" src="/static/console/js/app.js">' in body
    assert 'id="signin-form"' in body and 'id="connection"' in body
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "connect-src 'self' ws://testserver wss://testserver" in policy
    assert client.post("/").status_code == 405


def test_the_console_page_answers_head_as_get_without_a_body(client):
    """`curl -I` and link checkers ask with HEAD: the same status and headers, no body."""
    get, head = client.get("/"), client.head("/")
    assert head.status_code == 200
    assert head.content == b""
    for header in ("Content-Type", "Content-Security-Policy", "Cache-Control"):
        assert head[header] == get[header]


def _module_graph() -> set[Path]:
    """app.js and every module it imports, transitively."""
    seen: set[Path] = set()
    todo = [JS / "app.js"]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for target in re.findall(r'from "(\.[^"]+)"', path.read_text()):
            todo.append((path.parent / target).resolve())
    return seen


def test_every_file_the_page_loads_is_served_by_the_app(client):
    body = client.get("/").content.decode()
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', body)
    assert "/static/console/console.css" in assets
    modules = _module_graph()
    assert {p.name for p in modules} >= {"app.js", "api.js", "socket.js", "course.js", "session.js", "group.js"}
    for path in [*assets, *(f"/static/console/js/{p.relative_to(JS)}" for p in modules)]:
        response = client.get(path)
        assert response.status_code == 200, path
        b"".join(response.streaming_content) if response.streaming else response.content


def test_nothing_is_loaded_from_another_host():
    for path in CONSOLE.rglob("*"):
        if path.suffix not in {".html", ".js", ".css"}:
            continue
        text = path.read_text()
        # Scripts, styles, imports and fetches: never an absolute URL.
        assert not re.search(r'(?:src|href)="(?:https?:)?//', text), path
        assert not re.search(r'(?:from|import\()\s*["\'](?:https?:)?//', text), path
        assert not re.search(r'url\(\s*["\']?(?:https?:)?//', text), path
        assert not re.search(r'fetch\(\s*["\'`](?:https?:)?//', text), path


# `${verb}` in the lifecycle calls: the session actions the console offers.
VARIABLE_SEGMENTS = {"verb": ["start", "end", "cancel"]}


def _template_literals(source: str) -> list[list[str | tuple[str]]]:
    """Each string literal starting with /api/ as parts: text, or (expression,) for ${...}."""
    found = []
    for match in re.finditer(r'["`]/api/', source):
        quote, i, parts, text = source[match.start()], match.start() + 1, [], ""
        while source[i] != quote:
            if quote == "`" and source.startswith("${", i):
                depth, j = 1, i + 2
                while depth:
                    depth += {"{": 1, "}": -1}.get(source[j], 0)
                    j += 1
                parts += [text, (source[i + 2 : j - 1],)]
                text, i = "", j
            else:
                text, i = text + source[i], i + 1
        found.append([*parts, text])
    return found


def _expand(parts: list) -> list[str]:
    """The paths a literal can produce: a query string (`qs(...)`) drops out, a ternary of
    two strings gives both, a known variable its values, any other expression an id."""
    paths = [""]
    for part in parts:
        if isinstance(part, str):
            options = [part]
        elif part[0].startswith("qs("):
            options = [""]
        elif ternary := re.fullmatch(r'.*\?\s*"([^"]*)"\s*:\s*"([^"]*)"\s*', part[0]):
            options = list(ternary.groups())
        else:
            options = VARIABLE_SEGMENTS.get(part[0].strip(), ["{id}"])
        paths = [path + option for path in paths for option in options]
    return [path.split("?")[0] for path in paths]


def _api_paths() -> set[str]:
    """Every `/api/...` path the client can call (ids as `{id}`)."""
    return {
        path
        for module in JS.rglob("*.js")
        for parts in _template_literals(module.read_text())
        for path in _expand(parts)
    }


def test_the_client_calls_only_routes_the_api_has():
    paths = _api_paths()
    assert "/api/auth/login" in paths and "/api/auth/ws-ticket" in paths
    assert "/api/live-sessions/{id}/messages/{id}" in paths
    for path in sorted(paths):
        concrete = path.replace("{id}", str(uuid.uuid4()))
        try:
            match = resolve(concrete)
        except Resolver404:
            pytest.fail(f"the console calls {path}, which the API does not have")
        assert match.route.startswith("api/"), path


def test_the_sign_in_hint_names_every_demo_login(client):
    """The hint lists what `make run` seeds and prints (collab/courses/demo.py), the TA too."""
    from collab.courses.demo import DEMO_PASSWORD, INSTRUCTOR_EMAIL, STUDENT_EMAILS, TA_EMAIL

    hint = re.search(r'<p class="hint">(.*?)</p>', client.get("/").content.decode(), re.S).group(1)
    for login in (INSTRUCTOR_EMAIL, TA_EMAIL, STUDENT_EMAILS[0], STUDENT_EMAILS[-1], DEMO_PASSWORD):
        assert f"<code>{login}</code>" in hint, login
