"""JSON for socket frames: orjson, encoded once per broadcast; and the one payload
convention of the socket, shared by every app:

- keys are camelCase, ids are strings, times are ISO 8601 in UTC ending in `Z` (`iso`),
  exactly as the REST API writes them;
- an object that also has a REST representation (a chat message, a live session …) is
  built by that REST serializer (`rest_payload`), so the same object is the same JSON on
  both doors (tests/core/test_wire_format.py compares them event by event).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import orjson

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def dumps(value: Any) -> str:
    """`value` as JSON text. UUIDs, datetimes (ISO 8601, `Z`) and dataclasses natively.

    A lone surrogate (only ever from a client's frame, echoed in an error message) is
    written as U+FFFD: orjson refuses it, and it is not text anyway."""
    try:
        return orjson.dumps(value, option=orjson.OPT_UTC_Z).decode()
    except orjson.JSONEncodeError:
        return orjson.dumps(_scrub(value), option=orjson.OPT_UTC_Z).decode()


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_scrub(key): _scrub(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(item) for item in value]
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads(text: str | bytes) -> Any:
    """JSON text → Python value; ValueError if it is not JSON.

    JSON allows an escaped lone surrogate (`"\\ud800"`) and orjson refuses the whole
    text for it; the standard parser reads it, so the text rule can refuse that one
    field as `invalid` and name it (collab.core.text), as REST does."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        if isinstance(text, bytes) or "\\u" not in text:
            raise
        try:
            return json.loads(text, parse_constant=_refuse_constant)
        except RecursionError:  # orjson stops at depth 1024 with a JSONDecodeError
            raise ValueError("nested too deeply") from None


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with `Z`, as DRF's DateTimeField writes it; None stays None."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def rest_payload(serializer_class, instance, **context) -> dict:
    """`instance` as its REST serializer shows it, camelCased as the REST renderer does:
    the socket payload of an object that has a REST representation."""
    from djangorestframework_camel_case.util import camelize

    return camelize(serializer_class(instance, context=context).data)
