"""Guards on upstream code that collab overrides or relies on: a short hash of its source."""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable


def assert_unchanged(relied_on: Callable, expected: str, *, reread: str) -> None:
    """Fails loudly when `relied_on`'s source no longer hashes to `expected` (16 hex
    digits): re-read `reread` against the new upstream code, then record the new value."""
    found = hashlib.sha256(inspect.getsource(relied_on).encode()).hexdigest()[:16]
    assert found == expected, (
        f"{relied_on.__module__}.{relied_on.__qualname__} changed (fingerprint {found}): "
        f"re-read {reread} against it, then record the new fingerprint"
    )
