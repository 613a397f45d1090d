"""The runners' tests: ``sshpool.connect()`` direct and through the daemon, as a user calls it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import sshpool.sync
from tests.support.library import dsn_for

Factory = Callable[..., sshpool.sync.Connection]


@pytest.fixture(name="make_connection")
def make_connection_fixture(ssh_home: Any, sshd: Any, test_user: Any, tmp_path: Path) -> Iterator[Factory]:
    """``make_connection(server=None, **kwargs)``: a direct sync Connection as the test user."""
    made: list[sshpool.sync.Connection] = []

    def make(server: Any = None, **kwargs: Any) -> sshpool.sync.Connection:
        kwargs.setdefault("state_dir", tmp_path / "state")
        kwargs.setdefault("connect_timeout", 5)
        kwargs.setdefault("command_timeout", 60)
        conn = sshpool.sync.connect(dsn_for(server or sshd, test_user), **kwargs)
        made.append(conn)
        return conn

    yield make
    for conn in made:
        conn.close()
