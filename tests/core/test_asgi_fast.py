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
from asgiref.sync import SyncToAsync
from channels.consumer import AsyncConsumer
from channels.db import DatabaseSyncToAsync
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.utils import await_many_dispatch
from corsheaders.middleware import CorsMiddleware
from django.conf import settings
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCacheClient
from django.http.request import HttpRequest
from django.middleware import clickjacking, common, csrf, security
from django.utils.deprecation import MiddlewareMixin
from rest_framework.views import APIView
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import Protocol as WsProtocol
from websockets.protocol import State
from websockets.server import ServerProtocol
from whitenoise.middleware import WhiteNoiseMiddleware

from collab.accounts.views import WsTicketView
from collab.core import asgi_fast
from collab.core.asgi_fast import middleware
from collab.core.asgi_fast.consumer_loop import LeanConsumerLoop
from collab.core.asgi_fast.socket_db import socket_db
from collab.realtime.consumer import CollabConsumer
from presence.views import CourseOnlineView


def fingerprint(function) -> str:
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]


# (replaced upstream code, the piece that relies on it) -> fingerprint when last ported.
FINGERPRINTS = {
    (MiddlewareMixin.__acall__, "middleware.py: InlineHooksMixin.__acall__"): "adf8cbcaf9f11e45",
    (WhiteNoiseMiddleware.__call__, "middleware.py: WhiteNoiseMiddleware.__acall__"): "538b06958308b801",
    (RedisCacheClient._get_connection_pool, "cache.py: SharedPoolRedisCacheClient"): "025850f6ffcb98ed",
    (AsyncConsumer.__call__, "consumer_loop.py: LeanConsumerLoop.__call__"): "e52238720872dbc3",
    (AsyncConsumer.dispatch, "consumer_loop.py: LeanConsumerLoop.dispatch"): "39f34e7d4fb0f655",
    (await_many_dispatch, "consumer_loop.py: LeanConsumerLoop._stock_loop"): "30ef889498560da3",
    # SocketRooms.send_text does what these two do for a text frame, in one step.
    (AsyncWebsocketConsumer.send, "realtime/socket_rooms.py: SocketRooms.send_text"): "52ce6c1290fea217",
    (AsyncConsumer.send, "realtime/socket_rooms.py: SocketRooms.send_text"): "bc80485d75ed3e04",
    # FrameWriter.ready/write mirror uvicorn's `websocket.send` branch and websockets' framing.
    (WebSocketsSansIOProtocol.send, "frame_write.py: FrameWriter.ready, write"): "d4919ed760ce9f7b",
    (WebSocketsSansIOProtocol.connection_lost, "frame_write.py: FrameWriter.ready"): "dd116afc4d8034e1",
    (WebSocketsSansIOProtocol.pause_writing, "frame_write.py: FrameWriter.ready (writable)"): "4830f7e0d81f877d",
    (WsProtocol.send_text, "frame_write.py: text_frame"): "9268f18e580a5d67",
    (WsProtocol.send_frame, "frame_write.py: text_frame"): "e20fcfacea14cacd",
    (WsProtocol.data_to_send, "frame_write.py: FrameWriter.write"): "959589a5e74ef26f",
    (APIView.as_view, "async_front.py: the attributes copied onto the wrapper"): "585ab039c9c5dc4f",
    # front.py reproduces what these add to, or do before, a 200 JSON answer.
    (security.SecurityMiddleware.process_request, "front.py: _stack_headers (SSL redirect)"): "3373d262748cbe3e",
    (security.SecurityMiddleware.process_response, "front.py: _stack_headers"): "3822bd0d5f79f4a3",
    (clickjacking.XFrameOptionsMiddleware.process_response, "front.py: _stack_headers"): "045e5788270860c6",
    (common.CommonMiddleware.process_request, "front.py: _stack_headers (host)"): "993f4d1f2084e01e",
    (common.CommonMiddleware.process_response, "front.py: _stack_headers"): "eb5ad294e9fbda9b",
    (CorsMiddleware.add_response_headers, "front.py: _cors"): "aa861e23df0575ba",
    (APIView.finalize_response, "front.py: drf_view_headers"): "cbcaead2dd2d71f6",
    (HttpRequest.get_host, "front.py: _stack_headers (host)"): "02735c918f5ce9f1",
    (HttpRequest.scheme.fget, "front.py: _is_secure"): "c0908b0322122369",
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


# -- consumer loop ----------------------------------------------------------------------------


def test_the_consumer_replaces_channels_loop_and_dispatch():
    assert CollabConsumer.__mro__.index(LeanConsumerLoop) < CollabConsumer.__mro__.index(AsyncConsumer)
    # What the lean loop sets itself, in place of AsyncConsumer.__call__.
    source = inspect.getsource(AsyncConsumer.__call__)
    for attribute in ("scope", "channel_layer", "channel_name", "channel_receive", "base_send"):
        assert f"self.{attribute}" in source, f"AsyncConsumer.__call__ no longer sets {attribute}"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("off", [None, "group_delivery", "consumer_loop"], ids=["lean", "queued", "stock"])
async def test_a_socket_answers_and_hears_its_rooms_with_either_loop(off, settings, student):
    """The same socket behaviour on the lean loop (group messages handed over directly,
    or queued with `group_delivery` off) and on Channels' own: an ack for a frame (the
    client source) and a broadcast (the channel layer source). The timers' source
    is tested by tests/realtime/test_lifetime.py (and by the whole socket suite run
    with ASGI_FAST=none)."""
    from collab.realtime.broadcast import broadcast_now
    from collab.realtime.rooms import user_room
    from tests.conftest import ws_connect
    from tests.sockets import receive_event, request

    if off:
        settings.ASGI_FAST = [piece for piece in asgi_fast.PIECES if piece != off]
    comm = await ws_connect(student)
    try:
        answer = await request(comm, "presence-heartbeat", {})
        assert answer["event"] == "ack", answer
        await broadcast_now(user_room(student.id), "probe", {})
        assert (await receive_event(comm, "probe"))["data"] == {}
    finally:
        await comm.disconnect()


# -- frame write --------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "a", "é" * 70, "x" * 200, "y" * 70_000])
def test_a_built_frame_is_the_one_websockets_sends_for_the_text(text):
    from collab.core.asgi_fast.frame_write import text_frame

    connection = ServerProtocol()
    connection.state = State.OPEN
    connection.send_text(text.encode())
    assert text_frame(text) == b"".join(connection.data_to_send())


def test_the_frame_writer_is_only_for_uvicorns_sansio_protocol(settings):
    from collab.core.asgi_fast.frame_write import FrameWriter, frame_writer

    async def other_send(message):
        pass

    assert frame_writer(other_send) is None
    protocol = WebSocketsSansIOProtocol.__new__(WebSocketsSansIOProtocol)
    assert isinstance(frame_writer(protocol.send), FrameWriter)
    settings.ASGI_FAST = [piece for piece in asgi_fast.PIECES if piece != "frame_write"]
    assert frame_writer(protocol.send) is None


# -- socket database pool -----------------------------------------------------------------------


def test_channels_database_wrapper_still_takes_an_executor():
    parameters = inspect.signature(SyncToAsync.__init__).parameters
    assert {"thread_sensitive", "executor"} <= set(parameters)
    assert issubclass(DatabaseSyncToAsync, SyncToAsync)


@pytest.mark.django_db(transaction=True)
async def test_socket_db_calls_run_on_the_pool_and_on_channels_thread_when_off(settings):
    assert (await socket_db(lambda: threading.current_thread().name)()).startswith("socket-db")
    settings.ASGI_FAST = [piece for piece in asgi_fast.PIECES if piece != "socket_db"]
    assert not (await socket_db(lambda: threading.current_thread().name)()).startswith("socket-db")


# -- async front ----------------------------------------------------------------------------------


@pytest.mark.parametrize("view_class", [CourseOnlineView, WsTicketView], ids=lambda view: view.__name__)
def test_the_fronted_view_carries_what_django_and_the_schema_read(settings, view_class):
    fronted = view_class.as_view()
    assert inspect.iscoroutinefunction(fronted)
    assert fronted.cls is view_class and fronted.initkwargs == {} and fronted.csrf_exempt
    settings.ASGI_FAST = [piece for piece in asgi_fast.PIECES if piece != "async_front"]
    plain = view_class.as_view()
    assert not inspect.iscoroutinefunction(plain) and plain.cls is view_class


def test_the_front_knows_the_installed_middleware():
    """front.py reproduces these middleware's effect on its answers; with any other list
    it leaves every request to Django (correct, but the front route is then off)."""
    from collab.core.asgi_fast import front

    assert settings.MIDDLEWARE == front.KNOWN_MIDDLEWARE
