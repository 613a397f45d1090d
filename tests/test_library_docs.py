"""Every Python block of the README's library section runs, in order, against the test sshd (``myserver``)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.support.daemon import start_daemon
from tests.support.library import ssh_config_first
from tests.support.readme import README, blocks, section

pytestmark = pytest.mark.timeout(90)


def test_the_library_docs_examples_run(
    poseidon_world: dict[str, Any],
    test_user: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    port = poseidon_world["server"].port
    examples = blocks(section("## The Python library"), "python")
    assert len(examples) >= 4
    home = poseidon_world["home"]
    # the daemon of the "Through sshpoold" example, found through SSHPOOL_STATE_DIR (tmp_path/state)
    daemon = start_daemon(tmp_path, "--channel", f"web1://{test_user.name}@127.0.0.1:{port}")
    try:
        with ssh_config_first(f"Host myserver\n  HostName 127.0.0.1\n  Port {port}\n  User {test_user.name}\n"):
            namespace: dict[str, Any] = {"__name__": "docs"}  # one session, like a reader's
            for block in examples:
                exec(compile(block, str(README), "exec"), namespace)  # noqa: S102  (our own docs)
    finally:
        daemon.stop()
        for name in ("notes.txt", "sleeper.log", "notes-via-daemon.txt"):
            (home / name).unlink(missing_ok=True)
        copied = (home / "app-again" / "app.py").read_text() if (home / "app-again").is_dir() else None
        shutil.rmtree(home / "app-again", ignore_errors=True)
    out = capsys.readouterr().out
    assert "Linux" in out and "/var/log" in out and "hello from app" in out
    assert "requests==2.32.0" in out and "sent when stdout is read" in out and "True" in out
    assert (tmp_path / "notes-back.txt").read_text() == "hello\n"
    assert copied is not None and copied == (tmp_path / "app-copy" / "app.py").read_text()  # both ways
    assert "through sshpoold" in out and (tmp_path / "notes-via-daemon.txt").read_text() == "hello\n"
