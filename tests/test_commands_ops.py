"""The helpers' shell text: every argument quoted, secrets never in it; run with a local sh."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from sshpool import commands as o


def sh(script: str, *, cwd: Path | None = None, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", "-c", script], cwd=cwd, input=input, capture_output=True, text=True, timeout=20, check=False
    )


def test_packages_accept_the_seeds_string_and_lists() -> None:
    assert o.packages("git python-pip") == ["git", "python-pip"]
    assert o.packages(["a b", "c"]) == ["a b", "c"]
    for empty in ("", "   ", []):
        with pytest.raises(ValueError, match="no package names"):
            o.packages(empty)


def test_quote_path_keeps_the_tilde_expandable() -> None:
    assert o.quote_path("~") == "~"
    assert o.quote_path("~/it's here") == "~/'it'\"'\"'s here'"
    assert o.quote_path("/a b") == "'/a b'"


def test_nohup_detaches_logs_and_prints_the_session_leaders_pid(tmp_path: Path) -> None:
    script = "cd " + o.quote_path(str(tmp_path)) + " && " + o.nohup('echo "it\'s up"; sleep 30', "my log")
    done = sh(script)
    pid = int(done.stdout.strip())
    try:
        assert done.returncode == 0 and done.stderr == ""
        sid = subprocess.run(["ps", "-o", "sid=", "-p", str(pid)], capture_output=True, text=True, timeout=10)
        assert sid.stdout.strip() == str(pid)
        deadline = time.monotonic() + 5
        while not (tmp_path / "my log").read_text() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert (tmp_path / "my log").read_text() == "it's up\n"
    finally:
        os.killpg(pid, 15)


def test_nohup_needs_a_command() -> None:
    with pytest.raises(ValueError, match="needs a command"):
        o.nohup("  ", "log")


def test_sudo_reads_a_password_from_stdin_or_never_asks() -> None:
    assert (
        o.sudo_command("id -u; echo 'x'", with_password=True) == "sudo -S -p '' -- sh -c 'id -u; echo '\"'\"'x'\"'\"''"
    )
    assert o.sudo_command("id -u", with_password=False) == "sudo -n -- sh -c 'id -u'"


def test_git_url_follows_the_seed_and_takes_other_servers() -> None:
    assert o.git_url("changhiskhan", "test") == "https://github.com/changhiskhan/test.git"
    assert o.git_url("u", "r.git", "file:///srv/git/") == "file:///srv/git/u/r.git"
    for bad in ("", "a b", "x;rm", "../x"):
        with pytest.raises(ValueError, match="invalid git"):
            o.git_url(bad, "r")


def test_git_clone_without_a_token_never_prompts() -> None:
    assert (
        o.git_clone("https://h/u/r.git", None, with_token=False)
        == "GIT_TERMINAL_PROMPT=0 git clone -q https://h/u/r.git"
    )
    assert o.git_clone("https://h/u/r.git", "my dir", with_token=False).endswith("'my dir'")


def test_git_clone_with_a_token_hands_it_to_a_one_shot_helper(tmp_path: Path) -> None:
    token = "ghp_secret'value$"
    script = o.git_clone("https://h/u/r.git", "r", with_token=True)
    assert token not in script and "read -r t" in script
    # Swap git for a stub that asks the configured credential helper, like git does.
    stub = tmp_path / "git"
    stub.write_text(
        "#!/bin/sh\n"
        'helper=$(printf "%s\\n" "$@" | sed -n "s/^credential.helper=!//p" | tail -n 1)\n'
        'sh -c "$helper get" </dev/null\n'
        'ls -A "${TMPDIR:-/tmp}" | grep -c "^.sshpool-git" || true\n'
    )
    stub.chmod(0o755)
    env = f"PATH={tmp_path}:$PATH TMPDIR={tmp_path} "
    done = sh(f"export {env}; {script}; echo after=$(ls -A {tmp_path} | grep -c sshpool-git)", input=token + "\n")
    assert done.stdout.splitlines() == ["username=x-access-token", f"password={token}", "1", "after=0"]


def test_pip_and_top_text() -> None:
    assert o.pip_requirements("~/req s.txt") == "pip install -r ~/'req s.txt'"
    assert o.pip_freeze() == "pip freeze"
    assert o.TOP_COMMAND == "ps -Ao %cpu,%mem,user,comm"
