"""A real headless Chromium for the daemon's web pages (/docs), driven by Selenium.

Debian's ``chromium`` and ``chromium-driver`` (scripts/setup.sh installs them) are used by their
paths, so Selenium never downloads a browser or a driver. Usage::

    def test_x(browser: Browser, daemon: Daemon) -> None:
        browser.get(daemon.url + "docs")
        browser.wait_for("#swagger-ui .info")            # a CSS selector, visible within 20 s

Registered as a plugin by tests/conftest.py, so the fixture reaches every folder.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from .chromium import CHROMEDRIVER, CHROMIUM, WAIT, missing, start_chromium

__all__ = ["CHROMEDRIVER", "CHROMIUM", "Browser", "browser"]


class Browser:
    """One headless Chromium window; every wait has a deadline (``WAIT`` seconds by default)."""

    def __init__(self, driver: webdriver.Chrome) -> None:
        self.driver = driver

    def get(self, url: str) -> None:
        self.driver.get(url)

    def wait_for(self, css: str, timeout: float = WAIT) -> WebElement:
        """The first element matching ``css`` once it is visible."""
        element: WebElement = WebDriverWait(self.driver, timeout).until(
            expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, css))
        )
        return element

    def wait_for_text(self, css: str, text: str, timeout: float = WAIT) -> WebElement:
        """The element matching ``css`` once its text contains ``text``."""
        WebDriverWait(self.driver, timeout).until(
            expected_conditions.text_to_be_present_in_element((By.CSS_SELECTOR, css), text)
        )
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def type_into(self, css: str, text: str) -> None:
        field = self.wait_for(css)
        field.clear()
        field.send_keys(text)

    def click(self, css: str) -> None:
        WebDriverWait(self.driver, WAIT).until(
            expected_conditions.element_to_be_clickable((By.CSS_SELECTOR, css))
        ).click()

    def script(self, js: str) -> object:
        return self.driver.execute_script(js)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    """A fresh headless Chromium (its own profile under ``tmp_path``), closed afterwards."""
    why = missing()
    if why is not None:
        pytest.fail(f"the web-page tests need Chromium: {why}")
    driver = start_chromium(tmp_path / "chromium-profile", tmp_path / "chromedriver.log")
    try:
        yield Browser(driver)
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)
