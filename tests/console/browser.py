"""Headless Chromium (Debian's `chromium` + `chromium-driver`, installed by
scripts/browser.sh) driven by Selenium, and the real processes the console talks to:
the Procfile's web command, a Celery worker and beat."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import (
    ElementNotInteractableException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.factories import PASSWORD
from tests.servers import ROOT

# Generous: two cores are shared by many runs; every wait is for a condition.
WAIT_SECONDS = 45

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
]


def chromium_paths() -> tuple[str, str]:
    browser = shutil.which("chromium")
    driver = shutil.which("chromedriver")
    if not (browser and driver):
        raise RuntimeError("chromium and chromium-driver are missing: run `bash scripts/browser.sh` (make test does)")
    return browser, driver


def start_celery(kind: str, env: dict[str, str], workdir: Path) -> subprocess.Popen:
    """`celery -A collab worker|beat` (the Procfile's commands) on the test database and Redis."""
    args = ["worker", "--concurrency", "1", "--pool", "solo"] if kind == "worker" else ["beat"]
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "collab", *args, "--loglevel", "WARNING"],
        cwd=ROOT,
        env={**env, "CELERY_BEAT_SCHEDULE_FILENAME": str(workdir / "celerybeat-schedule")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


class Page:
    """One browser window (its own profile: its own sessionStorage and socket) on the console."""

    def __init__(self, name: str, base_url: str):
        browser, driver = chromium_paths()
        self.name = name
        self.base_url = base_url
        self.profile = tempfile.mkdtemp(prefix=f"collab-chromium-{name}-")
        options = webdriver.ChromeOptions()
        options.binary_location = browser
        for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={self.profile}"]:
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(options=options, service=Service(driver))
        self.driver.set_page_load_timeout(WAIT_SECONDS)

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    def screenshot(self, directory: Path) -> Path:
        path = directory / f"{self.name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def console_log(self) -> list[dict]:
        return self.driver.get_log("browser")

    # -- waiting -------------------------------------------------------------------------

    def wait(self, condition: Callable[[], object], what: str, timeout: float = WAIT_SECONDS):
        def check(_driver):
            try:
                return condition()
            except (StaleElementReferenceException, ElementNotInteractableException):
                # The page redrew the element (a frame arrived): look it up again.
                return False

        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.2).until(check)
        except TimeoutException:
            raise AssertionError(f"{self.name}: timed out waiting for {what}") from None

    def find(self, css: str):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def finds(self, css: str):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text(self, css: str) -> str:
        found = self.finds(css)
        return found[0].text if found else ""

    def wait_text(self, css: str, text: str, timeout: float = WAIT_SECONDS) -> None:
        self.wait(lambda: text in self.text(css), f"{text!r} in {css}", timeout)

    def wait_no_text(self, css: str, text: str) -> None:
        self.wait(lambda: text not in self.text(css), f"{text!r} to leave {css}")

    def wait_visible(self, css: str):
        return self.wait(lambda: next((e for e in self.finds(css) if e.is_displayed()), None), f"{css} visible")

    def click(self, css: str) -> None:
        """Clicks the first visible `css` element (found again if the page redrew it)."""

        def click():
            element = next((e for e in self.finds(css) if e.is_displayed()), None)
            return element is not None and (element.click() or True)

        self.wait(click, f"{css} to click")

    def button(self, label: str, within: str = "body") -> None:
        """Clicks the visible, enabled button whose text is `label`."""

        def click():
            for element in self.finds(f"{within} button"):
                if element.text.strip() == label and element.is_displayed() and element.is_enabled():
                    element.click()
                    return True
            return False

        self.wait(click, f"button {label!r}")

    def type(self, css: str, text: str) -> None:
        """Types into the first visible, enabled `css` element (found again if redrawn)."""

        def type_():
            element = next((e for e in self.finds(css) if e.is_displayed() and e.is_enabled()), None)
            return element is not None and (element.send_keys(text) or True)

        self.wait(type_, f"{css} to type into")

    def fill(self, css: str, value: str) -> None:
        element = self.wait_visible(css)
        element.clear()
        element.send_keys(value)

    def labelled(self, label: str, within: str = "body"):
        """The control whose <label> reads `label`."""

        def find():
            for element in self.finds(f"{within} label"):
                if element.text.strip() == label and element.is_displayed():
                    return self.find(f"#{element.get_attribute('for')}")
            return None

        return self.wait(find, f"field {label!r}")

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    # -- the console ---------------------------------------------------------------------

    def open(self, path: str = "/") -> None:
        self.driver.get(self.base_url + path)

    def sign_in(self, email: str, password: str = PASSWORD) -> None:
        self.open()
        self.fill("#signin-email", email)
        self.fill("#signin-password", password)
        self.click("#signin-form button[type=submit]")
        self.wait_connected()

    def connection(self) -> str:
        return self.find("#connection").get_attribute("data-state")

    def wait_connected(self) -> None:
        self.wait(lambda: self.connection() == "connected", "the connection indicator to say connected")

    def set_status(self, label: str) -> None:
        Select(self.find("#status-picker")).select_by_visible_text(label)

    def errors(self) -> str:
        return self.text("#errors")


def new_page(name: str, base_url: str) -> Page:
    return Page(name, base_url)


__all__ = ["WAIT_SECONDS", "Page", "new_page", "os", "start_celery", "stop_process", "time"]
