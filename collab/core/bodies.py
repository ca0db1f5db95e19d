"""The serializer every request body (and socket frame `data`) is read with: it refuses
keys it does not know.

DRF ignores keys a serializer has no field for, so a client that sent `durationMinutes`
where the field is `duration` was told only "duration: This field is required.", and one
that misspelt an optional key (`capcity`) was not told anything: the key was dropped and
the default used. Every input serializer of the apps derives from `BodySerializer`
(tests/core/test_unknown_keys.py checks it through the OpenAPI schema, where such a body
is published with `additionalProperties: false`: collab.core.schema.AutoSchema).
"""

from __future__ import annotations

from collections.abc import Mapping

from rest_framework import serializers

MSG_UNKNOWN_FIELD = "Unknown field."


class BodySerializer(serializers.Serializer):
    """A serializer of input: top-level keys it has no writable field for are refused,
    400 `invalid` with `fields: {"<key>": ["Unknown field."]}` (keys camelCase as sent),
    listed before any other refused field of the same body, so the message names the
    unknown key first (`durationMinutes: Unknown field.`). Nested objects follow their own
    serializer (a plain one ignores unknown keys)."""

    def to_internal_value(self, data):
        if not isinstance(data, Mapping):
            return super().to_internal_value(data)  # DRF's own "Expected a dictionary" refusal
        writable = {name for name, field in self.fields.items() if not field.read_only}
        unknown = [key for key in data if key not in writable]
        if not unknown:
            return super().to_internal_value(data)
        errors: dict = {str(key): [MSG_UNKNOWN_FIELD] for key in unknown}
        try:
            super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if isinstance(exc.detail, Mapping):
                errors.update({key: value for key, value in exc.detail.items() if key not in errors})
        raise serializers.ValidationError(errors)
