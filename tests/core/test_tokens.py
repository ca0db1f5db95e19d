"""bearer_credentials: the access-token reading of the socket handshake and the fast
REST paths, read as SimpleJWT reads the header, cached per token but never past the token's expiry."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework_simplejwt.tokens import RefreshToken

from collab.core.tokens import bearer_credentials


def bearer_user_id(header):
    credentials = bearer_credentials(header)
    return credentials.user_id if credentials else None


pytestmark = pytest.mark.django_db


def test_a_valid_access_token_gives_its_user(student):
    token = str(RefreshToken.for_user(student).access_token)
    assert bearer_user_id(f"Bearer {token}") == student.id
    assert bearer_user_id(f"Bearer  {token} ") == student.id  # cached the second time, same answer


@pytest.mark.parametrize(
    "header",
    [
        "Bearer {token}",
        "bearer {token}",
        "BEARER {token}",
        "Bearer  {token}",
        "Bearer\t{token}",
        " Bearer {token} ",
        "Bearer {token} extra",
        "Bearer\xa0{token}",
        "JWT {token}",
        "Bearer",
    ],
)
def test_the_header_is_read_as_simplejwt_reads_it(student, header):
    """REST authentication (SimpleJWT) and every fast path must agree on which headers
    carry a token: a fast path answering 200 where DRF answers 401 is a hole."""
    from rest_framework_simplejwt.authentication import JWTAuthentication
    from rest_framework_simplejwt.exceptions import AuthenticationFailed

    token = str(RefreshToken.for_user(student).access_token)
    value = header.format(token=token)
    try:
        raw = JWTAuthentication().get_raw_token(value.encode("latin-1"))
    except AuthenticationFailed:
        raw = None
    expected = student.id if raw is not None and raw.decode() == token else None
    assert bearer_user_id(value) == expected


def test_a_cached_token_is_refused_once_expired(student):
    token = str(RefreshToken.for_user(student).access_token)
    assert bearer_user_id(f"Bearer {token}") == student.id
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        assert bearer_user_id(f"Bearer {token}") is None


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer not-a-token", "Basic abc", "Token abc"])
def test_anything_else_gives_nobody(header):
    assert bearer_user_id(header) is None


def test_a_refresh_token_is_not_an_access_token(student):
    assert bearer_user_id(f"Bearer {RefreshToken.for_user(student)}") is None


def test_a_token_signed_with_another_key_is_refused(student, settings):
    token = str(RefreshToken.for_user(student).access_token)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert bearer_user_id(f"Bearer {forged}") is None
