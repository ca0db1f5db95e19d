"""Django's deploy checks, made to see collab's middleware.

Django decides whether SecurityMiddleware, XFrameOptionsMiddleware, CsrfViewMiddleware
and SessionMiddleware are installed by looking for their dotted names in MIDDLEWARE;
every HSTS, SSL-redirect, nosniff, referrer, cookie and X-Frame check is skipped when
the name is missing. collab installs subclasses of them (collab/core/asgi_fast/middleware.py, run
on the event loop), so `check --deploy` saw none of them and passed with TLS off.
Django's own checks look those four predicates up by name when they run; they are
replaced here by ones that accept a subclass, so every one of Django's security checks
(W001-W003 included, none silenced) judges the real settings. tests/core/
test_deploy_check.py fails if Django renames the predicates.
"""

from __future__ import annotations

from django.conf import settings
from django.core.checks.security import base, csrf, sessions
from django.utils.module_loading import import_string

PREDICATES = {
    (base, "_security_middleware"): "django.middleware.security.SecurityMiddleware",
    (base, "_xframe_middleware"): "django.middleware.clickjacking.XFrameOptionsMiddleware",
    (csrf, "_csrf_middleware"): "django.middleware.csrf.CsrfViewMiddleware",
    (sessions, "_session_middleware"): "django.contrib.sessions.middleware.SessionMiddleware",
}


def middleware_installed(dotted: str) -> bool:
    """Whether MIDDLEWARE holds `dotted` or a subclass of it."""
    wanted = import_string(dotted)
    for entry in settings.MIDDLEWARE:
        try:
            installed = import_string(entry)
        except ImportError:
            continue
        if isinstance(installed, type) and issubclass(installed, wanted):
            return True
    return False


def install() -> None:
    """Points Django's security checks at middleware_installed (CoreConfig.ready)."""
    for (module, name), dotted in PREDICATES.items():
        if not callable(getattr(module, name, None)):
            raise RuntimeError(
                f"django.core.checks.security: {module.__name__}.{name} is gone; see collab/core/checks.py"
            )
        setattr(module, name, lambda dotted=dotted: middleware_installed(dotted))
