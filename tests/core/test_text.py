"""The one text rule (collab.core.text): the same answer from REST, the socket and the admin."""

import unicodedata

import pytest
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from collab.core.errors import InvalidInput
from collab.core.text import TextField, TextFormField, TextRefused, clean_text, normalize_text
from collab.courses.models import Course
from tests.conftest import client_for


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  hello  ", "hello"),
        ("Cafe\u0301", "Café"),  # NFD in, NFC out: one character fewer
        ("a\r\nb\rc", "a\nb\nc"),
        ("tab\there\nnewline", "tab\there\nnewline"),
        ("zero\u200bwidth", "zero\u200bwidth"),  # format characters are text
    ],
)
def test_accepted_text_is_normalized_and_trimmed(raw, clean):
    assert normalize_text(raw, max_length=100, min_length=1) == clean


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("a\x00b", "U+0000"),
        ("a\x1bb", "U+001B"),
        ("a\x7fb", "U+007F"),
        ("a\x85b", "U+0085"),
        ("a\ud800b", "unpaired surrogate (U+D800)"),
        ("\udfff", "U+DFFF"),
        ("   ", "May not be empty."),
        ("", "May not be empty."),
        (42, "Must be text."),
        (["x"], "Must be text."),
        (None, "Must be text."),
        ("x" * 11, "At most 10 characters."),
    ],
)
def test_refusals_name_the_reason(raw, message):
    with pytest.raises(TextRefused, match=message.replace("(", r"\(").replace(")", r"\)").replace("+", r"\+")):
        normalize_text(raw, max_length=10, min_length=1)


def test_length_is_counted_in_characters_after_normalizing():
    assert normalize_text("é" * 10, max_length=10) == "é" * 10  # 20 bytes in UTF-8
    assert normalize_text("e\u0301" * 10, max_length=10) == "é" * 10  # 20 code points before NFC
    assert normalize_text("\U0001f600" * 10, max_length=10)  # astral characters count once


def test_clean_text_is_invalid_naming_the_field():
    with pytest.raises(InvalidInput) as exc:
        clean_text("a\x00", field="question", max_length=10)
    assert exc.value.code == "invalid"
    assert list(exc.value.fields) == ["question"]
    assert exc.value.message.startswith("question: ")


@given(st.text(max_size=40))
def test_whatever_is_accepted_follows_the_rule(raw):
    try:
        clean = normalize_text(raw, max_length=30, min_length=0)
    except TextRefused:
        return
    assert clean == unicodedata.normalize("NFC", clean)
    assert clean == clean.strip()
    assert len(clean) <= 30
    assert not any(unicodedata.category(c) in ("Cc", "Cs") and c not in "\n\t" for c in clean)


def test_serializer_field_form_field_and_service_give_the_same_message():
    from rest_framework import serializers

    class Body(serializers.Serializer):
        title = TextField(max_length=5)

    for raw in ("a\x00b", "toolong", "  "):
        body = Body(data={"title": raw})
        assert not body.is_valid()
        rest_message = str(body.errors["title"][0])
        form_field = TextFormField(max_length=5)
        with pytest.raises(Exception) as form_error:
            form_field.clean(raw)
        assert form_error.value.messages == [rest_message]
        with pytest.raises(InvalidInput) as service_error:
            clean_text(raw, field="title", max_length=5)
        assert service_error.value.fields == {"title": [rest_message]}


def test_the_schema_keeps_the_limits():
    field = TextField(max_length=200)
    assert field.max_length == 200 and field.min_length == 1
    assert TextField(max_length=9, allow_blank=True).min_length == 0


@pytest.mark.django_db
def test_rest_refuses_nul_and_lone_surrogates_with_invalid(instructor):
    api = client_for(instructor)
    for title in ("a\\u0000b", "\\ud800"):  # JSON escapes, as a client would send them
        response = api.post("/api/courses", data=f'{{"title": "{title}"}}', content_type="application/json")
        assert response.status_code == 400, title
        assert response.json()["error"]["code"] == "invalid"
        assert list(response.json()["error"]["fields"]) == ["title"]
    ok = api.post("/api/courses", {"title": "  Cafe\u0301  "}, format="json")
    assert ok.status_code == 201 and ok.json()["title"] == "Café"


@pytest.mark.django_db
def test_admin_forms_follow_the_rule(client, admin_user, instructor):
    client.force_login(admin_user)
    course = Course.objects.create(title="Old", instructor=instructor)
    url = reverse("admin:courses_course_change", args=[course.pk])
    page = client.get(url)
    form = page.context["adminform"].form
    data = {name: form.initial.get(name) or "" for name in form.fields}
    data.update(
        {
            "title": "bad\x00title",
            "instructor": str(instructor.pk),
            "enrollments-TOTAL_FORMS": "0",
            "enrollments-INITIAL_FORMS": "0",
        }
    )
    response = client.post(url, data)
    assert response.status_code == 200
    assert "U+0000" in str(response.context["adminform"].form.errors["title"])
    data["title"] = "  Cafe\u0301 "
    response = client.post(url, data)
    course.refresh_from_db()
    assert course.title == "Café", getattr(response, "context", None) and response.context["adminform"].form.errors


@pytest.mark.django_db(transaction=True)
async def test_socket_refuses_a_lone_surrogate_in_one_field_with_invalid(instructor):
    """orjson refuses a whole frame for an escaped lone surrogate (answered invalid_json,
    without the ref); the socket reads it and refuses the field as REST does."""
    from tests.conftest import ws_connect

    socket = await ws_connect(instructor)
    try:
        await socket.send_to(text_data='{"event": "update-activity", "data": {"activity": "a\\ud800"}, "ref": "r"}')
        reply = await socket.receive_json_from(timeout=5)
        assert reply["event"] == "error" and reply["ref"] == "r", reply
        assert reply["data"]["code"] == "invalid" and "activity" in reply["data"]["fields"], reply
        # Echoed in an error message, a lone surrogate is written as U+FFFD, not a crash.
        await socket.send_to(text_data='{"event": "no-such-\\udc00", "ref": "u"}')
        reply = await socket.receive_json_from(timeout=5)
        assert reply["data"]["code"] == "unknown_event" and "\ufffd" in reply["data"]["message"], reply
    finally:
        await socket.disconnect()
