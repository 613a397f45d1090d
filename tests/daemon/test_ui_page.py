"""The /ui page in a real headless Chromium against a real sshpoold and the test sshd: the channel
table, a badge that follows a link going down and coming back without a reload, a fan-out from the
run box, and a terminal where typing runs commands. A screenshot of each view is written under the
test's temp dir (and, with SSHPOOL_SCREENSHOTS=DIR, there too) for a person to look at."""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.support.browser import Browser
from tests.support.daemon import Daemon, daemon_running

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def daemon(tmp_path: Path, sshd: Any, test_user: Any, ssh_home: Any) -> Iterator[Daemon]:
    where = f"{test_user.name}@{sshd.host}:{sshd.port}"
    channels = [f"web{i}://{where}?tags=web,prod" for i in (1, 2, 3)] + [f"db1://{where}?tags=db"]
    args = [arg for dsn in channels for arg in ("--channel", dsn)]
    yield from daemon_running(tmp_path, "--keepalive-interval", "1", *args, up=("web1", "web2", "web3", "db1"))


def screenshot(browser: Browser, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"ui-{name}.png"
    browser.driver.save_screenshot(str(path))
    if os.environ.get("SSHPOOL_SCREENSHOTS"):
        shutil.copy(path, Path(os.environ["SSHPOOL_SCREENSHOTS"]) / path.name)


def signed_in(browser: Browser, daemon: Daemon) -> None:
    browser.get(daemon.url + "ui")
    browser.type_into("#token-input", daemon.token)
    browser.click("#token-use")
    browser.wait_for_text("#summary", "4 channels, 4 up")


def badge(browser: Browser, alias: str) -> str:
    return str(browser.script(f"return document.querySelector('tr[data-alias=\"{alias}\"] .badge').dataset.state"))


def test_the_table_shows_the_daemons_channels_and_a_badge_follows_a_lost_link_without_a_reload(
    browser: Browser, daemon: Daemon, sshd: Any, tmp_path: Path
) -> None:
    browser.get(daemon.url + "ui")
    browser.type_into("#token-input", "not-the-token")
    browser.click("#token-use")
    browser.wait_for_text("#token-why", "refused that token (401)")
    signed_in(browser, daemon)
    rows = browser.driver.find_elements(By.CSS_SELECTOR, "#channels tbody tr")
    assert [r.get_attribute("data-alias") for r in rows] == ["db1", "web1", "web2", "web3"]
    assert sorted(daemon.get("/channels").json()) == ["db1", "web1", "web2", "web3"]
    assert "web" in rows[1].text and "prod" in rows[1].text and "@127.0.0.1:" in rows[1].text
    # The first table on screen is a User Timing mark (DevTools shows it; the bench reads it), once.
    browser.wait_for_text("#summary", "4 channels")
    deadline = time.monotonic() + 5
    while not browser.script("return performance.getEntriesByName('sshpool:first-table').length"):
        assert time.monotonic() < deadline, "no sshpool:first-table mark"
        time.sleep(0.05)
    marks = browser.script("return performance.getEntriesByName('sshpool:first-table').map(m => m.detail.channels)")
    assert marks == [4], marks
    screenshot(browser, tmp_path, "channels")
    marker = browser.script("window.sshpoolMarker = 42; return window.sshpoolMarker")
    # The listener stops too, so the channel stays down (reconnecting) until it is let go.
    sessions = sshd.session_pids()
    for pid in [sshd.proc.pid, *sessions]:
        os.kill(pid, signal.SIGSTOP)
    try:
        deadline = time.monotonic() + 15
        while badge(browser, "web1") == "up" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert badge(browser, "web1") in ("reconnecting", "connecting"), badge(browser, "web1")
        screenshot(browser, tmp_path, "reconnecting")
    finally:
        for pid in sessions:
            os.kill(pid, signal.SIGKILL)
            os.kill(pid, signal.SIGCONT)
        os.kill(sshd.proc.pid, signal.SIGCONT)
    deadline = time.monotonic() + 20
    while badge(browser, "web1") != "up" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert badge(browser, "web1") == "up"
    assert browser.script("return window.sshpoolMarker") == marker, "the page was not reloaded"


def test_the_run_box_shows_each_channels_answer_grouped_when_equal(
    browser: Browser, daemon: Daemon, tmp_path: Path
) -> None:
    signed_in(browser, daemon)
    browser.type_into("#run-selector", "@web,db1")
    browser.type_into("#run-command", "echo same; test $SSHPOOL_X || true")
    browser.click("#run-go")
    status = browser.wait_for_text("#run-status", "distinct answer")
    assert status.text == "4 channels answered, 1 distinct answer"
    group = browser.wait_for("#run-output .group h3").text
    assert group.startswith("web1, web2, web3, db1 (4)") or group.startswith("db1, web1, web2, web3 (4)"), group
    assert browser.wait_for("#run-output .group pre.stdout").text == "same"
    browser.type_into("#run-selector", "*")
    browser.type_into("#run-command", 'case "$0" in *) echo one;; esac; [ -n "" ] || exit 3')
    browser.click("#run-go")
    browser.wait_for_text("#run-status", "4 channels answered")
    assert "exit 3" in browser.wait_for("#run-output .group h3").text
    screenshot(browser, tmp_path, "run")
    browser.type_into("#run-command", "echo $$")  # a process id each: four answers, four groups
    browser.click("#run-go")
    assert browser.wait_for_text("#run-status", "distinct").text == "4 channels answered, 4 distinct answers"
    assert len(browser.driver.find_elements(By.CSS_SELECTOR, "#run-output .group")) == 4
    browser.type_into("#run-selector", "@nothing")
    browser.click("#run-go")
    said = browser.wait_for_text("#run-status", "refused").text
    assert said.startswith("refused (404): ") and "@nothing" in said, said


def test_a_channel_opens_a_terminal_where_typing_runs_commands_and_resizes_reach_the_host(
    browser: Browser, daemon: Daemon, tmp_path: Path
) -> None:
    signed_in(browser, daemon)
    row = browser.wait_for('tr[data-alias="web2"]')
    row.send_keys(Keys.ENTER)  # keyboard only
    assert browser.wait_for("#detail-title").text == "web2"
    browser.click("#open-terminal")
    browser.wait_for_text("#terminal-status", "terminal on web2")
    browser.wait_for("#terminal .xterm-screen")
    screen = "return document.querySelector('#terminal .xterm-rows').innerText"
    deadline = time.monotonic() + 15  # the login shell's prompt first: bash drops what was typed before it
    while "$" not in str(browser.script(screen)) and time.monotonic() < deadline:
        time.sleep(0.1)
    browser.driver.switch_to.active_element.send_keys("echo $((6*7))" + Keys.ENTER)
    deadline = time.monotonic() + 15
    while "42" not in str(browser.script(screen)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "\n42" in str(browser.script(screen)).replace("\xa0", " ")
    before = str(browser.script("return document.querySelector('#terminal').clientHeight"))
    browser.script("document.querySelector('#terminal').style.height = '200px'")
    time.sleep(0.5)
    browser.driver.switch_to.active_element.send_keys("stty size" + Keys.ENTER)
    time.sleep(1)
    rows = int(str(browser.script("return document.querySelector('#terminal .xterm-rows').children.length")))
    assert f"{rows} " in str(browser.script(screen)).replace("\xa0", " ").split("stty size")[-1], (before, rows)
    screenshot(browser, tmp_path, "terminal")
    browser.driver.switch_to.active_element.send_keys("exit" + Keys.ENTER)
    browser.wait_for_text("#terminal-status", "ended: exit 0")
    activity = browser.wait_for_text("#detail-audit", "terminal closed").text  # the audit, beside the channel
    assert "ticket" in activity and "terminal open" in activity, activity
