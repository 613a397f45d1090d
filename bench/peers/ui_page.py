"""sshpoold's page in a real headless Chromium: how long from opening ``/ui`` until the table of
every channel is on screen. The page marks that moment itself (a User Timing mark taken after the
frame that paints its first table), so the figure is the browser's own clock from the start of the
navigation, not a poll from outside."""

from __future__ import annotations

import contextlib
import shutil
import time
from pathlib import Path
from typing import Any

from tests.support.chromium import WAIT, missing, start_chromium

from ..config import Target
from .common import Tally

FIRST_TABLE = "sshpool:first-table"
READ_MARK = (
    "const m = performance.getEntriesByName(arguments[0]);"
    "return m.length ? [m[0].startTime, m[0].detail.channels] : null;"
)


class UiPage:
    name = "sshpool-ui"

    def __init__(self, target: Target) -> None:
        self.t = target
        self.profile = Path(target.scratch) / "ui-profile"
        self.driver: Any = None

    def setup(self) -> str | None:
        why = missing()
        if why is not None:
            return why
        self.driver = start_chromium(self.profile, Path(self.t.scratch) / "chromedriver.log")
        self.driver.get(self.t.daemon_url + "/ui")
        # The token as the page keeps it once asked: for this tab only.
        self.driver.execute_script("sessionStorage.setItem('sshpool-token', arguments[0])", self.t.daemon_token)
        return None

    def first_table(self, n: int, rounds: int) -> dict[str, Any]:
        """``rounds`` fresh loads of the page with ``n`` channels on the daemon: milliseconds from
        the navigation's start to the first table; a table without all ``n`` is a failure."""
        tally = Tally()
        for _ in range(rounds):
            self.driver.get(self.t.daemon_url + "/ui")
            deadline = time.monotonic() + WAIT
            mark = None
            while mark is None and time.monotonic() < deadline:
                mark = self.driver.execute_script(READ_MARK, FIRST_TABLE)
                if mark is None:
                    time.sleep(0.01)
            if mark is None:
                tally.fail(f"no first table within {WAIT:g} s")
            elif int(mark[1]) < n:
                tally.fail(f"the first table showed {mark[1]} channels, not {n}")
            else:
                tally.times.append(float(mark[0]) / 1000)
        return {**tally.as_dict(), "channels": n}

    def close(self) -> None:
        if self.driver is not None:
            with contextlib.suppress(Exception):
                self.driver.quit()
        shutil.rmtree(self.profile, ignore_errors=True)


PEERS = {"sshpool-ui": UiPage}
