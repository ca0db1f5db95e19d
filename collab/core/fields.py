"""DRF fields for bounded input shared by the apps (free text lives in collab.core.text)."""

from __future__ import annotations

from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from collab.core.errors import InvalidInput
from collab.core.params import EARLIEST, LATEST, bounded_datetime


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
