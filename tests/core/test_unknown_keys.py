"""Unknown keys in a body are refused (collab/core/bodies.py), on every write route and on
the socket, and the OpenAPI schema says so (`additionalProperties: false`).

A client that sent `durationMinutes` where the field is `duration` was told only
"duration: This field is required."; one that misspelt an optional key got the default
without a word."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework import serializers

from collab.core.bodies import MSG_UNKNOWN_FIELD, BodySerializer
from collab.core.errors import InvalidInput
from collab.core.fields import StrictIntegerField
from collab.realtime.dispatch import validate
from tests.conftest import ws_connect
from tests.sockets import request

pytestmark = pytest.mark.django_db

UNKNOWN = "zzNotAField"


@pytest.fixture
def schema(client) -> dict:
    return client.get("/api/schema?format=json").json()


def _write_operations_with_a_body(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in ("post", "put", "patch", "delete") and "requestBody" in operation:
                yield method, path, operation


def test_every_request_body_of_the_schema_refuses_other_keys(schema):
    components = schema["components"]["schemas"]
    seen = 0
    for method, path, operation in _write_operations_with_a_body(schema):
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        body = components[ref.rsplit("/", 1)[1]]
        assert body.get("additionalProperties") is False, (method, path)
        seen += 1
    assert seen >= 20
    # Answers are not bodies: they may grow keys without breaking a client.
    assert "additionalProperties" not in components["LiveSession"]


def test_every_write_route_with_a_body_refuses_an_unknown_key_by_name(schema, api, admin_user, course):
    """Each route, as an admin (who passes the role checks), with a real course and
    instructor and other ids that name nothing (a route that finds its course first still
    reads the body before the rest)."""
    known = {"course_id": str(course.id), "instructor_id": str(course.instructor_id)}
    wrong = []
    for method, path, _operation in _write_operations_with_a_body(schema):
        url = re.sub(r"\{(\w+)\}", lambda m: known.get(m.group(1), str(uuid.uuid4())), path)
        response = getattr(api(admin_user), method)(url, {UNKNOWN: 1}, format="json")
        if response.status_code != 400:
            wrong.append((method, path, response.status_code, response.content))
            continue
        error = response.json()["error"]
        assert error["code"] == "invalid", (method, path, error)
        assert error["fields"][UNKNOWN] == [MSG_UNKNOWN_FIELD], (method, path, error)
        assert error["message"] == f"{UNKNOWN}: {MSG_UNKNOWN_FIELD}", (method, path, error)
    assert wrong == [], wrong


def test_a_misnamed_field_is_named_before_the_field_it_should_have_been(api, instructor):
    body = {"title": "Closures", "scheduledAt": (timezone.now() + timedelta(days=1)).isoformat()}
    response = api(instructor).post("/api/live-sessions", {**body, "durationMinutes": 60}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["message"] == "durationMinutes: Unknown field."
    assert error["fields"] == {"durationMinutes": ["Unknown field."], "duration": ["This field is required."]}
    # The same body with the right name is taken.
    assert api(instructor).post("/api/live-sessions", {**body, "duration": 60}, format="json").status_code == 201


def test_a_misspelt_optional_key_is_refused_not_replaced_by_its_default(api, instructor):
    body = {"title": "Closures", "scheduledAt": (timezone.now() + timedelta(days=1)).isoformat(), "duration": 60}
    response = api(instructor).post("/api/live-sessions", {**body, "capcity": 10}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"capcity": ["Unknown field."]}


def test_a_partial_update_refuses_unknown_keys_too(api, instructor):
    path = f"/api/office-hours/instructor/{instructor.id}"
    response = api(instructor).patch(path, {"dailyCap": 3}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"dailyCap": ["Unknown field."]}
    assert api(instructor).patch(path, {"dailyQuestionCap": 3}, format="json").status_code == 200


# -- the base itself ---------------------------------------------------------------------------


class _Body(BodySerializer):
    count = StrictIntegerField()
    label = serializers.CharField(read_only=True)


def test_known_keys_pass_and_a_read_only_field_is_not_input():
    assert _Body(data={"count": 2}).is_valid()
    refused = _Body(data={"count": 2, "label": "x"})
    assert not refused.is_valid() and refused.errors == {"label": [MSG_UNKNOWN_FIELD]}


def test_a_body_that_is_not_an_object_keeps_drfs_refusal():
    refused = _Body(data=[1, 2])
    assert not refused.is_valid() and "non_field_errors" in refused.errors


def test_unknown_keys_come_first_with_the_other_refusals_after():
    refused = _Body(data={"count": "2", "extra": 1})
    assert not refused.is_valid()
    assert list(refused.errors) == ["extra", "count"]


def test_a_socket_frame_with_an_unknown_key_is_refused_with_the_same_fields():
    from presence.serializers import StatusUpdateSerializer

    with pytest.raises(InvalidInput) as refused:
        validate(StatusUpdateSerializer, {"status": "away", "activityText": "Quiz"})
    assert refused.value.fields == {"activityText": ["Unknown field."]}
    assert refused.value.message == "activityText: Unknown field."


@pytest.mark.django_db(transaction=True)
async def test_over_a_real_socket_the_error_frame_names_the_key(student):
    sock = await ws_connect(student)
    try:
        answer = await request(sock, "update-presence", {"status": "away", "statuss": "busy"})
        assert answer["event"] == "error"
        assert answer["data"]["code"] == "invalid"
        assert answer["data"]["fields"] == {"statuss": ["Unknown field."]}
    finally:
        await sock.disconnect()
