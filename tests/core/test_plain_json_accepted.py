"""plain_json_accepted: the Accept headers a fast path in front of a JSON-only DRF view
may answer itself, which must be ones DRF's negotiation answers with plain JSON."""

import pytest
from rest_framework.exceptions import NotAcceptable
from rest_framework.test import APIRequestFactory

from collab.core.negotiation import ContentNegotiation, plain_json_accepted
from collab.core.renderers import WireReadyJSONRenderer

HEADERS = [
    None,
    "*/*",
    "application/json",
    "application/*",
    "text/html, */*",
    "text/html,application/json",
    "application/json; indent=4",
    "application/json;q=0.5, */*;q=0.1",
    "text/html",
    "application/jsonx",
    "application/vnd.api+json",
    "text/*",
]


@pytest.mark.parametrize("accept", HEADERS)
def test_a_header_taken_is_one_drf_answers_with_plain_json(accept):
    from rest_framework.request import Request

    extra = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get("/", **extra))
    try:
        renderer, media_type = ContentNegotiation().select_renderer(request, [WireReadyJSONRenderer()])
        plain = isinstance(renderer, WireReadyJSONRenderer) and media_type == "application/json"
    except NotAcceptable:
        plain = False
    if plain_json_accepted(accept):
        assert plain, f"{accept!r} taken by the fast path, but DRF answers it otherwise"


@pytest.mark.parametrize("accept", ["text/html", "application/jsonx", "application/json; indent=4", "text/*"])
def test_anything_else_is_left_to_drf(accept):
    assert not plain_json_accepted(accept)
