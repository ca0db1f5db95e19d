"""The protocol document lists every socket event with its payload."""

import re
from pathlib import Path

import pytest

from collab.realtime.dispatch import registered_events

DOCS = Path(__file__).resolve().parents[2] / "docs"
APPS = ["presence", "liveSessions", "officehours", "studygroups"]
EVENT_NAME = re.compile(r'^[A-Z_]+ = "((?:[a-z]+-)+[a-z]+)"', re.MULTILINE)


def _all_docs() -> str:
    return "\n".join(path.read_text() for path in [DOCS / "protocol.md", *sorted((DOCS / "protocol").glob("*.md"))])


def test_every_registered_client_event_is_documented():
    docs = _all_docs()
    # Test modules register their own `test-…` events; those are not the protocol.
    events = [event for event in registered_events() if not event.startswith("test-")]
    missing = [event for event in events if f"`{event}`" not in docs]
    assert not missing, f"socket events without documentation: {missing}"


@pytest.mark.parametrize("app", APPS)
def test_every_event_an_app_defines_is_on_its_page(app):
    root = Path(__file__).resolve().parents[2]
    names = EVENT_NAME.findall((root / app / "events.py").read_text())
    page = (DOCS / "protocol" / f"{app}.md").read_text()
    assert names, f"{app}/events.py defines no event names"
    missing = [name for name in names if name not in page]
    assert not missing, f"{app} events missing from docs/protocol/{app}.md: {missing}"
