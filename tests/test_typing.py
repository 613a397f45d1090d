"""The public API's types hold for a user's own type checker: "not given" has a type, so a
timeout that is not a number is refused before the code runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from mypy import api

SRC = Path(__file__).resolve().parents[1] / "src"

USER_CODE = """\
import sshpool

def sync_user(conn: sshpool.Connection) -> None:
    conn.run("true", timeout="10")
    conn.wait("true", timeout=5)
    conn.run("true", timeout=None)
    conn.apt("git", timeout=sshpool.UNSET)

async def async_user(conn: sshpool.AsyncConnection, pool: sshpool.Pool) -> None:
    await conn.wait("true", timeout="10")
    await pool.run("web1", "true", timeout="10")
    await pool.run("web1", "true", timeout=2.5)
"""


def test_mypy_strict_refuses_a_string_timeout_and_takes_numbers_none_and_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = tmp_path / "user_code.py"
    user.write_text(USER_CODE)
    monkeypatch.setenv("MYPYPATH", str(SRC))  # the tree under test, whichever sshpool is installed
    out, err, status = api.run(["--strict", "--cache-dir", str(tmp_path / "cache"), str(user)])
    errors = [line for line in out.splitlines() if ": error:" in line]
    lines = sorted(int(line.split(":")[1]) for line in errors)
    assert status == 1, out + err
    assert lines == [4, 10, 11], out
    assert all('"timeout"' in line for line in errors), out
