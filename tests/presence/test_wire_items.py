"""The fast list items render exactly as the documented serializer would."""

import json
from datetime import UTC, datetime

from djangorestframework_camel_case.render import CamelCaseJSONRenderer

from collab.core.renderers import WireReadyJSONRenderer
from presence.events import PresenceView, presence_item
from presence.serializers import PresenceItemSerializer


def _both(view: PresenceView) -> tuple[dict, dict]:
    fast = json.loads(WireReadyJSONRenderer().render({"users": [presence_item(view)]}))
    documented = json.loads(CamelCaseJSONRenderer().render({"users": [PresenceItemSerializer(view).data]}))
    return fast, documented


def test_an_others_view_item_matches_the_serializer():
    view = PresenceView(
        "4f7a0c1e-3c7b-4e2a-9d7c-2a1f5b6c7d8e",
        "Ada",
        "busy",
        "Viewing Course: JS",
        datetime(2026, 11, 25, 17, 30, 23, 153394, tzinfo=UTC),
    )
    fast, documented = _both(view)
    assert fast == documented
    assert fast["users"][0]["lastSeenAt"] == "2026-11-25T17:30:23.153394Z"


def test_a_self_view_item_with_connected_and_no_last_seen_matches_the_serializer():
    view = PresenceView("4f7a0c1e-3c7b-4e2a-9d7c-2a1f5b6c7d8e", "Ada", "offline", "", None, connected=True)
    fast, documented = _both(view)
    assert fast == documented
    assert fast["users"][0]["connected"] is True
