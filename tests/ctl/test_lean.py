"""A shell loop's ``sshpoolctl run``, ``status`` and ``stop`` take the lean path: a new process per
call loads no HTTP library, event loop, TLS or argument parser; what that path does not do is the
full CLI's, with the same output."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from sshpool import __version__
from sshpool.ctl.lean import MODES
from sshpool.defaults import MODES as SETTINGS_MODES
from tests.ctl.test_oneshot import ctl, env_for
from tests.support.daemon import Daemon

HEAVY = ("httpx", "asyncio", "anyio", "ssl", "argparse", "dataclasses", "typing", "pathlib", "sshpool.ctl.cli")
#: Lighter, but ~10 ms of a ~25 ms call between them in a new process (re and enum are built at import).
STDLIB_WEIGHT = ("json", "re", "enum", "socket", "selectors")


def loaded(daemon: Daemon, *args: str) -> tuple[subprocess.CompletedProcess[bytes], set[str]]:
    """Run ``sshpoolctl ARGS`` through its console script (``-m`` would add runpy's imports), and the
    modules it imported."""
    r = subprocess.run(
        [sys.executable, "-X", "importtime", str(Path(sys.executable).with_name("sshpoolctl")), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=env_for(daemon),
        timeout=60,
        check=False,
    )
    names = {
        line.rsplit("|", 1)[-1].strip() for line in r.stderr.decode().splitlines() if line.startswith("import time:")
    }
    return r, names


def test_run_status_and_stop_in_a_loop_load_no_http_library_event_loop_or_parser(pool: Daemon) -> None:
    ran, names = loaded(pool, "run", "web1", "echo", "hi")
    assert (ran.returncode, ran.stdout) == (0, b"hi\n")
    assert not names & {*HEAVY, *STDLIB_WEIGHT}, sorted(names & {*HEAVY, *STDLIB_WEIGHT})
    shown, names = loaded(pool, "status")
    assert shown.returncode == 0 and shown.stdout.decode().startswith("db1")
    assert not names & {*HEAVY, *STDLIB_WEIGHT}, sorted(names & {*HEAVY, *STDLIB_WEIGHT})
    stopped, names = loaded(pool, "stop", "db1")
    assert (stopped.returncode, stopped.stdout) == (0, b"OK\n")
    assert not names & {*HEAVY, *STDLIB_WEIGHT}, sorted(names & {*HEAVY, *STDLIB_WEIGHT})


def test_a_terminal_opens_on_the_lean_path_without_a_websocket_library(pool: Daemon) -> None:
    """``sshpoolctl ssh`` is only instant if it opens before the user notices: no HTTP or WebSocket
    library, no event loop (websockets' own client alone imports ~87 ms here), and none of the
    stdlib layers that cost ~10 ms between them in a ~23 ms start (OpenSSL's start-up under hashlib,
    re under base64, enum under signal, collections and functools under threading and contextlib)."""
    ran, names = loaded(pool, "ssh", "web1", "echo", "in-a-terminal")
    assert ran.returncode == 0 and b"in-a-terminal" in ran.stdout, ran
    unwanted = {*HEAVY, *STDLIB_WEIGHT, "websockets", "hashlib", "_hashlib", "base64", "threading", "contextlib"}
    assert not names & unwanted, sorted(names & unwanted)


def test_what_the_lean_path_does_not_do_is_the_full_clis(pool: Daemon) -> None:
    fanned, names = loaded(pool, "run", "web1,db1", "echo", "hi")
    assert fanned.returncode == 0 and "sshpool.ctl.cli" in names
    asked, names = loaded(pool, "run", "--json", "web1", "echo", "hi")
    assert asked.returncode == 0 and "sshpool.ctl.cli" in names


def test_an_error_answer_reads_as_the_full_cli_says_it(pool: Daemon) -> None:
    missing, names = loaded(pool, "run", "nosuch", "true")
    assert missing.returncode == 255 and "httpx" in names  # the error table is loaded for the error only
    assert missing.stderr.decode().splitlines()[-1].startswith("sshpoolctl: ")
    full = ctl(pool, "run", "--timeout", "30", "nosuch", "true")  # --timeout 30 stays lean; compare:
    assert full.returncode == 255
    assert missing.stderr.decode().splitlines()[-1] == full.stderr.splitlines()[-1]


def test_megabytes_of_binary_output_arrive_byte_exact_with_stderr_apart(pool: Daemon) -> None:
    script = "head -c 3000000 /dev/urandom > lean.bin; cat lean.bin; echo warn >&2; sha256sum lean.bin >&2"
    r = subprocess.run(
        [sys.executable, "-m", "sshpool.ctl", "run", "web1", script],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=env_for(pool),
        timeout=60,
        check=False,
    )
    assert r.returncode == 0 and len(r.stdout) == 3000000
    warn, digest = r.stderr.decode().splitlines()
    assert warn == "warn" and digest.split()[0] == hashlib.sha256(r.stdout).hexdigest()


def test_the_modes_it_knows_are_the_settings_modes() -> None:
    assert MODES == SETTINGS_MODES


def test_version_is_lean_and_reads_as_before(pool: Daemon) -> None:
    shown, names = loaded(pool, "--version")
    assert (shown.returncode, shown.stdout.decode()) == (0, f"sshpoolctl {__version__}\n")
    assert not names & set(HEAVY)
