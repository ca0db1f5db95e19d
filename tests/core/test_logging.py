"""What the processes print: each log record once, with its level."""

from __future__ import annotations

import os
import subprocess
import sys

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
