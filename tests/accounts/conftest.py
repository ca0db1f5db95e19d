"""Fixtures of the accounts tests: a user and a REST sign-in of theirs."""

from __future__ import annotations

import pytest

from tests.accounts.test_signout import login
from tests.factories import UserFactory


@pytest.fixture
def user():
    return UserFactory()


@pytest.fixture
def session(user) -> dict:
    """A REST login: its generation is cached in Redis, as for every signed-in client, so
    its ticket requests take the fast paths."""
    return login(user)
