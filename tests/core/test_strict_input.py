"""Typed input (issue 15, negative_data_rejection): what the schema calls invalid is refused.

The kinds schemathesis found accepted: a UUID field took `false` (UUID 0) and integers,
and an empty query value (`?before=`) was read as absent. The rules live in
collab/core/fields.py (the Strict* fields every serializer uses) and
collab/core/params.py (every query parameter); the apps' tests keep each case found
(tests/presence, tests/studygroups, tests/liveSessions, tests/officehours, tests/courses).
"""

from __future__ import annotations

import importlib
import inspect
import uuid
from datetime import date

import pytest
from django.test import RequestFactory
from rest_framework import serializers

from collab.core.errors import InvalidInput
from collab.core.fields import (
    BoundedDateTimeField,
    StrictBooleanField,
    StrictCharField,
    StrictChoiceField,
    StrictFloatField,
    StrictIntegerField,
    StrictUUIDField,
    WallClockTimeField,
)
from collab.core.params import (
    MSG_EMPTY,
    choice_param,
    cursor_param,
    date_param,
    datetime_param,
    limit_param,
    query_value,
    strict_uuid,
    uuid_param,
)
from collab.core.text import TextField

ID = "0b94422a-5f63-4fa4-8084-519342c80a7f"

# -- the UUID rule -------------------------------------------------------------------------


@pytest.mark.parametrize("value", [ID, ID.upper()])
def test_a_uuid_is_a_canonical_string(value):
    assert strict_uuid(value) == uuid.UUID(ID)
    assert StrictUUIDField().run_validation(value) == uuid.UUID(ID)


@pytest.mark.parametrize(
    "value",
    [
        False,  # DRF's UUIDField: UUID(int=0)
        True,
        0,
        1,
        2**100,
        1.5,
        None,
        [],
        {},
        "",
        ID.replace("-", ""),  # bare hex
        "{" + ID + "}",
        "urn:uuid:" + ID,
        " " + ID,
        ID + "\n",
        ID[:-1],
        ID[:-1] + "g",
        "０b94422a-5f63-4fa4-8084-519342c80a7f",  # a full-width digit
    ],
)
def test_anything_else_is_not_a_uuid(value):
    with pytest.raises(ValueError):
        strict_uuid(value)
    with pytest.raises(serializers.ValidationError) as refused:
        StrictUUIDField().run_validation(value)
    assert refused.value.detail[0].code in ("invalid", "null")


def test_a_uuid_field_still_writes_uuids_as_rest_always_did():
    assert StrictUUIDField().to_representation(uuid.UUID(ID)) == ID


# -- the other JSON types ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "accepted", "refused"),
    [
        (StrictIntegerField(), [0, 5, -3], ["5", "5.0", 5.5, True, False, None, [], {}]),
        (StrictIntegerField(min_value=1, max_value=10), [1, 10], [0, 11]),
        (StrictFloatField(), [0, 1.5, -2], ["1.5", True, None, []]),
        (StrictBooleanField(), [True, False], ["true", "yes", "1", 1, 0, None, []]),
        (StrictCharField(allow_blank=True), ["", "x", "5"], [5, 5.5, True, None, [], {}]),
        (StrictChoiceField(choices=["a", "b"]), ["a", "b"], ["", "c", ["a"], {"a": 1}, 1, True, None]),
    ],
)
def test_strict_fields_take_their_json_type_only(field, accepted, refused):
    for value in accepted:
        assert field.run_validation(value) == value
    for value in refused:
        with pytest.raises(serializers.ValidationError):
            field.run_validation(value)


def test_a_refused_choice_lists_the_choices_and_never_echoes_the_input():
    with pytest.raises(serializers.ValidationError) as refused:
        StrictChoiceField(choices=["online", "away"]).run_validation(["online"])
    assert refused.value.detail == ["Must be one of: online, away."]


# -- every serializer uses them ------------------------------------------------------------

SERIALIZER_MODULES = [
    "collab.accounts.serializers",
    "collab.chat.serializers",
    "collab.courses.serializers",
    "liveSessions.serializers",
    "officehours.serializers",
    "presence.serializers",
    "studygroups.serializers",
]
# DRF fields that coerce one JSON type into another (False -> UUID 0, "60" -> 60, 1 -> True,
# 5 -> "5"); their Strict* subclasses do not.
COERCING = (
    serializers.UUIDField,
    serializers.IntegerField,
    serializers.FloatField,
    serializers.DecimalField,
    serializers.BooleanField,
    serializers.CharField,
    # Not a coercion, but its refusal echoed str(value): `"['online']" is not a valid choice.`
    serializers.ChoiceField,
)
STRICT = (
    StrictUUIDField,
    StrictIntegerField,
    StrictFloatField,
    StrictBooleanField,
    StrictCharField,
    StrictChoiceField,
    TextField,  # str only (collab.core.text)
    # CharFields that a number can never satisfy: the validator refuses what str() made of it.
    serializers.EmailField,
    serializers.URLField,
)
TYPED = (BoundedDateTimeField, WallClockTimeField)


