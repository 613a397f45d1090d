"""Debian's headless Chromium under Selenium, by path: Selenium never downloads a browser or a
driver. Shared by the web-page tests (``browser``) and the bench's page contender, so both drive
the same browser the same way."""

from __future__ import annotations

import os
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

__all__ = ["CHROMEDRIVER", "CHROMIUM", "WAIT", "missing", "start_chromium"]

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WAIT = 20.0


def missing() -> str | None:
    """Why Chromium cannot be driven here, or None."""
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return None
    return f"{CHROMIUM} and {CHROMEDRIVER} are needed: scripts/setup.sh installs them"


def start_chromium(profile: Path, log: Path, size: tuple[int, int] = (1280, 1024)) -> webdriver.Chrome:
    """A headless Chromium with its own profile directory; every page load and script is bounded
    by ``WAIT`` seconds. The caller quits it."""
    options = Options()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",  # run as root here
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        f"--window-size={size[0]},{size[1]}",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(arg)
    # No proxy for a daemon on loopback, whatever the environment says.
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    service = Service(executable_path=str(CHROMEDRIVER), env=env, log_output=str(log))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(WAIT)
    driver.set_script_timeout(WAIT)
    return driver
