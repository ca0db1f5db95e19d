"""The two wire formats the load generators speak, over the same `websockets` client.

One client code path measures both servers (issue 16): the sockets, the reader task, the
latency stamps and the bookkeeping are the same; only the text of a frame differs.

* collab: `{"event", "data", "ref"?}` JSON text frames (docs/protocol.md).
* the Socket.IO peer (bench/peers/socketio): Engine.IO v4 over a websocket, no polling.
  The server opens with `0{…}`; the client sends `40{auth}` (Socket.IO CONNECT to the
  main namespace) and gets `40{sid}` or `44{error}`; events are `42["name", data]`, an
  event with an acknowledgement `42<id>["name", data]` and its reply `43<id>[data]`;
  the server pings with `2` and the client answers `3`.

The same texts python-socketio's client would send; a hand-written codec instead of that
client because its per-frame cost (Engine.IO packet objects, a queue and a task per
event) lands on the same two cores as the servers and would be charged to the peer.
"""

from __future__ import annotations

from typing import Any

import orjson

COLLAB = "collab"
SOCKETIO = "socketio"


def ws_url(proto: str, base: str) -> str:
    """`base` is ws://host:port; the endpoint path of each server."""
    if proto == SOCKETIO:
        return f"{base}/socket.io/?EIO=4&transport=websocket"
    return f"{base}/ws/"


def encode(proto: str, event: str, data: dict, ref: str | int | None = None) -> str:
    if proto == SOCKETIO:
        body = orjson.dumps([event, data]).decode()
        return f"42{ref}{body}" if ref is not None else f"42{body}"
    frame: dict[str, Any] = {"event": event, "data": data}
    if ref is not None:
        frame["ref"] = ref
    return orjson.dumps(frame).decode()


PONG = "3"


def decode(proto: str, raw: str) -> dict | str | None:
    """A frame as collab's shape `{"event", "data", "ref"?}`; `PONG` when the frame was a
    ping to answer; None for frames without an event (Engine.IO noops, CONNECT replies)."""
    if proto != SOCKETIO:
        return orjson.loads(raw)
    kind = raw[:2]
    if kind == "42":
        rest = raw[2:]
        start = rest.index("[")
        event, *args = orjson.loads(rest[start:])
        return {"event": event, "data": args[0] if args else None}
    if kind == "43":
        rest = raw[2:]
        start = rest.index("[")
        args = orjson.loads(rest[start:])
        return {"event": "ack", "ref": rest[:start], "data": args[0] if args else None}
    if raw == "2":
        return PONG
    if kind == "44":
        return {"event": "error", "data": {"code": "connect_error", **orjson.loads(raw[2:] or "{}")}}
    return None


async def socketio_handshake(ws, token: str) -> None:
    """After the websocket opened: Engine.IO open packet, then Socket.IO CONNECT with the
    access token as `auth`. Raises ConnectionError when the server refuses."""
    opened = await ws.recv()
    if not opened.startswith("0"):
        raise ConnectionError(f"no Engine.IO open packet: {opened[:60]!r}")
    await ws.send("40" + orjson.dumps({"token": token}).decode())
    while True:
        reply = await ws.recv()
        if reply.startswith("40"):
            return
        if reply.startswith("44"):
            raise ConnectionError(f"refused: {reply[2:120]}")
        if reply == "2":
            await ws.send(PONG)
