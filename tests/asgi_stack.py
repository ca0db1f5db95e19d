"""Requests through the real ASGI stack in-process: the front routes
(collab.core.asgi_fast.front) over Django's handler, telling which of the two answered."""

from __future__ import annotations

import asyncio

from asgiref.sync import async_to_sync

from collab.asgi import django_asgi_app
from collab.core.asgi_fast.front import front_app


class FrontStack:
    """front_app over Django's handler, remembering whether Django answered and what
    body it was given."""

    def __init__(self):
        self.django_calls = 0
        self.django_bodies: list[bytes] = []

        async def django(scope, receive, send):
            self.django_calls += 1

            async def seen():
                message = await receive()
                if message["type"] == "http.request":
                    self.django_bodies.append(message.get("body", b""))
                return message

            await django_asgi_app(scope, seen, send)

        self.app = front_app(django)

    def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, query: str = "", body: bytes = b""
    ) -> tuple[int, list, bytes, str]:
        """(status, raw headers, body, "front" or "django")."""
        before = self.django_calls
        status, raw_headers, answer = async_to_sync(self._request)(method, path, headers or {}, query, body)
        return status, raw_headers, answer, "django" if self.django_calls > before else "front"

    def get(self, path: str, headers: dict[str, str] | None = None, query: str = "") -> tuple[int, list, bytes, str]:
        return self.request("GET", path, headers, query)

    def post(
        self, path: str, headers: dict[str, str] | None = None, query: str = "", body: bytes = b""
    ) -> tuple[int, list, bytes, str]:
        return self.request("POST", path, headers, query, body)

    async def _request(self, method, path, headers, query, body):
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": query.encode(),
            "headers": [
                (name.lower().encode(), value.encode()) for name, value in {"Host": "testserver", **headers}.items()
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        sent = []
        # The body in two pieces when it has more than one byte, as a server may deliver it.
        pieces = [body[:1], body[1:]] if len(body) > 1 else [body]
        pending = [
            {"type": "http.request", "body": piece, "more_body": index < len(pieces) - 1}
            for index, piece in enumerate(pieces)
        ]

        async def receive():
            if pending:
                return pending.pop(0)
            await asyncio.Event().wait()  # the client stays connected

        async def send(message):
            sent.append(message)

        await self.app(scope, receive, send)
        start = next(message for message in sent if message["type"] == "http.response.start")
        answer = b"".join(message.get("body", b"") for message in sent if message["type"] == "http.response.body")
        return start["status"], start["headers"], answer
