"""JSON for socket frames: orjson, encoded once per broadcast."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson


def dumps(value: Any) -> str:
    # UUIDs, datetimes (ISO 8601 with offset) and dataclasses are handled natively.
    return orjson.dumps(value, option=orjson.OPT_UTC_Z).decode()


def loads(text: str | bytes) -> Any:
    return orjson.loads(text)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 for payloads, None stays None."""
    return value.isoformat() if value is not None else None
