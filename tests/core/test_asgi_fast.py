"""Guards for collab/core/asgi_fast/: each piece relies on framework code it replaces or
reads, and these tests fail loudly when that code changes, so an upgrade of Django,
Channels, DRF or WhiteNoise cannot break a piece silently.

A fingerprint is a hash of the replaced function's source. When one fails: read the new
upstream code next to the piece named in the message, port what changed (or turn the
piece off with ASGI_FAST), then record the new fingerprint here.
"""

from __future__ import annotations

import hashlib
import inspect
import threading

import pytest
from django.conf import settings
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCacheClient
from django.middleware import clickjacking, common, csrf, security
from django.utils.deprecation import MiddlewareMixin
from rest_framework.views import APIView
from whitenoise.middleware import WhiteNoiseMiddleware

from collab.core import asgi_fast
from collab.core.asgi_fast import middleware
from presence.views import CourseOnlineView


def fingerprint(function) -> str:
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]


# (replaced upstream code, the piece that relies on it) -> fingerprint when last ported.
FINGERPRINTS = {
    (MiddlewareMixin.__acall__, "middleware.py: InlineHooksMixin.__acall__"): "adf8cbcaf9f11e45",
    (WhiteNoiseMiddleware.__call__, "middleware.py: WhiteNoiseMiddleware.__acall__"): "538b06958308b801",
    (RedisCacheClient._get_connection_pool, "cache.py: SharedPoolRedisCacheClient"): "025850f6ffcb98ed",
    (APIView.as_view, "async_front.py: the attributes copied onto the wrapper"): "585ab039c9c5dc4f",
}


@pytest.mark.parametrize(("replaced", "piece"), list(FINGERPRINTS), ids=lambda v: getattr(v, "__qualname__", v))
def test_the_replaced_framework_code_is_the_one_the_piece_was_written_against(replaced, piece):
    found = fingerprint(replaced)
    assert found == FINGERPRINTS[(replaced, piece)], (
        f"{replaced.__module__}.{replaced.__qualname__} changed (fingerprint {found}): "
        f"re-read collab/core/asgi_fast/{piece} against it, then record the new fingerprint"
    )


def test_every_piece_is_on_by_default_and_each_can_be_named():
    assert settings.ASGI_FAST == list(asgi_fast.PIECES)
    with pytest.raises(ValueError):
        asgi_fast.enabled("no-such-piece")


# -- middleware ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stock",
    [
        security.SecurityMiddleware,
        common.CommonMiddleware,
        clickjacking.XFrameOptionsMiddleware,
        auth.AuthenticationMiddleware,
        sessions.SessionMiddleware,
        messages.MessageMiddleware,
        csrf.CsrfViewMiddleware,
    ],
)
def test_the_hooks_called_inline_are_still_the_stock_middlewares_hooks(stock):
    ours = getattr(middleware, stock.__name__)
    assert issubclass(ours, stock) and issubclass(ours, MiddlewareMixin)
    hooks = [name for name in ("process_request", "process_response") if hasattr(stock, name)]
    assert hooks, f"{stock.__name__} has no process_request/process_response any more"
    for name in hooks:
        assert not inspect.iscoroutinefunction(getattr(stock, name)), f"{stock.__name__}.{name} is async now"


def test_csrf_still_has_the_sync_process_view_adapted_by_django():
    assert not inspect.iscoroutinefunction(csrf.CsrfViewMiddleware.process_view)


def test_whitenoise_still_offers_the_lookups_the_async_path_reads():
    for name in ("find_file", "serve"):
        assert callable(getattr(WhiteNoiseMiddleware, name, None)), name
    instance = WhiteNoiseMiddleware(lambda request: None)
    assert hasattr(instance, "files") and hasattr(instance, "autorefresh")


# -- cache ----------------------------------------------------------------------------------


def test_the_cache_client_still_has_the_attributes_the_shared_pool_reads():
    client = caches["default"]._cache
    for name in ("_servers", "_pool_class", "_pool_options", "_get_connection_pool_index"):
        assert hasattr(client, name), f"RedisCacheClient.{name} is gone"


def test_cache_objects_of_one_process_share_one_pool():
    pools = []

    def read() -> None:
        cache = caches.create_connection("default")
        pools.append(cache._cache._get_connection_pool(write=True))

    threads = [threading.Thread(target=read) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(pools) == 3 and len({id(pool) for pool in pools}) == 1


# -- async front ----------------------------------------------------------------------------------


def test_the_fronted_view_carries_what_django_and_the_schema_read(settings):
    fronted = CourseOnlineView.as_view()
    assert inspect.iscoroutinefunction(fronted)
    assert fronted.cls is CourseOnlineView and fronted.initkwargs == {} and fronted.csrf_exempt
    settings.ASGI_FAST = [piece for piece in asgi_fast.PIECES if piece != "async_front"]
    plain = CourseOnlineView.as_view()
    assert not inspect.iscoroutinefunction(plain) and plain.cls is CourseOnlineView
