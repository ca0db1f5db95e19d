"""Admin pieces shared by every app's ModelAdmin."""

from __future__ import annotations

from django.db import models

from collab.core.text import TextFormField

# Model text fields that are not free text (machine values with their own checks).
NOT_FREE_TEXT = frozenset({"password", "timezone"})


class TextRuleAdminMixin:
    """Edits of a model's free-text fields (plain CharField/TextField without choices)
    in the admin go through the one text rule (collab.core.text), as REST and the
    socket do: same normalizing, same limits, same messages."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if type(db_field) in (models.CharField, models.TextField) and not db_field.choices:
            if db_field.name not in NOT_FREE_TEXT and db_field.editable:
                kwargs["form_class"] = TextFormField
                kwargs.setdefault("required", not db_field.blank)
                if isinstance(db_field, models.TextField):
                    # TextField.formfield gives a Textarea but no max_length to the form.
                    kwargs.setdefault("max_length", db_field.max_length)
        return super().formfield_for_dbfield(db_field, request, **kwargs)
