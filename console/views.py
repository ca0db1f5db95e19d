"""The console page. Everything it shows comes from the public API, called by the
browser; the page itself needs no database or session."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from collab.courses import demo


def content_security_policy(request: HttpRequest) -> str:
    """Scripts, styles and calls only from this origin (and its own socket): nothing
    from a CDN can load even by mistake."""
    host = request.get_host()
    return "; ".join(
        [
            "default-src 'self'",
            f"connect-src 'self' ws://{host} wss://{host}",
            "img-src 'self' data:",
            "style-src 'self'",
            "script-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ]
    )


# GET and HEAD: a link checker or `curl -I` asks with HEAD, and Django drops the body itself.
@require_safe
def console_page(request: HttpRequest) -> HttpResponse:
    """GET (or HEAD) / : the console's single page (signed out until the browser logs in over REST)."""
    # The sign-in hint names the logins `make run` seeds, from the one list seed_demo uses.
    context = {
        "demo_password": demo.DEMO_PASSWORD,
        "demo_instructor": demo.INSTRUCTOR_EMAIL,
        "demo_ta": demo.TA_EMAIL,
        "demo_first_student": demo.STUDENT_EMAILS[0],
        "demo_last_student": demo.STUDENT_EMAILS[-1],
    }
    response = render(request, "console/index.html", context)
    response["Content-Security-Policy"] = content_security_policy(request)
    response["Cache-Control"] = "no-cache"
    return response
