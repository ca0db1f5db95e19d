"""Presence events: names, rooms and payloads.

`presence-changed {userId, name, status, activity, lastSeenAt}` (the REST item) is
built once per change from what *others* see and sent to the `course-` room of each of the user's courses,
coalesced per room (presence.fanout: several changes in one window travel as one
`presence-batch {users: [...]}`); the user's own `user-` room gets the self view
(their real choice, plus `connected`) when that changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from collab.core.jsonframes import iso

PRESENCE_CHANGED = "presence-changed"
# Several changes in one course room within one fan-out window (presence.fanout).
PRESENCE_BATCH = "presence-batch"

# Client -> server events owned by this app.
UPDATE_PRESENCE = "update-presence"
PRESENCE_HEARTBEAT = "presence-heartbeat"
UPDATE_ACTIVITY = "update-activity"


@dataclass(frozen=True)
class PresenceView:
    """One user's presence as one viewer sees it (the REST item and the socket payload)."""

    user_id: str
    name: str
    status: str
    activity: str
    last_seen_at: datetime | None
    # Only in one's own view: whether any lease of the user is live.
    connected: bool | None = None


def presence_item(view: PresenceView, *, staff: bool | None = None) -> dict:
    """The REST list item: the payload plus the name, wire-ready (camelCase keys; the
    renderer turns the datetime into ISO 8601 "…Z"). `staff` (a course's list only):
    whether the user is staff of that course (its instructor or a TA)."""
    item = {
        "userId": view.user_id,
        "name": view.name,
        "status": view.status,
        "activity": view.activity,
        "lastSeenAt": view.last_seen_at,
    }
    if view.connected is not None:
        item["connected"] = view.connected
    if staff is not None:
        item["staff"] = staff
    return item


def presence_payload(view: PresenceView) -> dict:
    """The socket payload (`presence-changed`, the items of `presence-batch`, the acks of
    update-presence and update-activity): the REST item `presence_item` builds, with its
    time already ISO 8601 "…Z" as the REST renderer writes it, so the same presence is
    the same JSON on both doors (the name included)."""
    item = presence_item(view)
    item["lastSeenAt"] = iso(view.last_seen_at)
    return item
