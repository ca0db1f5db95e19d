"""The suite's own guards: a crash in a thread, a hung thread or a pass on the wrong
database cannot go unseen."""

from __future__ import annotations

import os
import threading

import pytest
from django.db import connection

from tests.concurrency import run_at_once


# A pytest of its own in a subprocess, without Django: the same on either database.
@pytest.mark.slow
@pytest.mark.db_independent
def test_an_exception_in_a_tests_thread_fails_the_test(pytester, pytestconfig):
    # This suite's own warning filters, on a test whose thread crashes.
    filters = "\n    ".join(pytestconfig.getini("filterwarnings"))
    pytester.makeini(f"[pytest]\nfilterwarnings =\n    {filters}\n")
    pytester.makepyfile(
        """
        import threading

        def test_crashing_thread():
            thread = threading.Thread(target=lambda: 1 / 0)
            thread.start()
            thread.join()
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:django", "-p", "no:xdist", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*ZeroDivisionError*"])


def test_run_at_once_fails_when_a_thread_hangs():
    release = threading.Event()
    try:
        with pytest.raises(AssertionError, match="still running"):
            run_at_once([lambda: None, lambda: release.wait(30)], timeout=0.5)
    finally:
        release.set()


def test_run_at_once_returns_each_exception_in_order():
    def boom():
        raise ValueError("boom")

    first, second = run_at_once([lambda: 1, boom])
    assert first == 1 and isinstance(second, ValueError)


@pytest.mark.django_db
def test_the_pass_runs_on_the_database_it_claims():
    claimed = os.environ.get("COLLAB_TEST_DB_VENDOR")
    if claimed is None:
        pytest.skip("run outside scripts/test.sh: no pass claims a database")
    assert connection.vendor == claimed
