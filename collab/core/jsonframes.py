"""JSON for socket frames: orjson, encoded once per broadcast; and the one payload
convention of the socket, shared by every app:

- keys are camelCase, ids are strings, times are ISO 8601 in UTC ending in `Z` (`iso`),
  exactly as the REST API writes them;
- an object that also has a REST representation (a chat message, a live session …) is
  built by that REST serializer (`rest_payload`), so the same object is the same JSON on
  both doors (tests/core/test_wire_format.py compares them event by event).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson


def dumps(value: Any) -> str:
    # UUIDs, datetimes (ISO 8601 with offset) and dataclasses are handled natively.
    return orjson.dumps(value, option=orjson.OPT_UTC_Z).decode()


def loads(text: str | bytes) -> Any:
    return orjson.loads(text)


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
