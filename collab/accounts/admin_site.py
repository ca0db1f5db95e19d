"""The Django admin's sign-in, limited like the REST login: per client address (the
`auth` rate) and per account (LOGIN_FAILURE_LIMIT failures in LOGIN_FAILURE_WINDOW,
the same counter the REST login uses, so the two doors together give an attacker no
more guesses). Over a limit the form answers 429 with Retry-After and says why."""

from __future__ import annotations

import math

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from collab.accounts.services import login_failed, login_refused_for
from collab.core.throttling import scope_rate_wait


class LimitedAdminAuthenticationForm(AdminAuthenticationForm):
    retry_after: int | None = None

    def clean(self):
        email = (self.cleaned_data.get("username") or "").strip().lower()
        address = (self.request.META.get("REMOTE_ADDR") if self.request else None) or "unknown"
        wait = scope_rate_wait("auth", address)
        if wait is None and email:
            wait = login_refused_for(email)
        if wait is not None:
            self.retry_after = max(math.ceil(wait), 1)
            raise ValidationError(
                "Too many sign-in attempts. Try again in %(seconds)s seconds.",
                code="throttled",
                params={"seconds": self.retry_after},
            )
        try:
            return super().clean()
        except ValidationError:
            if email and self.user_cache is None:  # a wrong password, not a non-staff user
                login_failed(email)
            raise


class CollabAdminSite(admin.AdminSite):
    login_form = LimitedAdminAuthenticationForm

    def login(self, request, extra_context=None):
        response = super().login(request, extra_context)
        form = (getattr(response, "context_data", None) or {}).get("form")
        retry_after = getattr(form, "retry_after", None)
        if retry_after:
            response.status_code = 429
            response["Retry-After"] = str(retry_after)
        return response
