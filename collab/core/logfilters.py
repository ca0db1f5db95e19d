"""Logging filters named in settings.LOGGING."""

from __future__ import annotations

import logging


class ClientErrorAsWarning(logging.Filter):
    """A request the client got wrong is logged as a WARNING line, without a traceback.

    Django logs a bad Host header or a body over DATA_UPLOAD_MAX_MEMORY_SIZE on its
    `django.security.<ExceptionName>` logger at ERROR with the exception's traceback,
    although the client gets its 400/413 and nothing failed on the server. Attached to
    those loggers (settings.LOGGING), this rewrites the record to WARNING and drops the
    traceback; the message keeps the reason (e.g. "Invalid HTTP_HOST header: 'evil.example'.
    You may need to add ...").
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.levelno = logging.WARNING
        record.levelname = logging.getLevelName(logging.WARNING)
        record.exc_info = None
        record.exc_text = None
        # The logger let the record through at ERROR; one set to ERROR would not want it now.
        return logging.getLogger(record.name).isEnabledFor(logging.WARNING)
