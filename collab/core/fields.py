"""DRF fields for input shared by the apps (free text lives in collab.core.text).

Strict JSON types: DRF's own fields coerce what the OpenAPI schema calls invalid (a
UUIDField takes integers and booleans, `false` is UUID 0; an IntegerField takes "60"; a
BooleanField takes "yes" and 1; a CharField takes 5). The Strict* fields below take
only the JSON type the schema documents, the same on REST and on the socket (whose
frames go through the same serializers); every serializer of the apps uses them, as
tests/core/test_strict_input.py checks. A refusal is 400 `invalid` naming the field
(on the socket: an `error` frame, code `invalid`, with `fields`)."""

from __future__ import annotations

import datetime
import re

from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from collab.core.errors import InvalidInput
from collab.core.params import EARLIEST, LATEST, MSG_NOT_UUID, bounded_datetime, strict_uuid


class StrictUUIDField(serializers.UUIDField):
    """A UUID as a JSON string in canonical 8-4-4-4-12 form (collab.core.params.strict_uuid):
    never a number, a boolean, braces, a URN or bare hex."""

    default_error_messages = {"invalid": MSG_NOT_UUID}

    def to_internal_value(self, data):
        try:
            return strict_uuid(data)
        except ValueError:
            self.fail("invalid")


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: not a string of digits, a boolean or a float."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictFloatField(serializers.FloatField):
    """A JSON number: not a string of digits or a boolean."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """JSON `true` or `false`: not "yes", "1" or 1."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictCharField(serializers.CharField):
    """A JSON string (not free text for people: that is collab.core.text.TextField), e.g.
    a password or a token: not a number."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictChoiceField(serializers.ChoiceField):
    """One of the listed words, as a JSON string. DRF's ChoiceField looks up str(value) and
    echoes it in its message, so `["online"]` or `{"a": 1}` came back as a Python repr
    (`"['online']" is not a valid choice.`); here anything else is refused with the list."""

    def to_internal_value(self, data):
        if isinstance(data, str) and data in self.choice_strings_to_values:
            return self.choice_strings_to_values[data]
        if data == "" and self.allow_blank:
            return ""
        raise serializers.ValidationError(
            "Must be one of: " + ", ".join(map(str, self.choice_strings_to_values)) + ".", code="invalid_choice"
        )


class BoundedDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date-time with a zone, returned in UTC, refused (400 `invalid`) unless
    its UTC offset is within ±14:00 and it lies in [2000-01-01, 2100-01-01) UTC: adding
    a duration to it can never overflow."""

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "help_text", f"ISO 8601 with a time zone, {EARLIEST.date().isoformat()} .. {LATEST.date().isoformat()} UTC"
        )
        super().__init__(**kwargs)

    def to_internal_value(self, value):
        name = self.field_name or "value"
        if isinstance(value, str):
            try:
                raw = parse_datetime(value)
            except ValueError:
                raw = None  # well-formed but impossible: DRF's own message below
            if raw is not None:
                if raw.tzinfo is None:
                    raise serializers.ValidationError("Must have a time zone (Z or ±hh:mm).", code="invalid")
                self._check(raw, name)  # the offset as sent, before DRF converts it
        return self._check(super().to_internal_value(value), name)

    @staticmethod
    def _check(value, name: str):
        try:
            return bounded_datetime(value, name=name)
        except InvalidInput as exc:
            raise serializers.ValidationError(exc.fields[name][0], code="invalid") from None


WALL_CLOCK_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"
_WALL_CLOCK = re.compile(WALL_CLOCK_PATTERN)


@extend_schema_field({"type": "string", "pattern": WALL_CLOCK_PATTERN, "example": "09:30:00"})
class WallClockTimeField(serializers.TimeField):
    """A time of day on a wall clock, `HH:MM` or `HH:MM:SS` (24-hour), read as `HH:MM:SS`.

    No UTC offset and no fractions of a second: the zone is a separate field (an IANA
    name, which knows summer time), and an offset sent here would be silently dropped by
    DRF's own TimeField (and JSON Schema's `time` format, which requires one, would not
    describe what is returned). Anything else is refused with 400 `invalid`."""

    def to_internal_value(self, value):
        if not isinstance(value, str) or not _WALL_CLOCK.match(value):
            raise serializers.ValidationError("Use HH:MM or HH:MM:SS (24-hour, no time zone).", code="invalid")
        return super().to_internal_value(value)

    def to_representation(self, value):
        if value is None:
            return None
        if isinstance(value, str):  # an unsaved model's raw input
            value = datetime.time.fromisoformat(value)
        return value.strftime("%H:%M:%S")
