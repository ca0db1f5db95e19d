"""Room frames written straight to uvicorn's websockets-sansio connection (piece `frame_write`).

Every recipient of a broadcast gets the same bytes: a server's text frame is unmasked, and
with permessage-deflate off (the Procfile: `--ws-per-message-deflate false`) no extension
changes it. Through ASGI each recipient pays uvicorn's `send` (`await writable.wait()`, its
state checks, the text encoded, the frame built by websockets, `data_to_send`, a join)
and our wrapper's coroutine, about half of the Python of a delivery (docs/performance.md
F4). Here the frame is built once per broadcast (`text_frame`) and written to each idle
socket's transport by `FrameWriter.write`, under the same conditions as uvicorn's `send`
writes a `websocket.send` at once: the handshake done, no close sent, the connection
open, the transport not paused (`writable`) nor closing. When any of them does not hold,
`ready()` says so and the caller sends through ASGI as before (which waits, or raises).

Only for uvicorn's `WebSocketsSansIOProtocol` (the Procfile's `--ws websockets-sansio`):
`frame_writer` finds it as the owner of the ASGI `send` it was handed and returns None for
any other server, a wrapped `send`, or with the piece off. tests/core/test_asgi_fast.py
fingerprints the uvicorn and websockets code this mirrors.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from collab.core.asgi_fast import enabled


@functools.lru_cache(maxsize=16)
def text_frame(text: str) -> bytes:
    """The bytes of a server's final, unmasked text frame carrying `text` (RFC 6455 5.2),
    no extensions. Remembered for the last few texts: a broadcast's recipients share one."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False, extensions=[])


class FrameWriter:
    """Writes built frames to one uvicorn websockets-sansio connection."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: WebSocketsSansIOProtocol) -> None:
        self._protocol = protocol

    def ready(self) -> bool:
        """Whether uvicorn's `send` would write a text frame now, without waiting or
        raising (see its `websocket.send` branch), and nothing changes the frame's bytes."""
        protocol = self._protocol
        conn = protocol.conn
        return (
            protocol.writable.is_set()
            and protocol.handshake_complete
            and not protocol.disconnected
            and not protocol.close_sent
            and protocol.initial_response is None
            and conn.state is State.OPEN
            and not conn.expect_continuation_frame
            and not conn.extensions
            and not protocol.transport.is_closing()
        )

    def write(self, frame: bytes) -> None:
        """Writes `frame` (from `text_frame`) after anything the connection has queued. Only
        right after `ready()` said True, with nothing awaited in between."""
        protocol = self._protocol
        queued = protocol.conn.data_to_send()
        protocol.transport.write(b"".join([*queued, frame]) if queued else frame)

    def abort(self) -> None:
        """Drops the connection at once, its write buffer discarded (a client that does not
        read would never let a close frame through). uvicorn sees the connection lost: a
        `send` waiting for the buffer to drain raises ClientDisconnected, and the app
        receives `websocket.disconnect` (1006 to the client)."""
        self._protocol.transport.abort()


def frame_writer(server_send: Callable) -> FrameWriter | None:
    """A writer for the connection whose ASGI `send` this is, or None (another server, a
    wrapped `send`, or the piece off): then frames go through ASGI."""
    if not enabled("frame_write"):
        return None
    protocol = getattr(server_send, "__self__", None)
    if type(protocol) is not WebSocketsSansIOProtocol:
        return None
    return FrameWriter(protocol)