def _leaf_fields(field, path: str):
    if isinstance(field, serializers.ListSerializer):
        yield from _leaf_fields(field.child, f"{path}[]")
    elif isinstance(field, serializers.Serializer):
        for name, child in field.fields.items():
            yield from _leaf_fields(child, f"{path}.{name}")
    elif isinstance(field, serializers.ListField | serializers.DictField):
        yield from _leaf_fields(field.child, f"{path}[]")
    else:
        yield path, field


def _serializer_classes():
    for module_name in SERIALIZER_MODULES:
        module = importlib.import_module(module_name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, serializers.Serializer) and cls.__module__ == module_name:
                yield cls


def test_every_field_a_client_can_write_takes_its_json_type_only():
    """A writable field of any serializer of the apps (REST bodies and socket frames are
    validated by them) is never one of DRF's coercing fields."""
    lenient = []
    for cls in _serializer_classes():
        for path, field in _leaf_fields(cls(), f"{cls.__module__}.{cls.__name__}"):
            if field.read_only or isinstance(field, STRICT + TYPED):
                continue
            if isinstance(field, COERCING):
                lenient.append(f"{path}: {type(field).__name__}")
    assert not lenient, "use collab.core.fields' Strict* fields:\n" + "\n".join(lenient)


def test_every_choice_is_a_word_so_no_other_json_type_can_match_it():
    """DRF's ChoiceField looks up str(value): choices that are words cannot be reached by
    a number or a boolean."""
    odd = []
    for cls in _serializer_classes():
        for path, field in _leaf_fields(cls(), f"{cls.__module__}.{cls.__name__}"):
            if isinstance(field, serializers.ChoiceField) and not field.read_only:
                odd += [f"{path}: {key!r}" for key in field.choices if not str(key).isidentifier()]
    assert not odd, odd


# -- query parameters ----------------------------------------------------------------------


def _get(query: str):
    return RequestFactory().get(f"/any?{query}")


@pytest.mark.parametrize(
    ("parse", "name"),
    [
        (lambda r: uuid_param(r, "handOverTo"), "handOverTo"),
        (lambda r: datetime_param(r, "before"), "before"),
        (lambda r: date_param(r, "to"), "to"),
        (lambda r: cursor_param(r), "cursor"),
        (lambda r: limit_param(r), "limit"),
        (lambda r: choice_param(r, "status", ["live"]), "status"),
        (lambda r: query_value(r, "tz"), "tz"),
    ],
)
def test_an_empty_query_value_is_refused_not_read_as_absent(parse, name):
    assert parse(_get("other=1")) in (None, 50)  # absent: the default
    with pytest.raises(InvalidInput) as refused:
        parse(_get(f"{name}="))
    assert refused.value.code == "invalid"
    assert refused.value.fields == {name: [MSG_EMPTY]}


@pytest.mark.parametrize("raw", ["5", "1", "100"])
def test_a_limit_is_decimal_digits(raw):
    assert limit_param(_get(f"limit={raw}")) == int(raw)


@pytest.mark.parametrize("raw", ["%2B5", "%205", "5%20", "5_0", "%D9%A5", "0x5", "5.0", "1e2", "-0", "0", "101"])
def test_a_limit_that_int_would_take_is_refused(raw):
    with pytest.raises(InvalidInput) as refused:
        limit_param(_get(f"limit={raw}"))
    assert list(refused.value.fields) == ["limit"]


@pytest.mark.parametrize("raw", ["zz", "00000000-0000-0000-0000-000000000000x", "0", "false", ID.replace("-", "")])
def test_a_uuid_query_value_is_the_canonical_string(raw):
    assert uuid_param(_get(f"handOverTo={ID}"), "handOverTo") == uuid.UUID(ID)
    with pytest.raises(InvalidInput) as refused:
        uuid_param(_get(f"handOverTo={raw}"), "handOverTo")
    assert list(refused.value.fields) == ["handOverTo"]


def test_a_date_is_yyyy_mm_dd_within_the_api_range():
    assert date_param(_get("to=2024-02-29"), "to") == date(2024, 2, 29)
    for raw in ["20240229", "2024-W09-4", "2024-060", "2023-02-29", "0001-01-05", "9999-12-31", "1999-12-31"]:
        with pytest.raises(InvalidInput) as refused:
            date_param(_get(f"to={raw}"), "to")
        assert list(refused.value.fields) == ["to"], raw


def test_a_choice_is_one_of_those_listed():
    assert choice_param(_get("status=live"), "status", ["live", "ended"]) == "live"
    for raw in ["LIVE", "live%20", "x"]:
        with pytest.raises(InvalidInput):
            choice_param(_get(f"status={raw}"), "status", ["live", "ended"])


@pytest.mark.django_db
def test_an_empty_format_is_refused_on_every_route(api, student, course):
    """DRF read `?format=` as absent; the schema enumerates `format` (json, csv)."""
    for path in ["/api/courses", f"/api/courses/{course.id}"]:
        response = api(student).get(f"{path}?format=")
        assert response.status_code == 400, path
        assert response["Content-Type"].startswith("application/json")
        error = response.json()["error"]
        assert error["code"] == "invalid" and error["fields"] == {"format": [MSG_EMPTY]}
    assert api(student).get("/api/courses?format=json").status_code == 200
