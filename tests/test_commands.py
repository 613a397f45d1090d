"""Shell text is built in one place and every argument is quoted."""

from __future__ import annotations

import subprocess

import pytest

from sshpool import commands as c


def sh(script: str) -> str:
    return subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=10, check=True).stdout


def test_env_prefix_quotes_values() -> None:
    cmd = c.with_env('printf %s "$A"', {"A": "x'; rm -rf / #"})
    assert sh(cmd) == "x'; rm -rf / #"


def test_env_rejects_bad_names() -> None:
    with pytest.raises(ValueError, match="invalid environment variable name"):
        c.with_env("true", {"A B": "1"})


def test_marker_keeps_trailing_comments_harmless() -> None:
    assert sh(c.with_marker("echo $SSHPOOL_RUN # trailing", "abc")) == "abc\n"


@pytest.mark.parametrize(
    ("cwd", "path", "expected"),
    [
        ("~", "a b", "~/a b"),
        ("~/x", "..", "~"),
        ("/srv/app", "../lib", "/srv/lib"),
        ("~/x", "/etc", "/etc"),
        ("/a", "b/./c/..", "/a/b"),
    ],
)
def test_join_path(cwd: str, path: str, expected: str) -> None:
    assert c.join_path(cwd, path) == expected


def test_in_directory_quotes_and_chains() -> None:
    assert c.in_directory("~/it's here", "pwd") == "cd ~/'it'\"'\"'s here' 2>/dev/null || exit 211; pwd"
    assert c.in_directory(None, "pwd") == "pwd"


def test_ps_flags_follow_the_seed() -> None:
    assert c.ps_command() == "ps -Af"
    assert c.ps_command(all=False, verbose=False) == "ps"
    assert c.ps_command(args="e", options="--sort=pid") == "ps -eAf --sort=pid"


def test_apt_uses_sudo_only_when_not_root() -> None:
    assert c.apt_install(["git", "curl"], root=False) == (
        "sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y git curl"
    )
    assert c.apt_install(["git"], root=True).startswith("env DEBIAN_FRONTEND")


def test_kill_marked_is_valid_sh() -> None:
    subprocess.run(["sh", "-n", "-c", c.kill_marked("deadbeef")], check=True, timeout=10)
