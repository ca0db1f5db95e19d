"""The one rule for free text (names, titles, descriptions, questions, chat, activity,
reasons), shared by the REST serializers, the socket frames (validated by the same
serializers) and the admin forms.

A value is accepted when it is a string that, after the steps below, is within the
field's length:

1. Unicode NFC (what the user sees as one character is stored one way; search and
   equality work on what people typed, whatever their keyboard produced);
2. CRLF and lone CR line ends become `\n` (browsers send textareas with CRLF);
3. refused: a lone surrogate (not text: PostgreSQL cannot store it) and every control
   character (Unicode category Cc: NUL, ESC, DEL, C1 …) except newline and tab;
4. leading and trailing whitespace trimmed;
5. length counted in characters (code points) after the steps above.

Every refusal is code `invalid` with the field named in `fields`, and the same message
wherever the text came from.
"""

from __future__ import annotations

import unicodedata

from django import forms
from rest_framework import serializers

from collab.core.errors import InvalidInput

ALLOWED_CONTROLS = frozenset("\n\t")

MSG_NOT_TEXT = "Must be text."
MSG_EMPTY = "May not be empty."
MSG_CONTROL = "Contains a control character (U+{code:04X}); only newline and tab are allowed."
MSG_SURROGATE = "Contains an unpaired surrogate (U+{code:04X}), which is not text."


def msg_too_long(max_length: int) -> str:
    return f"At most {max_length} characters."


def msg_too_short(min_length: int) -> str:
    return f"At least {min_length} characters."


class TextRefused(ValueError):
    """The value breaks the text rule; `str(exc)` is the message for people."""


def normalize_text(value: object, *, max_length: int | None, min_length: int = 0) -> str:
    """Applies the text rule to `value` and returns the clean string.

    `min_length` 0 allows the empty string (after trimming); 1 or more refuses it with
    "May not be empty." Raises TextRefused with the message for people."""
    if not isinstance(value, str):
        raise TextRefused(MSG_NOT_TEXT)
    for char in value:
        code = ord(char)
        if 0xD800 <= code <= 0xDFFF:
            raise TextRefused(MSG_SURROGATE.format(code=code))
    text = unicodedata.normalize("NFC", value)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    for char in text:
        if char not in ALLOWED_CONTROLS and unicodedata.category(char) == "Cc":
            raise TextRefused(MSG_CONTROL.format(code=ord(char)))
    text = text.strip()
    if not text and min_length > 0:
        raise TextRefused(MSG_EMPTY)
    if len(text) < min_length:
        raise TextRefused(msg_too_short(min_length))
    if max_length is not None and len(text) > max_length:
        raise TextRefused(msg_too_long(max_length))
    return text


def clean_text(value: object, *, field: str, max_length: int | None, min_length: int = 1) -> str:
    """`normalize_text` for services: a refusal is InvalidInput (code `invalid`) naming
    `field` (as on the wire, camelCase) in its `fields`."""
    try:
        return normalize_text(value, max_length=max_length, min_length=min_length)
    except TextRefused as exc:
        raise InvalidInput.for_fields({field: [str(exc)]}) from None


class TextField(serializers.CharField):
    """A DRF field for free text: the text rule above, and its messages.

    Takes CharField's `max_length`, `min_length` (default 1) and `allow_blank` (which
    means min_length 0); `max_length` and `min_length` still reach the OpenAPI schema."""

    def __init__(self, **kwargs):
        if kwargs.get("allow_blank"):
            kwargs["min_length"] = 0
        else:
            kwargs.setdefault("min_length", 1)
        kwargs["trim_whitespace"] = True
        own_validators = list(kwargs.pop("validators", ()))
        super().__init__(**kwargs)
        # CharField's length, NUL and surrogate validators are replaced by the rule's own
        # checks (lengths counted after normalizing, one message for each refusal).
        self.validators = own_validators
        self.error_messages["blank"] = MSG_EMPTY
        self.error_messages["invalid"] = MSG_NOT_TEXT

    def run_validation(self, data=serializers.empty):
        # CharField's own blank check runs str() on anything; the rule decides instead.
        if data is serializers.empty or data is None:
            return super().run_validation(data)
        if isinstance(data, str) and data.strip() == "" and self.allow_blank:
            return ""
        value = self.to_internal_value(data)
        self.run_validators(value)
        return value

    def to_internal_value(self, data) -> str:
        try:
            return normalize_text(data, max_length=self.max_length, min_length=self.min_length or 0)
        except TextRefused as exc:
            raise serializers.ValidationError(str(exc), code="invalid") from None


class TextFormField(forms.CharField):
    """The same rule for Django forms (the admin)."""

    def __init__(self, *, max_length=None, min_length=None, required=True, **kwargs):
        self._rule_min = 1 if required else 0
        if min_length:
            self._rule_min = max(self._rule_min, min_length)
        super().__init__(max_length=max_length, min_length=min_length, required=required, strip=False, **kwargs)
        self.validators = []
        self.error_messages["required"] = MSG_EMPTY

    def to_python(self, value):
        if value in self.empty_values:
            return ""
        try:
            return normalize_text(value, max_length=self.max_length, min_length=self._rule_min)
        except TextRefused as exc:
            raise forms.ValidationError(str(exc), code="invalid") from None
