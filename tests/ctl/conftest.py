"""sshpoolctl's tests: its one-shot verbs and its interactive shell, as a user types them, against a
real daemon."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.daemon import Daemon, daemon_running


@pytest.fixture
def pool(tmp_path: Path, sshd: Any, test_user: Any, ssh_home: Any) -> Iterator[Daemon]:
    """A daemon with two channels to the test sshd, web1 and db1, both up."""
    where = f"{test_user.name}@{sshd.host}:{sshd.port}"
    yield from daemon_running(
        tmp_path, "--channel", f"web1://{where}", "--channel", f"db1://{where}", up=("web1", "db1")
    )
