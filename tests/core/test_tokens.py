"""bearer_credentials: the access-token reading of the socket handshake and the async
presence read, cached per token but never past the token's expiry."""

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
    assert bearer_user_id(f"bearer {token}") == student.id  # cached the second time, same answer


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
