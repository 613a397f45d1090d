"""The ssh-config source on its own: what it names, what it skips and why, Include as OpenSSH
follows it, and a file other than ~/.ssh/config resolved as ``ssh -G -F FILE`` resolves it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sshpool.errors import RequestError
from sshpool.inventory import sshconfig


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".ssh").mkdir()
    return tmp_path


def test_a_relative_include_is_under_ssh_and_its_glob_is_read_in_sorted_order(home: Path) -> None:
    (home / ".ssh" / "hosts.d").mkdir()
    (home / ".ssh" / "hosts.d" / "b.conf").write_text("Host second\n")
    (home / ".ssh" / "hosts.d" / "a.conf").write_text("Host first\n  # sshpool-tags: one, two\n")
    (home / ".ssh" / "config").write_text("Include hosts.d/*.conf\nHost third\n")
    found = sshconfig.read()
    assert [d.to_text() for d in found.dsns] == ["first://first?tags=one,two", "second://second", "third://third"]


def test_names_that_are_no_alias_and_bad_tags_are_skipped_with_the_reason(home: Path) -> None:
    (home / ".ssh" / "config").write_text("Host good bad/name _hidden\nHost tagged\n  # sshpool-tags: ok,not ok\n")
    found = sshconfig.read()
    assert [d.alias for d in found.dsns] == ["good"]
    reasons = {s.name: s.reason for s in found.skipped}
    assert set(reasons) == {"bad/name", "_hidden", "tagged"}
    assert "not usable as an alias" in reasons["_hidden"] and "invalid tag 'not ok'" in reasons["tagged"]


def test_an_include_loop_is_a_refusal_naming_the_depth(home: Path) -> None:
    (home / ".ssh" / "config").write_text("Include config\n")
    with pytest.raises(RequestError, match="deeper than 16"):
        sshconfig.read()


def test_a_missing_file_is_a_refusal_naming_it(home: Path) -> None:
    with pytest.raises(RequestError, match="no ssh_config file at"):
        sshconfig.read(home / "nowhere")


def test_another_file_is_resolved_now_as_ssh_G_F_resolves_it(home: Path) -> None:
    other = home / "elsewhere.conf"
    other.write_text(
        "Host app\n  HostName 10.1.2.3\n  Port 2200\nHost db\n  HostName db.internal\n"
        "Match host db\n  User postgres\nHost *\n  User deploy\n"
    )
    found = {d.alias: d for d in sshconfig.read(other).dsns}
    for name in ("app", "db"):
        out = subprocess.run(["ssh", "-G", "-F", str(other), name], capture_output=True, text=True, check=True)
        said = dict(line.split(" ", 1) for line in out.stdout.splitlines() if " " in line)
        dsn = found[name]
        assert (dsn.host, str(dsn.port or 22), dsn.user) == (said["hostname"], said["port"], said["user"])
