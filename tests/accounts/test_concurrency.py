"""Refresh-token rotation under a race, on PostgreSQL with real threads."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from tests.factories import UserFactory

THREADS = 20


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_refreshes_of_one_token_exactly_one_wins():
    user = UserFactory()
    refresh = str(RefreshToken.for_user(user))
    barrier = threading.Barrier(THREADS)
    results: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            client = APIClient()
            barrier.wait(timeout=120)
            response = client.post("/api/auth/refresh", {"refresh": refresh}, format="json")
            with lock:
                results.append((response.status_code, response.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)

    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [401] * (THREADS - 1), statuses
    for status, body in results:
        if status == 401:
            assert body["error"]["code"] == "token_not_valid"
    winner = next(body for status, body in results if status == 200)

    # Exactly one new pair was issued and the old token is blacklisted once.
    assert BlacklistedToken.objects.filter(token__user=user).count() == 1
    assert OutstandingToken.objects.filter(user=user).count() == 2
    # The winner's new refresh token works; the raced one stays refused.
    again = APIClient().post("/api/auth/refresh", {"refresh": winner["refresh"]}, format="json")
    assert again.status_code == 200
    stale = APIClient().post("/api/auth/refresh", {"refresh": refresh}, format="json")
    assert stale.status_code == 401
