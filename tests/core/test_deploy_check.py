"""`manage.py check --deploy` with production settings passes (and fails when it should)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from django.conf import settings

BASE_DIR = Path(__file__).resolve().parents[2]


def production_env(**overrides: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "collab.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "collab.example.com",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/collab",
        "REDIS_URL": settings.REDIS_URL,
        "SOCKET_ALLOWED_ORIGINS": "https://collab.example.com",
    }
    env.update(overrides)
    return {key: value for key, value in env.items() if value is not None}


def deploy_check(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_with_production_settings():
    result = deploy_check(production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout + result.stderr


def test_check_deploy_fails_with_the_embedded_default_key():
    env = production_env()
    del env["SECRET_KEY"]
    result = deploy_check(env)
    assert result.returncode != 0
    assert "security.W009" in result.stdout + result.stderr


def test_check_deploy_fails_with_debug_on():
    result = deploy_check(production_env(DEBUG="true"))
    assert result.returncode != 0
    assert "security.W018" in result.stdout + result.stderr
