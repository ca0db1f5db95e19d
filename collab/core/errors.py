"""Domain errors raised by services and selectors.

One family serves both doors: the REST exception handler turns them into
`{error: {code, message}}` with their status, the socket turns them into `error` frames.
`code` is stable and machine-readable; `message` is for people.
"""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    default_code = "bad_request"
    default_message = "The request is not valid."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        fields: dict | None = None,
        details: dict | None = None,
    ):
        self.message = message or self.default_message
        self.code = code or self.default_code
        self.fields = fields
        # Extra machine-readable keys of the error body (camelCase, JSON-ready), e.g.
        # {"opensAt": "..."} on a refused queue join.
        self.details = details
        super().__init__(self.message)


class InvalidInput(DomainError):
    status = 400
    default_code = "invalid"
    default_message = "The input is not valid."


class NotAllowed(DomainError):
    status = 403
    default_code = "permission_denied"
    default_message = "You are not allowed to do this."


class NotFound(DomainError):
    status = 404
    default_code = "not_found"
    default_message = "Not found."


class Conflict(DomainError):
    """The resource is in a state that refuses the change (full, closed, already ended)."""

    status = 409
    default_code = "conflict"
    default_message = "The resource is not in a state that allows this."


class NotAuthenticated(DomainError):
    status = 401
    default_code = "not_authenticated"
    default_message = "Authentication credentials were not provided or are not valid."


class TooManyRequests(DomainError):
    """Over a limit; `retry_after` (seconds) becomes the Retry-After header."""

    status = 429
    default_code = "throttled"
    default_message = "Too many requests; try again later."

    def __init__(self, message: str | None = None, *, retry_after: int, code: str | None = None):
        super().__init__(message, code=code)
        self.retry_after = retry_after


class ServiceUnavailable(DomainError):
    """A backing service (Redis) is down; the client should retry after `retry_after` seconds."""

    status = 503
    default_code = "service_unavailable"
    default_message = "A service this needs is unavailable right now; try again shortly."
    retry_after = 5


def is_service_outage(exc: BaseException) -> bool:
    """True for errors that mean "Redis is unreachable" (connection refused, reset, timed
    out), whichever client raised them: redis-py's or the OS's."""
    import redis.exceptions

    if isinstance(exc, ServiceUnavailable):
        return True
    if isinstance(exc, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)):
        return True
    return isinstance(exc, (ConnectionError, TimeoutError)) and not isinstance(exc, DomainError)
