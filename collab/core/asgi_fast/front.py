"""Answers before Django's ASGI handler, for a read that a ready answer can serve (piece
`front`).

Through Django, even a view that answers on the event loop (async_front.py) pays for the
handler: the request body spooled, a task listening for the disconnect, the
request_started / request_finished signals, whose database receivers run in a thread
created for the request and joined after it, URL resolution and ten middleware. For the
course presence read that was about half of one request's CPU (docs/performance.md,
"2026-11-30, evening", R4).

A front route is an async handler for one path pattern and method (GET, or POST with an
empty body), registered by its app (`front_route`). It returns the JSON body of a 200, or None: then the request goes to
Django untouched, which answers or refuses it as on any route. So a handler only ever
answers the requests the DRF view would answer 200, and with the same bytes: the headers
below are the ones Django's middleware (settings.MIDDLEWARE) and the DRF view add to such
an answer; a request on which a middleware would act otherwise (a host not allowed, an
HTTPS redirect due, a CORS signal receiver, a disallowed user agent) is left to Django,
and so is every request when MIDDLEWARE is not the list this module knows.
tests/core/test_asgi_front.py compares both paths' raw responses byte for byte.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.signals import setting_changed
from django.http.request import split_domain_port, validate_host

from collab.core.asgi_fast import enabled
from collab.core.errors import is_service_outage

log = logging.getLogger(__name__)

FrontHandler = Callable[[dict, "re.Match[str]"], Awaitable[bytes | None]]
# Set in the scope of a request a front route saw and left to Django, so a fast path
# further in (async_front) does not ask Redis the same questions again.
FRONT_TRIED = "collab.front_tried"

# The middleware whose effect on a JSON answer is reproduced below (collab/settings.py).
KNOWN_MIDDLEWARE = [
    "collab.core.api_errors.ApiErrorsAsJson",
    "collab.core.asgi_fast.middleware.SecurityMiddleware",
    "collab.core.asgi_fast.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "collab.core.asgi_fast.middleware.SessionMiddleware",
    "collab.core.asgi_fast.middleware.CommonMiddleware",
    "collab.core.asgi_fast.middleware.CsrfViewMiddleware",
    "collab.core.asgi_fast.middleware.AuthenticationMiddleware",
    "collab.core.asgi_fast.middleware.MessageMiddleware",
    "collab.core.asgi_fast.middleware.XFrameOptionsMiddleware",
]


@dataclass(frozen=True)
class FrontRoute:
    pattern: re.Pattern[str]
    handler: FrontHandler
    view_headers: Callable[[], dict[str, str]]
    method: str = "GET"


_routes: list[FrontRoute] = []


def front_route(
    pattern: str, handler: FrontHandler, view_headers: Callable[[], dict[str, str]], *, method: str = "GET"
) -> None:
    """Registers `handler` for `method` requests (GET, or POST: only those with an empty
    body) whose path fully matches `pattern` (a regex on scope["path"], named groups
    passed in the match). `view_headers()` gives the headers the DRF view itself sets on
    its answer (`drf_view_headers`). Called from AppConfig.ready."""
    if method not in ("GET", "POST"):
        raise ValueError(f"front routes answer GET or POST, not {method}")
    compiled = re.compile(pattern)
    if not any(route.pattern.pattern == compiled.pattern and route.method == method for route in _routes):
        _routes.append(FrontRoute(compiled, handler, view_headers, method))


def drf_view_headers(view_class: type, **initkwargs: Any) -> dict[str, str]:
    """The headers an APIView sets on every answer (`Allow`, and `Vary: Accept` with more
    than one renderer), from DRF's own property, on a view set up as Django's as_view does."""
    view = view_class(**initkwargs)
    if hasattr(view, "get") and not hasattr(view, "head"):
        view.head = view.get  # View.setup()
    return dict(view.default_response_headers)


def front_app(app: Callable) -> Callable:
    """The ASGI app `app` (Django's) behind the registered front routes."""
    if not enabled("front"):
        return app

    async def front(scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http" and _routes and not scope.get("root_path"):
            for route in _routes:
                if route.method != scope["method"]:
                    continue
                match = route.pattern.fullmatch(scope["path"])
                if match is None:
                    continue
                headers = _stack_headers(scope, route)
                if headers is None:
                    break
                if route.method == "POST":
                    empty, receive = await _body_empty(receive)
                    if not empty:
                        break
                if await _answered(scope, send, route, match, headers):
                    return
                break
        await app(scope, receive, send)

    return front


async def _body_empty(receive: Callable) -> tuple[bool, Callable]:
    """Reads the request body up to its first bytes: (whether it is empty, a `receive`
    for Django that gives the messages read here first, then the server's). A body is
    Django's as soon as it has a byte: the rest is not read here, so a large upload is
    not held in memory before Django spools it."""
    read: list[dict] = []
    while True:
        message = await receive()
        read.append(message)
        if message["type"] != "http.request" or message.get("body") or not message.get("more_body"):
            break
    empty = read[-1]["type"] == "http.request" and not read[-1].get("body") and not read[-1].get("more_body")

    async def replay() -> dict:
        return read.pop(0) if read else await receive()

    return empty, replay


async def _answered(scope: dict, send: Callable, route: FrontRoute, match: re.Match, headers: dict) -> bool:
    scope[FRONT_TRIED] = True
    try:
        body = await route.handler(scope, match)
    except Exception as exc:
        if not is_service_outage(exc):
            log.exception("front route %s failed; Django answers", route.pattern.pattern)
        return False  # Django answers: the view's own 503 when it needs Redis too
    if body is None:
        return False
    headers["Content-Length"] = str(len(body))
    raw = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
    await send({"type": "http.response.start", "status": 200, "headers": raw})
    await send({"type": "http.response.body", "body": body})
    return True


def request_headers(scope: dict, *names: bytes) -> dict[bytes, str] | None:
    """The request's headers of `names` (lowercase), each at most once, for a front route
    and its handler; None when one of them is repeated (Django joins a repeated field
    with commas: the request is left to it)."""
    found: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        if name in names:
            if name in found:
                return None
            found[name] = value.decode("latin-1")
    return found


def _stack_headers(scope: dict, route: FrontRoute) -> dict[str, str] | None:
    """The headers Django's handler, the middleware and the DRF view give a 200 JSON
    answer to this request, in their order (Content-Length to be filled in); None when
    a middleware would do more than add headers. Only a few request headers decide them,
    so the answer is cached by their values (and forgotten when a setting changes)."""
    proxy_header = _proxy_header()
    private_network = b"access-control-request-private-network"
    read = request_headers(scope, b"host", b"origin", private_network, proxy_header)
    if read is None:
        return None
    from corsheaders.conf import conf

    cors = re.match(conf.CORS_URLS_REGEX, scope["path"]) is not None
    headers = _headers_for(
        route,
        read.get(b"host"),
        read.get(b"origin"),
        read.get(private_network),
        read.get(proxy_header),
        scope.get("scheme"),
        cors,
    )
    return None if headers is None else dict(headers)


def _proxy_header() -> bytes:
    """The request header of SECURE_PROXY_SSL_HEADER, as it arrives in an ASGI scope."""
    if not settings.SECURE_PROXY_SSL_HEADER:
        return b"\0"  # no header has that name
    return settings.SECURE_PROXY_SSL_HEADER[0].removeprefix("HTTP_").lower().replace("_", "-").encode("latin-1")


@functools.lru_cache(maxsize=256)
def _headers_for(
    route: FrontRoute,
    host: str | None,
    origin: str | None,
    private_network: str | None,
    proxy_value: str | None,
    scheme: str | None,
    cors: bool,
) -> dict[str, str] | None:
    if settings.MIDDLEWARE != KNOWN_MIDDLEWARE or settings.DISALLOWED_USER_AGENTS or settings.FORCE_SCRIPT_NAME:
        return None
    if host is None or settings.USE_X_FORWARDED_HOST or settings.USE_X_FORWARDED_PORT:
        return None
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None  # CommonMiddleware's get_host(): DisallowedHost, a 400
    # HttpRequest.is_secure(): SECURE_PROXY_SSL_HEADER's value when sent, else the scheme.
    if proxy_value is not None:
        secure = proxy_value.split(",", 1)[0].strip() == settings.SECURE_PROXY_SSL_HEADER[1]
    else:
        secure = scheme in ("https", "wss")
    if settings.SECURE_SSL_REDIRECT and not secure:
        return None  # SecurityMiddleware redirects
    from corsheaders.signals import check_request_enabled

    if check_request_enabled.has_listeners():
        return None
    # Innermost first, as each response hook runs: the view, X-Frame-Options,
    # CommonMiddleware's Content-Length, CORS, then SecurityMiddleware.
    headers: dict[str, str] = {"Content-Type": "application/json", **route.view_headers()}
    headers["X-Frame-Options"] = settings.X_FRAME_OPTIONS.upper()
    headers["Content-Length"] = ""
    if cors:
        _cors(headers, origin, private_network)
    if settings.SECURE_HSTS_SECONDS and secure:
        sts = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            sts += "; includeSubDomains"
        if settings.SECURE_HSTS_PRELOAD:
            sts += "; preload"
        headers["Strict-Transport-Security"] = sts
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers["X-Content-Type-Options"] = "nosniff"
    if settings.SECURE_REFERRER_POLICY:
        policy = settings.SECURE_REFERRER_POLICY
        headers["Referrer-Policy"] = policy if isinstance(policy, str) else ",".join(policy)
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers["Cross-Origin-Opener-Policy"] = settings.SECURE_CROSS_ORIGIN_OPENER_POLICY
    return headers


setting_changed.connect(lambda **kwargs: _headers_for.cache_clear(), weak=False, dispatch_uid="front-headers")


def _cors(headers: dict[str, str], origin: str | None, private_network: str | None) -> None:
    """CorsMiddleware.add_response_headers for a GET, with corsheaders' own origin checks."""
    from corsheaders.conf import conf

    # patch_vary_headers: an existing Vary keeps its place and gains the field.
    vary = headers.get("Vary")
    if vary is None:
        headers["Vary"] = "origin"
    elif "origin" not in (field.strip().lower() for field in vary.split(",")):
        headers["Vary"] = f"{vary}, origin"
    if not origin:
        return
    try:
        url = urlsplit(origin)
    except ValueError:
        return
    if not conf.CORS_ALLOW_ALL_ORIGINS and not _cors_middleware().origin_found_in_white_lists(origin, url):
        return
    allow_all = conf.CORS_ALLOW_ALL_ORIGINS and not conf.CORS_ALLOW_CREDENTIALS
    headers["access-control-allow-origin"] = "*" if allow_all else origin
    if conf.CORS_ALLOW_CREDENTIALS:
        headers["access-control-allow-credentials"] = "true"
    if len(conf.CORS_EXPOSE_HEADERS):
        headers["access-control-expose-headers"] = ", ".join(conf.CORS_EXPOSE_HEADERS)
    if conf.CORS_ALLOW_PRIVATE_NETWORK and private_network == "true":
        headers["access-control-allow-private-network"] = "true"


_cors_instance = None


def _cors_middleware():
    global _cors_instance
    if _cors_instance is None:
        from corsheaders.middleware import CorsMiddleware

        _cors_instance = CorsMiddleware(lambda request: None)
    return _cors_instance
