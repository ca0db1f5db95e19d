"""Every socket event refuses a wrong-typed field the same way (issue 15): an `error` frame
with code `invalid`, the frame's ref, `fields` naming the field, and a message for people
(`<field>: <what is wrong>`), never a Python repr of DRF's errors or of the input.

The walk covers every event in the registry (collab.realtime.dispatch): the fields of an
event are the ones its refusal of `{}` names (every client event has one required
field, but the heartbeat, which takes none), and each is sent with values of every
wrong JSON type."""

from __future__ import annotations

import re

import pytest

from collab.core.errors import InvalidInput, error_fields, invalid_message
from collab.realtime.dispatch import registered_events
from tests.conftest import ws_connect

pytestmark = pytest.mark.django_db(transaction=True)

# Whatever a repr leaves in a text: DRF's ErrorDetail, a list or dict of quoted strings.
REPR = re.compile(r"ErrorDetail|\[\s*['\"{\[]|\{\s*['\"]|\bcode=")

# Values of every JSON type but a string: no client-event field takes any of them, but
# `rooms` of `resume`, which is an object (its own cases below).
WRONG_TYPES = [7, 1.5, True, None, [], ["online"], [{"a": 1}], {"a": 1}]
OBJECT_FIELDS = {("resume", "rooms")}
# Events with no field to get wrong.
NO_FIELDS = {"presence-heartbeat"}


def client_events() -> list[str]:
    # Other test modules register `test-*` events of their own in the same registry.
    return [name for name in registered_events() if not name.startswith("test-")]


def assert_clean_refusal(reply: dict, ref: str, field: str) -> None:
    assert reply["event"] == "error" and reply.get("ref") == ref, reply
    data = reply["data"]
    assert data["code"] == "invalid", reply
    assert field in data["fields"], reply
    message = data["message"]
    # Other required fields may be missing too: the message names one of the refused.
    assert isinstance(message, str) and message.split(":")[0].split(".")[0] in data["fields"], reply
    assert not REPR.search(message), reply


@pytest.fixture
async def sock(student, settings):
    settings.SOCKET_RATE_BURST = 10_000
    communicator = await ws_connect(student)
    yield communicator
    await communicator.disconnect()


async def ask(sock, event: str, data: dict, ref: str) -> dict:
    await sock.send_json_to({"event": event, "data": data, "ref": ref})
    return await sock.receive_json_from(timeout=5)


async def test_every_event_refuses_wrong_types_with_a_clear_message_naming_the_field(sock):
    walked = 0
    for event in client_events():
        empty = await ask(sock, event, {}, f"{event}:empty")
        if event in NO_FIELDS:
            assert empty["event"] == "ack", empty
            continue
        assert empty["event"] == "error" and empty["data"]["code"] == "invalid", empty
        fields = list(empty["data"]["fields"])
        assert fields, empty
        assert_clean_refusal(empty, f"{event}:empty", fields[0])
        for field in fields:
            for n, value in enumerate(WRONG_TYPES):
                if (event, field) in OBJECT_FIELDS and isinstance(value, dict):
                    continue
                ref = f"{event}:{field}:{n}"
                assert_clean_refusal(await ask(sock, event, {field: value}, ref), ref, field)
                walked += 1
    assert walked >= 100, walked


@pytest.mark.parametrize(
    ("event", "data", "field"),
    [
        ("join-live-session", {"sessionId": 7}, "sessionId"),
        ("join-live-session", {"sessionId": None}, "sessionId"),
        ("join-live-session", {"sessionId": []}, "sessionId"),
        ("update-presence", {"status": ["online"]}, "status"),
        ("update-presence", {"status": {"a": 1}}, "status"),
        ("update-presence", {"status": 7}, "status"),
        ("resume", {"rooms": []}, "rooms"),
        ("resume", {"rooms": {"x": "1"}}, "rooms"),
        ("resume", {"rooms": {"x": {"seq": [1]}}}, "rooms"),
        ("reauth", {"token": 7}, "token"),
    ],
)
async def test_the_cases_found(sock, event, data, field):
    assert_clean_refusal(await ask(sock, event, data, "r1"), "r1", field)


