"""One error shape for every REST response: {"error": {"code", "message", "fields"?}}."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from djangorestframework_camel_case.util import camelize
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from collab.core.errors import DomainError, InvalidInput, ServiceUnavailable, is_service_outage

log = logging.getLogger(__name__)

_DEFAULT_CODES = {
    status.HTTP_400_BAD_REQUEST: "invalid",
    status.HTTP_401_UNAUTHORIZED: "not_authenticated",
    status.HTTP_403_FORBIDDEN: "permission_denied",
    status.HTTP_404_NOT_FOUND: "not_found",
    status.HTTP_405_METHOD_NOT_ALLOWED: "method_not_allowed",
    status.HTTP_409_CONFLICT: "conflict",
    status.HTTP_415_UNSUPPORTED_MEDIA_TYPE: "unsupported_media_type",
    status.HTTP_429_TOO_MANY_REQUESTS: "throttled",
}


def error_body(code: str, message: str, fields: dict | None = None, details: dict | None = None) -> dict:
    body = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    if details:
        body.update({key: value for key, value in details.items() if key not in body})
    return {"error": body}


def _first_message(detail) -> str:
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    if isinstance(detail, dict) and detail:
        return _first_message(next(iter(detail.values())))
    return str(detail)


def api_exception_handler(exc, context):
    if is_service_outage(exc):
        # Redis is down and this request needs it (tickets, leases, presence): 503 with
        # Retry-After, never a 500. Requests that do not need it never get here.
        log.warning("%s: a service is unavailable: %s", context["request"].path, exc)
        unavailable = exc if isinstance(exc, ServiceUnavailable) else ServiceUnavailable()
        response = Response(error_body(unavailable.code, unavailable.message), status=503)
        response["Retry-After"] = str(unavailable.retry_after)
        return response
    if isinstance(exc, DomainError):
        response = Response(error_body(exc.code, exc.message, exc.fields, exc.details), status=exc.status)
        if getattr(exc, "retry_after", None) is not None:
            response["Retry-After"] = str(int(exc.retry_after))
        return response
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = exception_handler(exc, context)
    if response is None:
        return None

    if isinstance(exc, exceptions.ValidationError):
        # The same message and fields as the socket's for the same input (dispatch.validate).
        refused = InvalidInput.for_fields(camelize(exc.detail))
        response.data = error_body(refused.code, refused.message, refused.fields)
        return response

    code = _DEFAULT_CODES.get(response.status_code, "error")
    detail = getattr(exc, "detail", None)
    if isinstance(detail, dict):
        # simplejwt puts its own code and message in a dict (e.g. token_not_valid).
        code = str(detail.get("code", code))
        message = str(detail.get("detail", "")) or _first_message(detail)
        # "Given token not valid for any token type" says nothing of why; with one token
        # class there is one reason ("Token is expired", "… wrong type", "… invalid").
        reasons = detail.get("messages")
        if isinstance(reasons, list) and reasons and isinstance(reasons[0], dict) and reasons[0].get("message"):
            message = str(reasons[0]["message"])
    else:
        if detail is not None and getattr(detail, "code", None) not in (None, "error"):
            code = str(detail.code) if response.status_code != 401 else code
        message = str(detail) if detail is not None else str(exc)
    response.data = error_body(code, message)
    return response
