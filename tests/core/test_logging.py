"""What the processes print: each log record once, with its level."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest

from tests.servers import ROOT

EMIT = """
import logging, django
django.setup()
logging.getLogger("django.request").warning("Not Found: %s", "/api/nope")
"""


def _stderr_of_a_request_warning(debug: str) -> list[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "collab.settings", "DEBUG": debug}
    result = subprocess.run(
        [sys.executable, "-c", EMIT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return [line for line in result.stderr.splitlines() if "Not Found: /api/nope" in line]


def test_a_4xx_is_logged_once_with_its_level_under_make_run():
    # make run sets DEBUG=true, which turns on Django's own console handler for the
    # "django" loggers; the root handler printed the same record a second time.
    assert _stderr_of_a_request_warning("true") == ["WARNING django.request Not Found: /api/nope"]


def test_a_4xx_is_logged_once_in_production():
    assert _stderr_of_a_request_warning("false") == ["WARNING django.request Not Found: /api/nope"]


# -- a client's bad request is a WARNING line, not a server ERROR with a traceback --------


def _security_records(caplog) -> list:
    return [record for record in caplog.records if record.name.startswith("django.security.")]


@pytest.mark.parametrize("debug", [False, True])
def test_a_bad_host_is_one_warning_line_with_the_reason(client, settings, caplog, debug):
    settings.DEBUG = debug
    with caplog.at_level(logging.INFO):
        response = client.get("/api/courses", HTTP_HOST="evil.example")
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_host"
    [record] = _security_records(caplog)
    assert (record.name, record.levelno, record.exc_info) == ("django.security.DisallowedHost", logging.WARNING, None)
    assert "Invalid HTTP_HOST header: 'evil.example'" in record.getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "Traceback" not in caplog.text


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True])
def test_a_body_over_the_limit_is_one_warning_line_with_the_reason(client, settings, caplog, debug):
    settings.DEBUG = debug
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    with caplog.at_level(logging.INFO):
        response = client.post("/api/auth/login", data=b"{" + b" " * 4096 + b"}", content_type="application/json")
    assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"
    [record] = _security_records(caplog)
    assert (record.name, record.levelno, record.exc_info) == (
        "django.security.RequestDataTooBig",
        logging.WARNING,
        None,
    )
    assert "DATA_UPLOAD_MAX_MEMORY_SIZE" in record.getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "Traceback" not in caplog.text