async def test_a_wrong_choice_lists_the_choices_not_the_input(sock):
    reply = await ask(sock, "update-presence", {"status": ["online"]}, "c1")
    assert reply["data"]["message"] == "status: Must be one of: online, away, busy, offline."
    assert reply["data"]["fields"] == {"status": ["Must be one of: online, away, busy, offline."]}


# -- the message of any DRF error shape ------------------------------------------------------


@pytest.mark.parametrize(
    ("errors", "message", "fields"),
    [
        ({"sessionId": ["Bad."]}, "sessionId: Bad.", {"sessionId": ["Bad."]}),
        # A ListField's child errors: keyed by index (an int, not JSON).
        ({"userIds": {0: ["Bad."]}}, "userIds.0: Bad.", {"userIds": {"0": ["Bad."]}}),
        # A nested serializer.
        ({"slot": {"startTime": ["Bad."]}}, "slot.startTime: Bad.", {"slot": {"startTime": ["Bad."]}}),
        # A list of nested serializers: the valid items are empty.
        (
            {"materials": [{}, {"url": ["Bad."]}]},
            "materials.1.url: Bad.",
            {"materials": [{}, {"url": ["Bad."]}]},
        ),
        ({"nonFieldErrors": ["Give one."]}, "Give one.", {"nonFieldErrors": ["Give one."]}),
        (["Give one."], "Give one.", {"nonFieldErrors": ["Give one."]}),
        ({"x": []}, "x: The input is not valid.", {"x": []}),
        ({}, "The input is not valid.", {}),
    ],
)
def test_any_error_shape_gives_a_message_and_plain_fields(errors, message, fields):
    from rest_framework.exceptions import ErrorDetail

    def detailed(value):
        if isinstance(value, dict):
            return {key: detailed(item) for key, item in value.items()}
        if isinstance(value, list):
            return [detailed(item) for item in value]
        return ErrorDetail(value, code="invalid")

    assert invalid_message(error_fields(detailed(errors))) == message
    refused = InvalidInput.for_fields(detailed(errors))
    assert (refused.message, refused.fields) == (message, fields)
    assert all(type(text) is str for text in _leaves(refused.fields))


def _leaves(value):
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


# -- one situation, one message: REST and the socket refuse the same input alike ------------

SAME_INPUT = [
    # (REST method, path, body; socket event, data) that run the same serializer or service.
    ("put", "/api/presence/status", {"status": 7}, "update-presence", {"status": 7}),
    ("put", "/api/presence/status", {"status": ["online"]}, "update-presence", {"status": ["online"]}),
    ("put", "/api/presence/status", {"status": "gone"}, "update-presence", {"status": "gone"}),
    ("put", "/api/presence/status", {}, "update-presence", {}),
    ("put", "/api/presence/activity", {"activity": "a\u0000b"}, "update-activity", {"activity": "a\u0000b"}),
    ("put", "/api/presence/activity", {"activity": "x" * 1000}, "update-activity", {"activity": "x" * 1000}),
    ("put", "/api/presence/activity", {"activity": {"a": 1}}, "update-activity", {"activity": {"a": 1}}),
]
MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.mark.parametrize(("method", "path", "body", "event", "data"), SAME_INPUT)
async def test_rest_and_the_socket_refuse_the_same_input_with_one_message(
    student, sock, method, path, body, event, data
):
    from channels.db import database_sync_to_async

    from tests.conftest import client_for

    @database_sync_to_async
    def over_rest():
        return getattr(client_for(student), method)(path, body, format="json")

    response = await over_rest()
    assert response.status_code == 400, response.content
    reply = await ask(sock, event, data, "same")
    assert reply["event"] == "error", reply
    assert reply["data"] == response.json()["error"]


async def test_a_missing_session_is_one_message_on_both_doors(student, sock):
    from channels.db import database_sync_to_async

    from tests.conftest import client_for

    response = await database_sync_to_async(
        lambda: client_for(student).post(f"/api/live-sessions/{MISSING}/join", format="json")
    )()
    reply = await ask(sock, "join-live-session", {"sessionId": MISSING}, "gone")
    assert reply["data"] == response.json()["error"] and reply["data"]["code"] == "session_not_found"
