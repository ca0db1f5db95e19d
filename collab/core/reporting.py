"""What Django's error reports (the DEBUG pages, mails to ADMINS) may show of settings."""

from __future__ import annotations

import re
from typing import Any

from django.views.debug import SafeExceptionReporterFilter

# scheme://user:password@host → scheme://********@host (the user too: often a token).
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)


class CredentialsHiddenFilter(SafeExceptionReporterFilter):
    """Django's filter (settings named like API, KEY, SECRET, PASS, TOKEN … are hidden),
    plus the credentials inside URLs, wherever they sit: REDIS_URL, CELERY_BROKER_URL,
    DATABASE_URL-like values, a cache's LOCATION, the channel layer's hosts, request.META.
    Django's own rule goes by the name of the setting only, and these names are innocent.
    """

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        cleansed = super().cleanse_setting(key, value)
        if isinstance(cleansed, str):
            return _URL_CREDENTIALS.sub(rf"\g<scheme>{self.cleansed_substitute}@", cleansed)
        return cleansed
