"""The README's tour runs as written, against the test sshd standing in for ``myserver``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_names_the_two_commands() -> None:
    text = README.read_text()
    assert "$ make demo" in text and "$ make test" in text


def test_the_readme_python_tour_runs(
    ssh_home: Any, sshd: Any, test_user: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    ssh_home.add_host_block("myserver", HostName=sshd.host, Port=str(sshd.port), User=test_user.name)
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks
    namespace: dict[str, Any] = {"__name__": "readme"}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102  (our own README)
    out = capsys.readouterr().out
    assert out.startswith("Linux\n\n/tmp\n\n2 ls: cannot access '/nonexistent'"), out
    assert "PID" in out and "CMD" in out
