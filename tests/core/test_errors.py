"""One error shape for every refusal, and never a 500 for a malformed body."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver

from collab.core.views import server_error
from tests.factories import CourseFactory, EnrollmentFactory

pytestmark = pytest.mark.django_db


def assert_error_shape(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert list(body) == ["error"], body
    error = body["error"]
    assert set(error) <= {"code", "message", "fields"}
    assert isinstance(error["code"], str) and re.fullmatch(r"[a-z_]+", error["code"]), error
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code, error
    return error


def test_400_has_field_errors(api):
    error = assert_error_shape(api(None).post("/api/auth/register", {"email": "x"}, format="json"), 400, "invalid")
    assert set(error["fields"]) == {"email", "password", "name"}
    assert all(isinstance(messages, list) and messages for messages in error["fields"].values())


def test_400_field_names_are_camel_case(api, course, instructor):
    response = api(instructor).post(f"/api/courses/{course.id}/enrollments", {"userId": "nope"}, format="json")
    error = assert_error_shape(response, 400, "invalid")
    assert "userId" in error["fields"]


def test_400_non_field_errors(api, course, instructor):
    response = api(instructor).post(f"/api/courses/{course.id}/enrollments", {}, format="json")
    error = assert_error_shape(response, 400, "invalid")
    assert "nonFieldErrors" in error["fields"]


def test_401_shape(api):
    error = assert_error_shape(api(None).get("/api/auth/me"), 401, "not_authenticated")
    assert "fields" not in error


def test_403_shape_with_a_specific_code(api, student):
    assert_error_shape(api(student).post("/api/courses", {"title": "T"}, format="json"), 403, "not_instructor")


def test_403_from_a_service(api, course, student, other_student):
    response = api(student).post(
        f"/api/courses/{course.id}/enrollments", {"userId": str(other_student.id)}, format="json"
    )
    assert_error_shape(response, 403, "not_course_instructor")


def test_404_for_a_missing_resource(api, student):
    assert_error_shape(api(student).get(f"/api/courses/{uuid.uuid4()}"), 404, "course_not_found")


@pytest.mark.parametrize("path", ["/api/nothing-here", "/api/courses/not-a-uuid", "/api/courses/", "/nope"])
def test_404_for_an_unknown_url(api, student, path):
    assert_error_shape(api(student).get(path), 404, "not_found")


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/api/auth/login"),
        ("get", "/api/auth/register"),
        ("put", "/api/auth/refresh"),
    ],
)
def test_405_on_public_routes(api, method, path):
    assert_error_shape(getattr(api(None), method)(path), 405, "method_not_allowed")


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/api/auth/logout"),
        ("delete", "/api/auth/me"),
        ("get", "/api/auth/ws-ticket"),
        ("delete", "/api/courses"),
        ("put", "/api/courses/{course}"),
        ("patch", "/api/courses/{course}"),
        ("post", "/api/courses/{course}/members"),
        ("get", "/api/courses/{course}/enrollments"),
        ("get", "/api/courses/{course}/enrollments/{student}"),
        ("post", "/health"),
    ],
)
def test_405_on_protected_routes(api, course, student, method, path):
    path = path.format(course=course.id, student=student.id)
    response = getattr(api(student), method)(path)
    assert_error_shape(response, 405, "method_not_allowed")


def test_409_shape(api, course, instructor, student):
    response = api(instructor).post(f"/api/courses/{course.id}/enrollments", {"userId": str(student.id)}, format="json")
    assert_error_shape(response, 409, "already_enrolled")


def test_415_shape(api, instructor):
    response = api(instructor).post("/api/courses", "title=T", content_type="application/x-www-form-urlencoded")
    assert_error_shape(response, 415, "unsupported_media_type")


def test_500_handler_speaks_the_same_shape():
    response = server_error(RequestFactory().get("/api/courses"))
    assert response.status_code == 500
    body = json.loads(response.content)
    assert body["error"]["code"] == "server_error" and body["error"]["message"]


# -- malformed bodies on every route ----------------------------------------------------


def _api_routes() -> list[tuple[str, str]]:
    """(method, route template) for every /api route in the URLconf, from the resolver."""
    found: list[tuple[str, str]] = []

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and route.startswith("api/"):
                view = pattern.callback
                cls = getattr(view, "cls", None)
                actions = getattr(view, "actions", None)
                if actions:
                    methods = list(actions)
                elif cls is not None:
                    methods = [m for m in ("get", "post", "put", "patch", "delete") if hasattr(cls, m)]
                else:
                    continue
                found.extend((method, route) for method in methods)

    walk(get_resolver().url_patterns, "")
    return found


BAD_BODIES = [
    b"{bad json",
    b"{'single': 1}",
    b"",
    b"null",
    b"[]",
    b"[1, 2, 3]",
    b'"a string"',
    b"12345",
    b"true",
    b"\xff\xfe\x00garbage",
    b'{"email": {"nested": true}, "password": [1], "name": null, "title": {}, "userId": [], "refresh": {}}',
    b'{"email": "a@b.c", "password": 1e999, "name": 12, "title": 1e999, "userId": 5, "refresh": 1}',
    b'{"title": "a\\u0000b", "email": "a\\u0000@b.c", "name": "x\\u0000", "refresh": "\\u0000"}',
    b"[" * 100_000 + b"]" * 100_000,
    b'{"title": ' + b"[" * 900 + b"]" * 900 + b"}",
    b'{"a":' * 900 + b"1" + b"}" * 900,
    b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    b'{"title": "' + b"x" * 1_000_000 + b'"}',
    b'{"n": 1' + b"0" * 5000 + b"}",
]


@pytest.mark.parametrize("body", BAD_BODIES, ids=[f"body{i}" for i in range(len(BAD_BODIES))])
def test_no_route_answers_a_malformed_body_with_a_500(api, body):
    instructor_course = CourseFactory()
    EnrollmentFactory(course=instructor_course)
    routes = _api_routes()
    assert len(routes) >= 11
    client = api(instructor_course.instructor)
    for method, route in routes:
        if (
            method not in ("post", "put", "patch", "delete")
            or route.startswith("api/schema")
            or route.startswith("api/docs")
        ):
            continue
        path = "/" + re.sub(r"<uuid:\w+>", str(instructor_course.id), route)
        response = getattr(client, method)(path, data=body, content_type="application/json")
        assert response.status_code < 500, (method, path, body[:40], response.status_code)
        if response.status_code >= 400:
            assert_error_shape(response, response.status_code)


# -- issue 15: Django's own 400s, every method and renderer on every route ----------------


def test_a_body_over_the_upload_limit_is_413_request_too_large(api, instructor, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    body = b'{"title": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = api(instructor).post("/api/courses", data=body, content_type="application/json")
    assert_error_shape(response, 413, "request_too_large")


def test_a_bad_host_is_400_bad_host_in_the_error_shape(client):
    assert_error_shape(client.get("/api/courses", HTTP_HOST="evil.example"), 400, "bad_host")
    assert_error_shape(client.get("/health", HTTP_HOST="evil.example"), 400, "bad_host")


def test_the_admin_keeps_its_html_for_a_bad_host(client):
    response = client.get("/admin/", HTTP_HOST="evil.example")
    assert response.status_code == 400 and not response["Content-Type"].startswith("application/json")


def test_a_format_the_route_does_not_offer_is_406_naming_those_it_does(api):
    # It was a 404 "Not found." (DRF's): the resource exists, and 404 is not among the
    # statuses the schema lists for most routes; 406 is, for every one.
    course = CourseFactory()
    client = api(course.instructor)
    error = assert_error_shape(client.get("/api/auth/me?format=xml"), 406, "not_acceptable")
    assert error["message"] == 'format: "xml" is not offered here; one of: json.'
    assert client.get("/api/auth/me?format=json").status_code == 200
    error = assert_error_shape(client.get(f"/api/courses/{course.id}?format=yaml"), 406, "not_acceptable")
    assert "one of: json." in error["message"]


@pytest.mark.parametrize("query", ["", "?format=csv", "?format=json", "?format=xml"])
def test_options_and_head_on_every_route_never_fail(api, query):
    course = CourseFactory()
    EnrollmentFactory(course=course)
    client = api(course.instructor)
    paths = {"/" + re.sub(r"<uuid:\w+>", str(course.id), route) for _, route in _api_routes()}
    assert paths
    for path in sorted(paths):
        for method in ("options", "head"):
            response = getattr(client, method)(path + query)
            assert response.status_code < 500, (method, path + query, response.status_code)
            if method == "options" and response.status_code < 300:
                assert response["Content-Type"].startswith("application/json"), (path, response["Content-Type"])
                assert "OPTIONS" in response["Allow"]
            elif method == "options":
                assert_error_shape(response, response.status_code)


# -- the input field to blame (collab.core.errors.input_field) --------------------------------


def test_a_lookup_refused_inside_input_field_names_the_field_and_keeps_its_code():
    from collab.core.errors import Conflict, NotAllowed, NotFound, input_field

    with pytest.raises(NotFound) as missing, input_field("courseId"):
        raise NotFound("Course not found.", code="course_not_found")
    assert (missing.value.code, missing.value.status) == ("course_not_found", 404)
    assert missing.value.fields == {"courseId": ["Course not found."]}
    with pytest.raises(Conflict) as named, input_field("courseId"):
        raise Conflict("Taken.", code="taken", fields={"email": ["Taken."]})
    assert named.value.fields == {"email": ["Taken."]}  # a refusal that names its field keeps it
    with pytest.raises(NotAllowed) as refused, input_field("courseId"):
        raise NotAllowed("No.", code="not_course_member")
    assert refused.value.fields is None  # a permission refusal is not the field's fault
