"""The helpers' tests: every helper on a direct channel and on a daemon's channel, against a server
whose sessions find a remote venv and an ``apt-get`` shim first on PATH."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import pytest

from tests.support.library import trusted, write_apt_shim


@pytest.fixture(name="ops_server")
def ops_server_fixture(make_sshd: Any, test_user: Any, remote_venv: Path, tmp_path: Path) -> Any:
    """An sshd whose sessions have the remote venv and an ``apt-get`` shim first on PATH (sshd's
    SetEnv: the test user's dotfiles stay untouched) and never reach for a package index."""
    shims = Path(test_user.home) / "shims"
    write_apt_shim(shims, test_user.name)
    path = f"{remote_venv}/bin:{shims}:/usr/local/bin:/usr/bin:/bin"
    server = trusted(make_sshd(extra={"SetEnv": f"PATH={path} PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1"}))
    return types.SimpleNamespace(host=server.host, port=server.port, shims=shims, sshd=server)
