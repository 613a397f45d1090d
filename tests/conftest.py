"""The test session's real parts: a throwaway local user, a client ``$HOME`` and OpenSSH servers.

The suite runs as root (it creates and removes the user and starts sshd); commands on the remote side
always run as the unprivileged test user.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.fleet import ADDRESSES, Fleet
from tests.support.sshd import ClientHome, SSHServer, TestUser

pytest_plugins = ["tests.support.browser", "tests.support.daemon", "tests.support.library"]


def pytest_configure(config: pytest.Config) -> None:
    if os.geteuid() != 0:
        pytest.exit(
            "the tests need root: they start sshd and create a throwaway local user. "
            "Run `make test` (it uses sudo when it has to).",
            returncode=2,
        )


@pytest.fixture(scope="session")
def test_user() -> Iterator[TestUser]:
    user = TestUser.create()
    try:
        yield user
    finally:
        user.remove()


@pytest.fixture(scope="session")
def client_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClientHome]:
    """``$HOME`` for the whole session: sshpool reads ``~/.ssh`` from here, never root's own."""
    home = ClientHome.create(tmp_path_factory.mktemp("client-home"))
    saved = {k: os.environ.get(k) for k in ("HOME", "SSH_AUTH_SOCK")}
    os.environ["HOME"] = str(home.path)
    os.environ.pop("SSH_AUTH_SOCK", None)
    try:
        yield home
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def ssh_home(client_home: ClientHome) -> Iterator[ClientHome]:
    """The client home, with any Host blocks a test adds removed afterwards."""
    yield client_home
    client_home.clear_host_blocks()


def _server(
    home: ClientHome, directory: Path, *, add_known_host: bool = True, authorized_keys: list[str] | None = None,
    **options: Any,
) -> SSHServer:  # fmt: skip
    keys = authorized_keys if authorized_keys is not None else [home.public_key]
    server = SSHServer(directory, authorized_keys=keys, **options)
    server.client_key = home.key  # type: ignore[attr-defined]
    if add_known_host:
        home.trust(server.known_hosts_line)
    return server


@pytest.fixture(scope="session")
def server_root() -> Iterator[Path]:
    """Where servers keep keys and configs: readable by the test user, since sshd reads
    ``authorized_keys`` as the user logging in (pytest's own temp dirs are root-only)."""
    root = Path(tempfile.mkdtemp(prefix="sshpool-sshd-"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def sshd(client_home: ClientHome, test_user: TestUser, server_root: Path) -> Iterator[SSHServer]:
    """The session's sshd: default settings, the client key authorised, its host key known."""
    server = _server(client_home, server_root / "main")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def fleet(client_home: ClientHome, test_user: TestUser, server_root: Path) -> Iterator[Fleet]:
    """Twelve hosts on 127.0.0.2-13 (one sshd), their host key known under each address."""
    server = _server(client_home, server_root / "fleet", also_listen=ADDRESSES)
    try:
        yield Fleet(server, test_user)
    finally:
        server.stop()


@pytest.fixture
def make_sshd(client_home: ClientHome, test_user: TestUser, server_root: Path) -> Iterator[Callable[..., SSHServer]]:
    """Start extra servers with particular settings; all stopped after the test."""
    servers: list[SSHServer] = []

    def make(**kwargs: Any) -> SSHServer:
        server = _server(client_home, Path(tempfile.mkdtemp(dir=server_root)), **kwargs)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
