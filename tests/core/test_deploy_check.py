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


def test_check_deploy_warns_when_tls_settings_are_off():
    # The middleware subclasses used to hide every SecurityMiddleware check.
    result = deploy_check(production_env(SECURE_SSL_REDIRECT="false", SECURE_HSTS_SECONDS="0"))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "security.W004" in output and "security.W008" in output
    assert "0 silenced" in output


def test_no_security_check_is_silenced():
    assert not [check for check in settings.SILENCED_SYSTEM_CHECKS if check.startswith("security.")]


def _security_ids(**overrides) -> set[str]:
    from django.core import checks
    from django.test import override_settings

    with override_settings(**overrides):
        return {
            message.id for message in checks.run_checks(tags=[checks.Tags.security], include_deployment_checks=True)
        }


def test_the_subclasses_count_as_djangos_middleware_and_removing_them_warns():
    from django.utils.module_loading import import_string

    assert not {"security.W001", "security.W002", "security.W003"} & _security_ids()
    without = [
        m
        for m in settings.MIDDLEWARE
        if not issubclass(import_string(m), (import_string("django.middleware.security.SecurityMiddleware")))
    ]
    assert "security.W001" in _security_ids(MIDDLEWARE=without)
    no_csrf = [m for m in settings.MIDDLEWARE if "Csrf" not in m]
    assert "security.W003" in _security_ids(MIDDLEWARE=no_csrf)
    no_xframe = [m for m in settings.MIDDLEWARE if "XFrame" not in m]
    assert "security.W002" in _security_ids(MIDDLEWARE=no_xframe)
