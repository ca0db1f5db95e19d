"""Guard for collab/core/db/ (the before-commit hook of the outbox): it overrides
methods of Django's DatabaseWrapper and relies on `Atomic.__exit__` calling `commit()` on
the connection with the outermost transaction still open. If Django changes any of them,
this fails loudly: re-read the new code beside collab/core/db/__init__.py, port what
changed, then record the new fingerprint."""

from __future__ import annotations

import hashlib
import inspect

import pytest
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.transaction import Atomic

from collab.core.db import BeforeCommitMixin

FINGERPRINTS = {
    BaseDatabaseWrapper.commit: "54b37694faec878a",
    BaseDatabaseWrapper.rollback: "40eb099b6c9ba834",
    BaseDatabaseWrapper.savepoint_rollback: "64a325396d5e6c96",
    Atomic.__exit__: "6c52b1e68d7d22a5",
}


@pytest.mark.parametrize("replaced", list(FINGERPRINTS), ids=lambda f: f.__qualname__)
def test_the_django_code_the_hook_relies_on_is_unchanged(replaced):
    found = hashlib.sha256(inspect.getsource(replaced).encode()).hexdigest()[:16]
    assert found == FINGERPRINTS[replaced], (
        f"{replaced.__module__}.{replaced.__qualname__} changed (fingerprint {found}): "
        "re-read collab/core/db/__init__.py against it, then record the new fingerprint"
    )


def test_the_configured_backend_has_the_hook():
    assert isinstance(connections["default"], BeforeCommitMixin)
