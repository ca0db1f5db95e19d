"""OpenAPI post-processing: every operation documents every status it can answer with,
each error with the one error shape (collab.core.exceptions.error_body).

Views document their successes and the refusals particular to them; the refusals every
route shares come from here, so a new route cannot forget them:

- 400 `invalid`, `bad_host`, `bad_request`: bad input, a Host not served (every one);
- 401 `not_authenticated`, `token_not_valid`: no, bad or expired credentials, also a bad
  token sent to a public route (every /api route);
- 403 `permission_denied` or an app code: the role or membership does not allow it;
- 404 `not_found` or an app code: an id in the path or the body names nothing you may
  see (routes with a path id or a body);
- 406 `not_acceptable`: an Accept header or ?format= the route cannot produce;
- 409 an app code: the resource's state refuses the change (POST, PUT, PATCH, DELETE);
- 413 `request_too_large`, 415 `unsupported_media_type`: routes with a body;
- 429 `throttled` with Retry-After: over the rate (every /api route);
- 503 `service_unavailable` with Retry-After: Redis is down and the request needs it
  (every /api route: authentication itself may need it).

`tests/core/test_schemathesis.py` runs schemathesis against the application (in-process,
in every `make test`) and fails on any status the schema does not list here or in the view.

A request body read by a `BodySerializer` (collab/core/bodies.py: every body of the apps)
is published with `additionalProperties: false`: a key it does not list is refused.

An operation's description is what its `extend_schema(description=...)` says, never the
view's docstring (AutoSchema below): docstrings are written for the code's readers (how a
read is served, which module does what) and the schema for the API's users.
"""

from __future__ import annotations

from drf_spectacular import openapi
from drf_spectacular.plumbing import force_instance

from collab.core.bodies import BodySerializer


class AutoSchema(openapi.AutoSchema):
    """REST_FRAMEWORK's DEFAULT_SCHEMA_CLASS: drf-spectacular's, without docstrings as
    descriptions (see the module docstring). `extend_schema(description=...)` replaces this
    method, so a description given there is published as before."""

    def get_description(self) -> str:
        return ""

    def _map_basic_serializer(self, serializer, direction):
        # A body read by a BodySerializer refuses keys it does not list: say so.
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and isinstance(force_instance(serializer), BodySerializer):
            schema["additionalProperties"] = False
        return schema


ERROR_COMPONENT = "Error"
ERROR_SCHEMA = {
    "type": "object",
    "description": "The one error shape of the API.",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "description": "Stable, machine-readable, snake_case."},
                "message": {"type": "string", "description": "For people."},
                "fields": {
                    "type": "object",
                    "description": "Per input field (camelCase): its messages.",
                    "additionalProperties": True,
                },
            },
            "required": ["code", "message"],
        }
    },
    "required": ["error"],
}

_DESCRIPTIONS = {
    "400": "Bad input (`invalid`, with `fields`), or a Host header this server does not serve (`bad_host`)",
    "401": "No, bad or expired credentials",
    "403": "Not allowed for your role or membership",
    "404": "Not found, or not visible to you",
    "406": "The Accept header or ?format= asks for a representation this route does not have",
    "409": "The resource's state refuses this change",
    "413": "The request body is over the size limit (`request_too_large`)",
    "415": "The body is not JSON (`unsupported_media_type`)",
    "429": "Over the rate limit (`throttled`); Retry-After says when to try again",
    "503": (
        "Redis is down and this request needs it (`service_unavailable`: socket tickets, presence); "
        "requests that do not need it answer as usual. Retry-After says when to try again"
    ),
}
_MUTATING = {"post", "put", "patch", "delete"}
_METHODS = {"get", "post", "put", "patch", "delete", "head", "options"}


def _error_response(status: str, description: str | None = None) -> dict:
    response = {
        "description": description or _DESCRIPTIONS.get(status, "Refused"),
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}}},
    }
    if status == "429":
        response["headers"] = {
            "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds until the window resets."}
        }
    elif status == "503":
        response["headers"] = {
            "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait before retrying."}
        }
    return response


def _shared_statuses(path: str, method: str, operation: dict) -> list[str]:
    if not path.startswith("/api/"):
        return ["400", "406"]  # /health: no authentication, no throttle
    statuses = ["400", "401", "403", "406", "429", "503"]
    has_body = "requestBody" in operation
    has_path_id = any(p.get("in") == "path" for p in operation.get("parameters", ()))
    if has_path_id or has_body:
        statuses.append("404")
    if method in _MUTATING:
        statuses.append("409")
    if has_body:
        statuses += ["413", "415"]
    return statuses


def add_error_responses(result: dict, generator, request, public) -> dict:
    """drf-spectacular POSTPROCESSING_HOOKS entry: see the module docstring."""
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_COMPONENT] = ERROR_SCHEMA
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for status in _shared_statuses(path, method, operation):
                responses.setdefault(status, _error_response(status))
            for status, response in list(responses.items()):
                # Every refusal, also those a view names itself, carries the error shape.
                if status[:1] in ("4", "5") and "content" not in response:
                    responses[status] = _error_response(status, response.get("description") or None)
    return result
