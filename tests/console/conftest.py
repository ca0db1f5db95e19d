"""Fixtures of the browser tests: one stack of real processes per module (web, worker,
beat), fresh browser windows per test, and a screenshot of each window when a test fails
(under the test's own temporary directory)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

from tests.console.browser import Page, start_celery, stop_process
from tests.factories import CourseFactory, EnrollmentFactory, InstructorFactory, UserFactory
from tests.servers import AsgiServer, free_port, start_server, test_database_url


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@dataclass
class Stack:
    server: AsgiServer
    env: dict[str, str]

    @property
    def url(self) -> str:
        return self.server.http_url

    def restart_web(self) -> None:
        """Stops the web process and starts a new one on the same port (the pages' origin)."""
        self.server.stop()
        self.server = start_server(self.env, port=self.server.port, timeout=60)


@pytest.fixture(scope="module")
def stack(django_db_setup, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("stack")
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    env = {
        "TEST_EXTRA_SOCKET_ORIGINS": origin,
        # Office hours open and close on the beat's tick; presence as in production.
        "OFFICE_HOURS_TICK_SECONDS": "5",
        # A page loads several REST reads at once: a small pool (the production shape)
        # bounds the connections this stack takes from a PostgreSQL shared with other runs.
        "DB_POOL": "true",
        "DB_POOL_MIN_SIZE": "1",
        "DB_POOL_MAX_SIZE": "4",
    }
    celery_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "collab.settings_test",
        "DATABASE_URL": test_database_url(),
        **env,
    }
    worker = start_celery("worker", celery_env, workdir)
    beat = start_celery("beat", celery_env, workdir)
    stack = Stack(start_server(env, port=port, timeout=60), env)
    try:
        yield stack
    finally:
        stack.server.stop()
        stop_process(beat)
        stop_process(worker)


@pytest.fixture
def browsers(request, stack, tmp_path):
    """`browsers("instructor")` opens a new window on the console; all close at the end,
    each saving a screenshot (and its console log) first if the test failed."""
    pages: list[Page] = []

    def open_page(name: str) -> Page:
        page = Page(name, stack.url)
        pages.append(page)
        return page

    yield open_page
    failed = any(getattr(getattr(request.node, f"report_{when}", None), "failed", False) for when in ("setup", "call"))
    for page in pages:
        try:
            if failed:
                shot = page.screenshot(tmp_path)
                (tmp_path / f"{page.name}.log").write_text("\n".join(str(e) for e in page.console_log()))
                print(f"screenshot of {page.name}: {shot}")
        finally:
            page.close()


@pytest.fixture
def klass():
    """A course with its instructor and two students (committed: the server reads them)."""
    instructor = InstructorFactory(name="Ada Instructor")
    course = CourseFactory(instructor=instructor, title="JavaScript Fundamentals")
    students = [UserFactory(name="Bea Student"), UserFactory(name="Cal Student")]
    for student in students:
        EnrollmentFactory(course=course, user=student)
    return instructor, course, students
