"""Domain errors raised by services and selectors.

One family serves both doors: the REST exception handler turns them into
`{error: {code, message}}` with their status, the socket turns them into `error` frames.
`code` is stable and machine-readable; `message` is for people.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


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

    @classmethod
    def for_fields(cls, fields: dict, *, code: str | None = None) -> InvalidInput:
        """The refusal of `fields` ({field: [message, …]}, nested as DRF nests them), with
        the one message REST and the socket give for it (`invalid_message`)."""
        fields = error_fields(fields)
        return cls(invalid_message(fields), code=code, fields=fields)


# Keys DRF gives errors that belong to no field: their message is shown without a path.
_NON_FIELD_KEYS = frozenset({"non_field_errors", "nonFieldErrors"})


def error_fields(detail) -> dict:
    """A validation error's detail as the `fields` of the error body: plain JSON (string
    keys, string messages, DRF's ErrorDetail and list indices included), a dict at the
    top (a bare list of messages belongs to `nonFieldErrors`)."""

    def plain(value):
        if isinstance(value, dict):
            return {str(key): plain(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(item) for item in value]
        return str(value)

    if isinstance(detail, dict):
        return plain(detail)
    return {"nonFieldErrors": plain(detail if isinstance(detail, (list, tuple)) else [detail])}


def invalid_message(fields) -> str:
    """The one human message of a validation error, on REST and on the socket: the first
    message found, after the dotted path of its field, e.g. `sessionId: Must be a UUID
    string …` or `userIds.0: …`; a message of no field stands alone. Never a repr."""
    path: list[str] = []
    value = fields
    while True:
        if isinstance(value, dict):
            if not value:
                break
            key, value = next(iter(value.items()))
            if str(key) not in _NON_FIELD_KEYS:
                path.append(str(key))
        elif isinstance(value, (list, tuple)):
            if not value:
                break
            if not isinstance(value[0], (dict, list, tuple)):
                value = value[0]
                break
            # A list of per-item errors (a list of objects): the first item that has one.
            index = next((n for n, item in enumerate(value) if item), 0)
            path.append(str(index))
            value = value[index]
        else:
            break
    text = str(value) if isinstance(value, str) and value else DEFAULT_INVALID
    return f"{'.'.join(path)}: {text}" if path else text


DEFAULT_INVALID = "The input is not valid."


@contextlib.contextmanager
def input_field(name: str) -> Iterator[None]:
    """Refusals raised inside are caused by the input field `name` (camelCase, as on the
    wire), e.g. the lookup of an id a body gave: they carry `fields: {name: [message]}`
    unless they name fields already. A permission refusal (NotAllowed) or an outage
    passes as it is: the field is not at fault there. Code and status never change."""
    try:
        yield
    except DomainError as exc:
        if exc.fields is None and isinstance(exc, (InvalidInput, NotFound, Conflict)):
            exc.fields = {name: [exc.message]}
        raise


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
