"""Keeps socket credentials out of the web server's log.

uvicorn logs every WebSocket handshake with its path *and query string* on its
`uvicorn.error` logger (`127.0.0.1:5000 - "WebSocket /ws/?ticket=…" 403`), whatever
`--no-access-log` says. A browser's ticket travels in that query string (docs/protocol.md,
"Connecting"): one refused by origin is not consumed and would stay usable from the log
for its 30 s, and a JWT someone put in `?token=` (ignored) would be usable for minutes.
"""

from __future__ import annotations

import logging
import re

_CREDENTIAL = re.compile(r"([?&](?:ticket|token|access|refresh)=)[^&\s\"]*", re.IGNORECASE)
REDACTED = "[redacted]"


def redact_credentials(text: str) -> str:
    """`/ws/?ticket=abc&x=1` → `/ws/?ticket=[redacted]&x=1` (query values of credential names)."""
    return _CREDENTIAL.sub(rf"\g<1>{REDACTED}", text)


class RedactSocketCredentials(logging.Filter):
    """Rewrites the arguments of a record in place; never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(redact_credentials(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str) and not record.args:
            record.msg = redact_credentials(record.msg)
        return True


def install() -> None:
    """Adds the filter to the loggers the ASGI servers log handshakes on (uvicorn's; daphne
    logs the path without its query). Idempotent."""
    for name in ("uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSocketCredentials) for f in logger.filters):
            logger.addFilter(RedactSocketCredentials())
