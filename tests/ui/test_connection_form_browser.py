"""The connection form and its Test button in a real browser, as a new user meets them.

Headless Chromium (Debian's ``chromium`` and ``chromium-driver``, installed by ``make chromium``)
drives the real api-server's UI: add a ``vlm`` connection through the form (Base URL, API key and
Port 0, as the form asks), press Test, read the answer; then edit the key to a wrong one and press
Test again. No CLI or REST step. ``VLM_DOCS_SCREENSHOTS=1`` also writes the screenshots that
``docs/connection.md`` shows into ``docs/img/``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.timeout(600)

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
#: Without the background-networking flags Chromium keeps calling home, which a closed network
#: answers with a flood of failures; a fresh profile keeps every run alike.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)
#: Long enough for a loaded machine; the waits end as soon as their condition holds.
PATIENCE = 120.0
CONN_ID = "vlm_browser"
WRONG_KEY = "sk-browser-wrong-key-5150"


def _unavailable(reason: str) -> None:
    """Skip on a developer's machine; under CI (``CI`` set) a missing browser is a failure."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: `make test` installs it with `make chromium`)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        _unavailable(
            f"needs {CHROMIUM} and {CHROMEDRIVER} (Debian: apt-get install chromium chromium-driver)"
        )
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable("needs selenium (the dev extra)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


class Page:
    """The few interactions the test needs, each waiting for what it acts on."""

    def __init__(self, driver: Any, base: str, shots: Path) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver = driver
        self.base = base
        self.shots = shots
        self.by = By
        self.ec = expected_conditions
        self.wait = WebDriverWait(driver, PATIENCE, poll_frequency=0.2)

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)

    def click(self, xpath: str) -> None:
        """Click once the element takes the click: a toast's hover zone can cover it for a while."""
        from selenium.common.exceptions import ElementClickInterceptedException

        def clicked(driver: Any) -> bool:
            element = self.ec.element_to_be_clickable((self.by.XPATH, xpath))(driver)
            if not element:
                return False
            try:
                element.click()
            except ElementClickInterceptedException:
                return False
            return True

        self.wait.until(clicked)

    def field(self, name: str) -> Any:
        return self.wait.until(self.ec.visibility_of_element_located((self.by.NAME, name)))

    def type_into(self, name: str, text: str, *, replace: bool = False) -> None:
        from selenium.webdriver.common.keys import Keys

        element = self.field(name)
        if replace:  # as a user does: select what is there and type over it
            element.send_keys(Keys.CONTROL, "a")
            element.send_keys(Keys.DELETE)
        element.send_keys(text)

    def choose_connection_type(self, label: str) -> None:
        from selenium.webdriver.common.keys import Keys

        combo = self.wait.until(
            self.ec.element_to_be_clickable((self.by.CSS_SELECTOR, "input[role=combobox]"))
        )
        combo.send_keys(label)
        self.wait.until(
            self.ec.visibility_of_element_located((self.by.XPATH, f"//*[@role='option'][. = '{label}']"))
        )
        combo.send_keys(Keys.ENTER)

    def row_button(self, conn_id: str, label: str) -> str:
        return f"//tr[.//*[normalize-space(.) = '{conn_id}']]//button[@aria-label='{label}']"

    def toast(self, text: str) -> str:
        """The text of the toast that says ``text`` (title and message), once it shows."""
        xpath = f"//*[@data-scope='toast' and @data-part='root'][contains(., {_xpath_literal(text)})]"
        return str(self.wait.until(self.ec.visibility_of_element_located((self.by.XPATH, xpath))).text)

    def toasts_gone(self) -> None:
        """Wait until every toast has timed out, as a user waits before the next step."""
        self.wait.until(
            self.ec.invisibility_of_element_located(
                (self.by.XPATH, "//*[@data-scope='toast' and @data-part='root']")
            )
        )

    def dialog_closed(self) -> None:
        self.wait.until(self.ec.invisibility_of_element_located((self.by.NAME, "host")))

    def screenshot(self, name: str) -> Path:
        path = self.shots / name
        self.driver.save_screenshot(str(path))
        return path


def _xpath_literal(text: str) -> str:
    return f"'{text}'" if "'" not in text else "concat('" + "', \"'\", '".join(text.split("'")) + "')"


def _keep_for_docs(*shots: Path) -> None:
    if os.environ.get("VLM_DOCS_SCREENSHOTS") == "1":
        for shot in shots:
            shutil.copyfile(shot, ROOT / "docs" / "img" / shot.name)


def test_form_made_connection_passes_the_test_button_and_names_a_wrong_key(
    browser: Any, api_server: Any, dev: Any, tmp_path: Path
) -> None:
    page = Page(browser, f"http://127.0.0.1:{api_server.airflow.port}", tmp_path)
    # The simple auth manager lets every user in as admin (tests/ui/conftest.py): the UI opens
    # signed in.
    page.open("/connections")
    page.click("//button[contains(., 'Add Connection')]")
    page.type_into("connection_id", CONN_ID)
    page.choose_connection_type("VLM Run")
    page.type_into("host", dev.base_url)
    page.type_into("password", dev.api_key)
    page.type_into("port", "0")
    form = page.screenshot("connection_form.png")
    page.click("//button[contains(., 'Save')]")
    page.dialog_closed()

    page.click(page.row_button(CONN_ID, "Test Connection"))
    answer = page.toast("the API key was accepted")
    assert f"Connected to {dev.base_url}; the API key was accepted." in answer, answer
    accepted = page.screenshot("connection_test_button.png")
    page.toasts_gone()

    page.click(page.row_button(CONN_ID, "Edit Connection"))
    page.type_into("password", WRONG_KEY, replace=True)
    page.click("//button[contains(., 'Save')]")
    page.dialog_closed()
    page.click(page.row_button(CONN_ID, "Test Connection"))
    answer = page.toast("key rejected")
    assert f"API key rejected (HTTP 401): {dev.base_url} refused the connection's key." in answer, answer
    rejected = page.screenshot("connection_test_rejected.png")
    assert WRONG_KEY not in browser.page_source and dev.api_key not in browser.page_source
    _keep_for_docs(form, accepted, rejected)
