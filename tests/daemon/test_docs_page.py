"""The /docs page in a real headless Chromium against a real sshpoold: what a user sees and types."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.support.browser import Browser
from tests.support.daemon import Daemon

pytestmark = pytest.mark.timeout(120)


def test_a_mistyped_token_on_docs_is_asked_for_again_and_the_right_one_works(browser: Browser, daemon: Daemon) -> None:
    """A typo no longer sticks for the tab's life: the 401 brings the token form back with the
    reason, the right token loads the API, and a call made from the page carries it."""
    browser.get(daemon.url + "docs")
    browser.type_into("#sshpool-token-input", "not-the-token")
    browser.click("#sshpool-token-use")
    why = browser.wait_for_text("#sshpool-why", "refused that token (401)")
    assert why.text == "The daemon refused that token (401); enter it again."
    assert browser.wait_for("#sshpool-token-input").get_attribute("value") == ""
    browser.get(daemon.url + "docs")  # a reload asks again: the refused token was not kept
    browser.wait_for("#sshpool-token-input")
    browser.type_into("#sshpool-token-input", daemon.token)
    browser.click("#sshpool-token-use")
    assert "sshpoold" in browser.wait_for("#swagger-ui .info .title").text
    assert not browser.wait_for("#sshpool-change-token").get_attribute("hidden")
    # A call from the page: GET /channels, tried out and executed, answers 200 with the token.
    browser.click('.opblock-get .opblock-summary-path[data-path="/channels"]')
    browser.click(".opblock-get.is-open .try-out__btn")
    browser.click(".opblock-get.is-open .execute")
    status = browser.wait_for_text(".opblock-get.is-open .live-responses-table tr.response .response-col_status", "200")
    assert status.text.strip().startswith("200")
    # The daemon is given a new token (SIGHUP re-reads it): the next call's 401 brings the form
    # back with the reason, and the new token makes the call work again.
    (daemon.state_dir / "token").write_text("a-new-token-0123456789abcdef\n")
    os.kill(daemon.pid, signal.SIGHUP)
    deadline = time.monotonic() + 10
    while "reloaded the token" not in daemon.log_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    browser.click(".opblock-get.is-open .execute")
    why = browser.wait_for_text("#sshpool-why", "(401)")
    assert why.text == "The daemon refused the token (401); enter it again, then repeat the call."
    browser.type_into("#sshpool-token-input", "a-new-token-0123456789abcdef")
    browser.click("#sshpool-token-use")
    browser.wait_for("#sshpool-change-token")  # the page stays as it was: the call is repeated
    browser.click(".opblock-get.is-open .execute")
    browser.wait_for_text(".opblock-get.is-open .live-responses-table tr.response .response-col_status", "200")
