"""sshpoolctl's one-shot subcommands against a real sshpoold and sshd: exit statuses as SPEC.md's
table says, stdout and stderr apart, --json, commands from a pipe, completion scripts."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from hashlib import sha256
from pathlib import Path
from typing import Any

import pexpect
import pytest

import sshpool.sync
from sshpool import __version__
from sshpool.ctl.cli import grammar
from sshpool.ctl.complete import completion_script
from sshpool.ctl.format import human_uptime
from sshpool.ctl.history import redact
from tests.support.daemon import Daemon, clean_env, free_port, start_daemon
from tests.support.faults import proxy_for
from tests.support.readme import blocks, section

pytestmark = pytest.mark.timeout(120)

CTL = str(Path(sys.executable).with_name("sshpoolctl"))


def env_for(daemon: Daemon | None, **extra: str) -> dict[str, str]:
    env = clean_env({"TERM": "dumb"})
    if daemon is not None:
        env["SSHPOOL_STATE_DIR"] = str(daemon.state_dir)
    env.update(extra)
    return env


def ctl(daemon: Daemon | None, *args: str, stdin: str | bytes = b"", **env: str) -> subprocess.CompletedProcess[str]:
    data = stdin.encode() if isinstance(stdin, str) else stdin
    r = subprocess.run(
        [CTL, *args], input=data, capture_output=True, env=env_for(daemon, **env), timeout=60, check=False
    )
    return subprocess.CompletedProcess(r.args, r.returncode, r.stdout.decode(), r.stderr.decode())


def test_run_exits_with_the_remote_code_and_keeps_streams_apart(pool: Daemon) -> None:
    r = ctl(pool, "run", "web1", "echo", "out;", "echo", "err", ">&2;", "exit", "3")
    assert (r.returncode, r.stdout, r.stderr) == (3, "out\n", "err\n")
    spaced = ctl(pool, "run", "web1", "ls", "-d", "/", "&&", "echo", "a      b")
    assert (spaced.returncode, spaced.stdout) == (0, "/\na b\n")  # joined with single spaces, as ssh does


def test_timeouts_signals_and_stdin(pool: Daemon) -> None:
    slow = ctl(pool, "run", "--timeout", "1", "web1", "echo", "begun;", "sleep", "20")
    assert (slow.returncode, slow.stdout) == (124, "begun\n")
    assert "timed out" in slow.stderr and len(slow.stderr.splitlines()) == 1
    killed = ctl(pool, "run", "web1", "kill -KILL $$")
    assert killed.returncode == 128 + 9, killed.stderr
    assert killed.stderr == "sshpoolctl: [killed by signal KILL]\n"
    fed = ctl(pool, "run", "--stdin", "web1", "tr", "a-z", "A-Z", stdin="piped text\n")
    assert (fed.returncode, fed.stdout) == (0, "PIPED TEXT\n")


def test_run_json_gives_the_result(pool: Daemon) -> None:
    r = ctl(pool, "run", "--json", "web1", "echo hi; exit 2")
    doc = json.loads(r.stdout)
    assert r.returncode == 2
    assert (doc["alias"], doc["stdout"], doc["exit_code"]) == ("web1", "hi\n", 2)


def test_fan_out_exits_with_the_highest_code_or_255(pool: Daemon) -> None:
    r = ctl(pool, "run", "*", "echo $((RANDOM % 1 + 1)); exit 4")
    assert r.returncode == 4
    assert sorted(r.stdout.splitlines()) == ["db1 : 1", "web1: 1"]
    assert r.stderr.splitlines()[-1] == "sshpoolctl: 2 of 2 channels failed: db1, web1"
    assert sorted(r.stderr.splitlines()[:-1]) == ["db1 : [exit 4]", "web1: [exit 4]"]
    both = ctl(pool, "run", "w*,d*", "echo", "hi")  # globs inside a comma list
    assert (both.returncode, sorted(both.stdout.splitlines()), both.stderr) == (0, ["db1 : hi", "web1: hi"], "")
    for channels in (["w*", "db1"], "w*,db1", "web[1,2],d?1"):
        answer = pool.post("run", json={"command": "true", "channels": channels})
        assert sorted(answer.json()) == ["db1", "web1"], channels
    unmatched = pool.post(
        "run", json={"command": "true", "channels": "web1,zz*"}, headers={**pool.headers, "Accept": "application/json"}
    )
    assert unmatched.status_code == 404 and "zz*" in unmatched.text
    mixed = ctl(pool, "--json", "run", "web1,nope", "true")
    doc = json.loads(mixed.stdout)
    assert mixed.returncode == 255
    assert doc["web1"]["exit_code"] == 0 and doc["nope"]["error"] == "unknown_alias"
    none = ctl(pool, "run", "x*", "true")
    assert none.returncode == 255
    assert none.stderr.startswith("sshpoolctl: no channel matches 'x*'; known channels: db1, web1")


def test_status_is_sorted_aligned_and_json(pool: Daemon, test_user: Any, sshd: Any) -> None:
    r = ctl(pool, "status")
    rows = [line.split("\t") for line in r.stdout.splitlines()]
    target = f"{test_user.name}:None@{sshd.host}:{sshd.port}"
    assert r.returncode == 0
    assert [[c for c in row if c][:3] for row in rows] == [["db1", target, "running"], ["web1", target, "running"]]
    assert [len(line.split(target)[0].expandtabs()) for line in r.stdout.splitlines()] == [16, 16]
    doc = json.loads(ctl(pool, "status", "--json").stdout)
    assert sorted(doc) == ["db1", "web1"] and doc["web1"]["state"] == "up"
    one = ctl(pool, "status", "WEB1")
    assert one.stdout.startswith("WEB1\t") and "running" in one.stdout
    watched = ctl(pool, "status", "--watch", "--json", "--interval", "0.2", "--count", "2")
    assert [sorted(json.loads(line)) for line in watched.stdout.splitlines()] == [["db1", "web1"]] * 2


def test_start_and_stop(pool: Daemon, test_user: Any, sshd: Any) -> None:
    dsn = f"app1://{test_user.name}@{sshd.host}:{sshd.port}"
    assert (ctl(pool, "start", dsn).stdout, ctl(pool, "run", "app1", "echo up").stdout) == ("OK\n", "up\n")
    again = ctl(pool, "start", dsn)  # the same DSN again: nothing changes, and it says so as a start would
    assert (again.returncode, again.stdout) == (0, "OK\n")
    other = f"app1://{test_user.name}:pw@{sshd.host}:{sshd.port}"
    taken = ctl(pool, "start", other)
    assert (taken.returncode, taken.stderr) == (
        255,
        f"sshpoolctl: alias 'app1' is already in use by {dsn}, not app1://{test_user.name}:****@{sshd.host}:"
        f"{sshd.port}; PATCH /channels/<alias> (sshpoolctl update) changes its DSN, or stop it first, "
        "or pick another alias\n",
    )
    bad = ctl(pool, "start", "oops://u@127.0.0.1:0")
    assert bad.returncode == 255 and "invalid port 0" in bad.stderr and "alias://user:pass@host:port" in bad.stderr
    stopped = ctl(pool, "--json", "stop", "app1")
    assert (stopped.returncode, json.loads(stopped.stdout)) == (0, {"alias": "app1", "stopped": True})
    gone = ctl(pool, "stop", "app1")
    assert gone.returncode == 255
    assert gone.stderr.startswith("sshpoolctl: unknown alias 'app1'; known channels: db1, web1 — ")
    dead = ctl(pool, "--json", "start", "--wait", "1", "dead1://nobody@127.0.0.1:1")
    assert dead.returncode == 0 and json.loads(dead.stdout)["connected"] is False  # kept: the start worked
    assert "reconnecting" in ctl(pool, "status", "dead1").stdout


def test_unknown_host_keys_are_shown_then_accepted(pool: Daemon, make_sshd: Any, test_user: Any) -> None:
    stranger = make_sshd(add_known_host=False)
    added = ctl(pool, "start", "--wait", "5", f"new1://{test_user.name}@127.0.0.1:{stranger.port}")
    assert added.returncode == 255
    assert "SHA256:" in added.stderr and "sshpoolctl hostkey accept new1" in added.stderr
    assert "sshpoold --host-key-policy accept-new" in added.stderr and "accept_host_key" not in added.stderr
    refused = ctl(pool, "run", "--timeout", "2", "new1", "true")
    assert refused.returncode == 255 and "sshpoolctl hostkey accept new1" in refused.stderr
    shown = ctl(pool, "hostkey", "show", "new1")
    alias, kind, fingerprint, word = shown.stdout.rstrip("\n").split("\t")
    assert (alias, kind, word) == ("new1", "ssh-ed25519", "unknown") and fingerprint.startswith("SHA256:")
    accepted = ctl(pool, "--json", "hostkey", "accept", "new1")
    assert json.loads(accepted.stdout)["fingerprint"] == fingerprint
    pool.wait_state("new1")
    assert ctl(pool, "run", "new1", "echo trusted").stdout == "trusted\n"


def test_hostkey_show_and_accept_answer_in_one_format(pool: Daemon, make_sshd: Any, test_user: Any) -> None:
    """ALIAS, KEYTYPE, SHA256 fingerprint, STATE: the same four columns for an unknown key, an
    accepted one and the key of a channel that is up."""
    stranger = make_sshd(add_known_host=False)
    ctl(pool, "start", "--wait", "5", f"new2://{test_user.name}@127.0.0.1:{stranger.port}")
    unknown = ctl(pool, "hostkey", "show", "new2").stdout
    accepted = ctl(pool, "hostkey", "accept", "new2").stdout
    pool.wait_state("new2")
    trusted = ctl(pool, "hostkey", "show", "new2").stdout
    up = ctl(pool, "hostkey", "show", "web1").stdout
    rows = [line.split("\t") for line in (unknown, accepted, trusted, up)]
    assert all(len(row) == 4 for row in rows), rows
    assert [row[3].strip() for row in rows] == ["unknown", "trusted", "trusted", "trusted"]
    assert {row[1] for row in rows} == {"ssh-ed25519"} and all(row[2].startswith("SHA256:") for row in rows)
    assert rows[0][2] == rows[1][2] == rows[2][2] != rows[3][2]  # new2's key throughout; web1 has its own
    doc = json.loads(ctl(pool, "--json", "hostkey", "show", "new2").stdout)
    assert (doc["key_type"], doc["fingerprint"], doc["key_state"]) == ("ssh-ed25519", rows[0][2], "trusted")
    ctl(pool, "start", "--wait", "1", "dead2://nobody@127.0.0.1:1")
    dead = ctl(pool, "hostkey", "show", "dead2")
    assert dead.stdout == "dead2\t-\t-\tunchecked\n" and "checked when it connects" in dead.stderr


def test_auth_failure_and_a_bad_token(pool: Daemon, sshd: Any) -> None:
    added = ctl(pool, "start", "--wait", "5", f"auth1://nosuchuser-x:wrong@{sshd.host}:{sshd.port}")
    assert added.returncode == 255 and "auth" in added.stderr.lower()
    refused = ctl(pool, "run", "--timeout", "2", "auth1", "true")
    assert refused.returncode == 255
    assert "fix the user, password or key" in refused.stderr and len(refused.stderr.splitlines()) == 1
    wrong = ctl(pool, "status", SSHPOOL_TOKEN="wrong-token-123")
    assert wrong.returncode == 255 and "wrong-token-123" not in wrong.stderr
    assert wrong.stderr.startswith("sshpoolctl: the daemon at 127.0.0.1:") and "refused the token" in wrong.stderr


def test_no_daemon_and_too_large_fanout_input(pool: Daemon) -> None:
    port = free_port()
    down = ctl(None, "--json", "status", SSHPOOL_URL=f"http://127.0.0.1:{port}")
    assert down.returncode == 255
    assert down.stderr == f"sshpoolctl: the daemon is not running on 127.0.0.1:{port} — start it with `sshpoold`\n"
    assert json.loads(down.stdout)["error"] == "daemon_unavailable"
    via_flags = ctl(None, "--port", str(port), "status")
    assert f"not running on 127.0.0.1:{port}" in via_flags.stderr
    one = ctl(pool, "run", "web1", "wc -c", stdin=b"x" * (2 * 1024 * 1024))  # one channel: streamed
    assert (one.returncode, one.stdout) == (0, "2097152\n")
    big = ctl(pool, "run", "--stdin", "web1,db1", "wc -c", stdin=b"x" * (2 * 1024 * 1024))  # fan-out: one body
    assert big.returncode == 255
    assert "larger than 1048576 bytes (--body-limit)" in big.stderr and "send less" in big.stderr


def test_link_lost_mid_command_exits_255(pool: Daemon, sshd: Any, ssh_home: Any, test_user: Any) -> None:
    with proxy_for(sshd, ssh_home) as proxy:
        assert ctl(pool, "start", f"flaky1://{test_user.name}@127.0.0.1:{proxy.port}").returncode == 0
        proc = subprocess.Popen(
            [CTL, "run", "flaky1", "echo begun; sleep 20.3"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env_for(pool),
        )  # fmt: skip
        assert proc.stdout is not None and proc.stdout.readline() == b"begun\n"
        proxy.reset_all()  # the TCP link drops mid-command; the remote command goes on
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 255
    assert "may still be running" in err.decode() and len(err.decode().splitlines()) == 1
    ctl(pool, "run", "web1", "pkill -f 'sleep 20[.]3'")


def test_shutting_down_daemon_refuses_new_commands(pool: Daemon) -> None:
    running = subprocess.Popen(
        [CTL, "run", "web1", "echo begun; sleep 10"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env_for(pool)
    )
    assert running.stdout is not None and running.stdout.readline() == b"begun\n"
    pool.proc.terminate()  # draining: the running command gets --drain-timeout 2 s
    late = ctl(pool, "run", "db1", "true")
    running.communicate(timeout=30)
    assert late.returncode == 255
    assert late.stderr == "sshpoolctl: sshpoold is shutting down; retry against the restarted daemon\n"


def test_commands_from_a_pipe_run_without_prompts(pool: Daemon) -> None:
    script = "# a comment\nstatus db1\nrun web1 echo from a pipe\nrun web1 exit 7\n"
    r = ctl(pool, stdin=script)
    lines = r.stdout.splitlines()
    assert lines[0].startswith("db1\t") and lines[1:] == ["from a pipe"]
    assert "sshpool>" not in r.stdout and "Press Ctrl-C" not in r.stdout
    assert r.stderr == "[exit 7]\n" and r.returncode == 7


def test_version_help_and_completion_scripts() -> None:
    assert ctl(None, "--version").stdout == f"sshpoolctl {__version__}\n"
    usage = ctl(None, "-h").stdout.splitlines()
    assert usage[0] == "usage: sshpoolctl [-h] [--host HOST] [--port PORT] [COMMAND ...]"
    assert usage[2:6] == [
        "optional arguments:",
        "  -h, --help         show this help message and exit",
        "  --host HOST        SSHPool interface (default: 127.0.0.1)",
        "  --port PORT        SSHPool listening port (default: 8877)",
    ]
    bash = ctl(None, "--print-completion", "bash").stdout
    assert "complete -F _sshpoolctl sshpoolctl" in bash
    assert subprocess.run(["bash", "-n"], input=bash, text=True, check=False).returncode == 0
    zsh = ctl(None, "--print-completion", "zsh").stdout
    assert zsh.startswith("#compdef sshpoolctl")
    if shutil.which("zsh"):
        assert subprocess.run(["zsh", "-n"], input=zsh, text=True, check=False).returncode == 0
    bad = ctl(None, "--print-completion", "fish")
    assert bad.returncode == 255 and "invalid choice" in bad.stderr


def test_a_subcommands_help_reads_like_the_top_level_help() -> None:
    help_text = ctl(None, "run", "-h").stdout
    assert help_text.startswith("usage: sshpoolctl run [-h]")
    assert "\noptional arguments:\n" in help_text and "\noptions:\n" not in help_text


def test_bash_completion_asks_the_daemon_for_aliases(pool: Daemon) -> None:
    script = ctl(None, "--print-completion", "bash").stdout
    probe = script + '\nCOMP_WORDS=(sshpoolctl run w); COMP_CWORD=2; _sshpoolctl; echo "${COMPREPLY[@]}"\n'
    env = {**env_for(pool), "PATH": f"{Path(CTL).parent}:{env_for(pool).get('PATH', '')}"}
    r = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, env=env, timeout=30, check=False)
    assert r.stdout.split() == ["web1"]


def test_the_readme_shows_the_real_help() -> None:
    block = next(b for b in blocks(section("## sshpoolctl"), "console") if b.startswith("$ sshpoolctl -h\n"))
    shown = block.splitlines()[1:]
    real = ctl(None, "-h").stdout.splitlines()
    assert shown and shown == real[: len(shown)]


def test_put_and_get_stream_files_through_the_daemon(pool: Daemon, tmp_path: Path) -> None:
    payload = bytes(range(256)) * 4096 + b"\xff\xfe not utf-8"
    local = tmp_path / "payload.bin"
    local.write_bytes(payload)
    up = ctl(pool, "put", "web1", str(local), "ctl-payload.bin")
    assert (up.returncode, up.stdout) == (0, f"{len(payload)} bytes\n"), up.stderr
    assert ctl(pool, "run", "web1", "sha256sum", "ctl-payload.bin").stdout.split()[0] == sha256(payload).hexdigest()
    back = tmp_path / "back.bin"
    down = ctl(pool, "--json", "get", "web1", "ctl-payload.bin", str(back))
    assert down.returncode == 0 and json.loads(down.stdout)["size"] == len(payload)
    assert back.read_bytes() == payload
    ctl(pool, "run", "web1", "rm", "-f", "ctl-payload.bin")


def test_put_and_get_r_copy_a_directory_tree_as_scp_r_does(pool: Daemon, tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "css").mkdir(parents=True)
    (site / "empty").mkdir()
    (site / "index.html").write_text("<h1>hi</h1>\n")
    (site / "css" / "main.css").write_bytes(b"body{}\n" * 1000)
    (site / "deploy.sh").write_text("#!/bin/sh\n")
    (site / "deploy.sh").chmod(0o755)
    size = 12 + 7000 + 10
    plain = ctl(pool, "put", "web1", str(site), "ctl-site")
    assert plain.returncode == 255 and "is a directory: add -r" in plain.stderr, plain.stderr
    up = ctl(pool, "put", "-r", "web1", str(site), "ctl-site")
    assert (up.returncode, up.stdout) == (0, f"{size} bytes\n"), up.stderr
    notes = up.stderr.splitlines()  # one note per file, on stderr
    assert f"sshpoolctl: {site}/css/main.css -> web1:ctl-site/css/main.css (7000 bytes)" in notes and len(notes) == 3
    listed = ctl(pool, "run", "web1", "cd ctl-site && find . | sort && stat -c %a deploy.sh").stdout
    assert listed.split() == [".", "./css", "./css/main.css", "./deploy.sh", "./empty", "./index.html", "755"]
    dir_get = ctl(pool, "get", "web1", "ctl-site", str(tmp_path / "x"))
    assert dir_get.returncode == 255 and "web1:ctl-site is a directory: add -r" in dir_get.stderr
    down = ctl(pool, "--json", "get", "-r", "web1", "ctl-site", str(tmp_path / "back"))
    assert down.returncode == 0 and json.loads(down.stdout)["size"] == size and down.stderr == ""
    back = tmp_path / "back"
    assert sorted(str(p.relative_to(back)) for p in back.rglob("*")) == [
        "css",
        "css/main.css",
        "deploy.sh",
        "empty",
        "index.html",
    ]
    assert (back / "deploy.sh").stat().st_mode & 0o777 == 0o755
    assert (back / "css" / "main.css").read_bytes() == (site / "css" / "main.css").read_bytes()
    assert ctl(pool, "get", "-r", "web1", "ctl-site", "-").returncode == 255
    ctl(pool, "run", "web1", "rm", "-rf", "ctl-site")


def test_put_and_get_say_what_is_missing(pool: Daemon, tmp_path: Path) -> None:
    nothing = ctl(pool, "put", "web1", str(tmp_path / "absent.txt"))
    assert nothing.returncode == 255
    assert f"cannot copy {tmp_path / 'absent.txt'} to web1:absent.txt: No such file or directory" in nothing.stderr
    gone = ctl(pool, "get", "web1", "no/such/file.txt", str(tmp_path / "x"))
    assert gone.returncode == 255 and "cannot copy web1:no/such/file.txt to" in gone.stderr
    assert not (tmp_path / "x").exists()
    unknown = ctl(pool, "get", "nosuch", "file.txt", str(tmp_path / "y"))
    assert unknown.returncode == 255 and "unknown alias 'nosuch'" in unknown.stderr


def test_a_reader_that_goes_away_ends_sshpoolctl_quietly_and_stops_the_command(pool: Daemon) -> None:
    """``sshpoolctl run web1 'tar c /' | head``: no traceback, and nothing left running remotely."""
    mark = f"sshpool-pipe-{free_port()}"
    ctl_proc = subprocess.Popen(
        [CTL, "run", "-n", "web1", f"seq 1 100000000; sleep 60 # {mark}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env_for(pool),
    )
    assert ctl_proc.stdout is not None and ctl_proc.stderr is not None
    assert ctl_proc.stdout.readline() == b"1\n"
    ctl_proc.stdout.close()  # what head does once it has its lines
    err = ctl_proc.stderr.read().decode()
    ctl_proc.stderr.close()
    assert ctl_proc.wait(30) == 255
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    deadline = time.monotonic() + 15
    left = "?"
    while time.monotonic() < deadline:
        left = pool.run("web1", f"pgrep -f '[{mark[0]}]{mark[1:]}' || echo none")["stdout"]
        if left == "none\n":
            break
        time.sleep(0.2)
    assert left == "none\n", "the remote command kept running after its reader went away"


def test_status_check_exits_1_naming_the_channels_that_are_not_up(pool: Daemon) -> None:
    assert ctl(pool, "status", "--check").returncode == 0
    added = ctl(pool, "start", f"gone1://127.0.0.1:{free_port()}")
    assert added.returncode == 0 and added.stderr.startswith("sshpoolctl: warning: added; not connected: ")
    try:
        r = ctl(pool, "status", "--check")
        assert r.returncode == 1
        assert r.stderr.startswith("sshpoolctl: not up: gone1 (") or r.stderr.startswith("not up: gone1 ("), r.stderr
        assert ctl(pool, "status", "--check", "web1").returncode == 0
    finally:
        ctl(pool, "stop", "gone1")


def test_run_wait_waits_for_a_reconnecting_channel(pool: Daemon, sshd: Any, ssh_home: Any, test_user: Any) -> None:
    import threading

    with proxy_for(sshd, ssh_home) as proxy:
        assert ctl(pool, "start", f"flaky2://{test_user.name}@127.0.0.1:{proxy.port}").returncode == 0
        try:
            proxy.stall(True)
            proxy.reset_all()  # down, and every reconnect hangs until the stall ends
            pool.wait_state("flaky2", "reconnecting", timeout=15)
            assert ctl(pool, "run", "flaky2", "echo", "ok").returncode == 255  # no --wait: fails at once
            threading.Timer(2.0, proxy.stall, args=(False,)).start()
            r = ctl(pool, "run", "--wait", "30", "flaky2", "echo", "ok")
            assert (r.returncode, r.stdout) == (0, "ok\n"), r.stderr
        finally:
            proxy.stall(False)
            ctl(pool, "stop", "flaky2")


def test_update_changes_a_channels_dsn_in_place(pool: Daemon, test_user: Any, sshd: Any) -> None:
    where = f"{test_user.name}@{sshd.host}:{sshd.port}"
    assert ctl(pool, "start", f"app2://{where}").returncode == 0
    try:
        moved = ctl(pool, "update", "app2", f"app2://{test_user.name}@{sshd.host}:{free_port()}")
        assert moved.returncode == 0 and moved.stderr.startswith("sshpoolctl: warning: added; not connected: ")
        back = ctl(pool, "update", "app2", f"app2://{where}?mode=shell")
        assert (back.returncode, back.stdout) == (0, "OK\n")
        info = json.loads(ctl(pool, "--json", "status", "app2").stdout)
        assert (info["port"], info["mode"]) == (sshd.port, "shell")
        renamed = ctl(pool, "update", "app2", f"other://{where}")
        assert renamed.returncode == 255 and "PATCH cannot rename a channel" in renamed.stderr
    finally:
        ctl(pool, "stop", "app2")


def test_get_to_dash_writes_the_file_to_stdout_and_the_count_to_stderr(pool: Daemon) -> None:
    payload = bytes(range(256)) * 1000
    ctl(pool, "run", "web1", "cat > ctl-dash.bin", stdin=payload)
    try:
        r = subprocess.run(
            [CTL, "get", "web1", "ctl-dash.bin", "-"], capture_output=True, env=env_for(pool), timeout=60, check=False
        )
        assert (r.returncode, r.stdout, r.stderr) == (0, payload, f"sshpoolctl: {len(payload)} bytes\n".encode())
        missing = ctl(pool, "get", "web1", "no/such.bin", "-")
        assert missing.returncode == 255 and "cannot copy web1:no/such.bin to -" in missing.stderr
    finally:
        ctl(pool, "run", "web1", "rm", "-f", "ctl-dash.bin")


def test_doctor_says_how_the_daemon_and_its_token_were_found(pool: Daemon) -> None:
    r = ctl(pool, "doctor")
    assert r.returncode == 0, r.stderr
    assert f"{pool.state_dir / 'daemon.json'}: pid {pool.pid} on {pool.url.rstrip('/')}" in r.stdout
    assert "running" in r.stdout and "accepted" in r.stdout and pool.token not in r.stdout
    doc = json.loads(ctl(pool, "--json", "doctor").stdout)
    assert (doc["daemon"], doc["state_dir_from"], doc["channels"]) == (pool.url.rstrip("/"), "SSHPOOL_STATE_DIR", 2)
    assert doc["daemon_from"] == str(pool.state_dir / "daemon.json")
    assert doc["token_from"] == str(pool.state_dir / "token")
    wrong = ctl(pool, "--json", "doctor", SSHPOOL_TOKEN="not-the-token")
    assert wrong.returncode == 255 and json.loads(wrong.stdout)["token_from"] == "SSHPOOL_TOKEN"
    assert "refused the token" in json.loads(wrong.stdout)["problem"]
    port = free_port()
    down = json.loads(ctl(None, "--json", "doctor", SSHPOOL_URL=f"http://127.0.0.1:{port}").stdout)
    assert (down["daemon_from"], down["reachable"]) == ("SSHPOOL_URL", "no")


def test_a_usage_error_exits_255_never_a_remote_looking_code(pool: Daemon) -> None:
    bad = ctl(pool, "run", "--timeout", "soon", "web1", "true")
    assert bad.returncode == 255 and "invalid number of seconds 'soon'" in bad.stderr
    assert ctl(pool, "frobnicate").returncode == 255
    assert ctl(pool, "--version").returncode == 0 and ctl(pool, "-h").returncode == 0


def test_a_command_argument_that_is_not_utf8_is_a_clear_error(pool: Daemon) -> None:
    r = subprocess.run(
        [CTL.encode(), b"run", b"web1", b"echo", b"caf\xe9"], capture_output=True, env=env_for(pool), timeout=60
    )
    assert r.returncode == 255 and b"Traceback" not in r.stderr
    assert b"not UTF-8 (0xe9 at position 8)" in r.stderr and b"printf '\\351'" in r.stderr


def test_https_against_a_plain_http_daemon_says_so(pool: Daemon) -> None:
    plain = pool.url.rstrip("/").removeprefix("http://")
    r = ctl(pool, "status", SSHPOOL_URL=f"https://{plain}")
    assert r.returncode == 255
    assert f"https://{plain} asks for TLS, but the server there speaks plain HTTP: use http://{plain}" in r.stderr


def _help_subcommands() -> list[str]:
    """The subcommands ``sshpoolctl -h`` lists under "commands:"."""
    lines = ctl(None, "-h").stdout.splitlines()
    listed = lines[lines.index("commands:") + 1 :]
    return [m.group(1) for line in listed if (m := re.match(r"^ {4}(\S+)", line))]


def _completed(bash: str, zsh: str) -> tuple[list[str], list[str]]:
    """The subcommands the bash script offers first, and those zsh's menu holds."""
    first = re.search(r'-z "\$sub" \]\]; then\s+COMPREPLY=\(\$\(compgen -W "([^"]*)"', bash)
    assert first is not None
    return first.group(1).split(), re.findall(r"^ +'([^':]+):", zsh, re.MULTILINE)


def test_the_completion_scripts_offer_every_subcommand_of_the_parser() -> None:
    subcommands = _help_subcommands()
    assert "run" in subcommands and "hostkey" in subcommands
    bash, zsh = (ctl(None, "--print-completion", shell).stdout for shell in ("bash", "zsh"))
    bash_words, zsh_menu = _completed(bash, zsh)
    assert set(subcommands) <= set(bash_words) and sorted(zsh_menu) == sorted(subcommands)
    options = [w for w in bash_words if w.startswith("-")]
    assert options == ["-h", "--help", "--host", "--port", "--json", "--version", "--print-completion"]


def test_a_new_subcommand_is_completed_without_a_second_list() -> None:
    words = grammar()
    extra = {**words.subcommands, "frob": "frob a channel's things: all of them"}
    bash, zsh = (completion_script(shell, extra, words.options) for shell in ("bash", "zsh"))
    bash_words, zsh_menu = _completed(bash, zsh)
    assert "frob" in bash_words and zsh_menu[-1] == "frob"
    assert "        'frob:frob a channels things: all of them'\n" in zsh
    assert subprocess.run(["bash", "-n"], input=bash, text=True, check=False).returncode == 0


#: What sshpoolctl must never load: it reaches hosts through the daemon's REST API only.
NOT_REST = ("sshpool.core", "sshpool.runners", "sshpool.sync", "sshpool.connection", "sshpool.daemon", "asyncssh")


def test_ctl_goes_through_rest_only() -> None:
    package = Path(__file__).parents[2] / "src" / "sshpool" / "ctl"
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            assert not [n for n in names if n.startswith(NOT_REST)], path.name
    probe = "import sys, sshpool.ctl.cli; print('\\n'.join(sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert [m for m in loaded if m.startswith(NOT_REST)] == []


def test_timeout_0_or_none_lets_a_command_outlive_the_daemons_limit(
    tmp_path: Path, sshd: Any, test_user: Any, ssh_home: Any
) -> None:
    """A deploy step that takes longer than the daemon's --command-timeout: ``--timeout 0`` (or
    ``none``, ``off``) lifts the limit, as ``--command-timeout 0`` does on the daemon."""
    where = f"{test_user.name}@{sshd.host}:{sshd.port}"
    d = start_daemon(tmp_path, "--command-timeout", "1", "--channel", f"web1://{where}")
    try:
        d.wait_state("web1")
        slow = "sleep 1.6; echo done"
        runs = {
            "default": [],
            "zero": ["--timeout", "0"],
            "none": ["--timeout", "none"],
            "json": ["--json", "--timeout", "NONE"],
            "fanout": ["--timeout", "off"],
        }
        pipes = {"stdin": subprocess.DEVNULL, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
        procs = {
            name: subprocess.Popen(
                [CTL, "run", *flags, "web1," if name == "fanout" else "web1", slow], env=env_for(d), **pipes
            )
            for name, flags in runs.items()
        }
        out = {name: (p.wait(30), *(s.decode() for s in p.communicate())) for name, p in procs.items()}
        assert out["default"][0] == 124 and "timed out after 1.0 s" in out["default"][2]
        assert out["zero"] == (0, "done\n", "") and out["none"] == (0, "done\n", "")
        assert out["json"][0] == 0 and json.loads(out["json"][1])["stdout"] == "done\n"
        assert out["fanout"] == (0, "web1: done\n", "")
        refused = ctl(d, "run", "--timeout", "-1", "web1", "true")
        assert refused.returncode == 255
        assert refused.stderr.endswith(
            "error: argument --timeout: must not be negative: '-1' (0, none or off: no limit)\n"
        ), refused.stderr
        assert "argument --timeout: invalid number of seconds 'soon' (0, none or off: no limit)\n" in (
            ctl(d, "run", "--timeout", "soon", "web1", "true").stderr
        )
    finally:
        d.stop()


def test_not_running_names_the_state_dir_that_held_no_daemon_json(tmp_path: Path, test_user: Any) -> None:
    """The daemon was looked for through a state dir that names none: the error says which dir
    and why (missing, no daemon.json, a left-over one, another user's), not just the default address."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 8877)) == 0:
            pytest.skip("something listens on 127.0.0.1:8877, the address tried by default")
    down = "sshpoolctl: the daemon is not running on 127.0.0.1:8877 — start it with `sshpoold`"
    fix = "for a daemon with another --state-dir, set SSHPOOL_STATE_DIR to it, or SSHPOOL_URL"
    missing = tmp_path / "nowhere"
    r = ctl(None, "status", SSHPOOL_STATE_DIR=str(missing))
    assert (r.returncode, r.stderr) == (255, f"{down} (the state dir {missing} does not exist; {fix})\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert ctl(None, "status", SSHPOOL_STATE_DIR=str(empty)).stderr == f"{down} ({empty} holds no daemon.json; {fix})\n"
    d = start_daemon(tmp_path)
    try:
        # Another user's state dir (0700, theirs), as that daemon left it; read by root without its
        # power to read anything (the interpreter lives in root's home, so not as another uid).
        os.chown(d.state_dir, test_user.uid, -1)
        blind = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
        as_other_user, doctor = (
            subprocess.run([*blind, CTL, verb], env=env_for(d), capture_output=True, text=True, timeout=60, check=False)
            for verb in ("status", "doctor")
        )
    finally:
        os.chown(d.state_dir, 0, -1)
        d.stop()
    json_file = d.state_dir / "daemon.json"
    assert as_other_user.returncode == 255
    assert as_other_user.stderr == (
        f"{down} ({json_file} is not readable: permission denied (another user's state dir?); {fix})\n"
    )
    assert f"{json_file}: not readable: permission denied (another user's state dir?" in doctor.stdout
    stale = tmp_path / "state"  # the daemon is gone; had its daemon.json stayed, it would be named
    (stale / "daemon.json").write_text(json.dumps({"url": d.url, "pid": d.pid}))
    left = ctl(None, "status", SSHPOOL_STATE_DIR=str(stale))
    assert left.stderr == f"{down} ({json_file} names pid {d.pid}, which is not running (left over); {fix})\n"


def test_status_on_a_terminal_has_a_header_aligned_columns_and_a_readable_uptime(
    pool: Daemon, test_user: Any, sshd: Any
) -> None:
    """A person typing ``sshpoolctl status`` gets a table; ``| awk`` and the shell's ``status`` keep
    the classic tab layout with whole seconds (see test_status_is_sorted_aligned_and_json)."""
    child = pexpect.spawn(CTL, ["status"], env=env_for(pool), encoding="utf-8", timeout=20, dimensions=(40, 200))
    child.expect(pexpect.EOF)
    child.close()
    lines = child.before.replace("\r\n", "\n").splitlines()
    target = f"{test_user.name}:None@{sshd.host}:{sshd.port}"
    assert child.exitstatus == 0 and "\t" not in child.before
    assert [line.split() for line in lines] == [
        ["ALIAS", "USER:PASS@HOST:PORT", "STATE", "UPTIME"],
        ["db1", target, "running", lines[1].split()[-1]],
        ["web1", target, "running", lines[2].split()[-1]],
    ]
    assert all(re.fullmatch(r"\d+s|\d+m\d\ds", line.split()[-1]) for line in lines[1:])
    for word in ("USER:PASS@HOST:PORT", "STATE", "UPTIME"):
        column = lines[0].index(word)
        assert all(line[column - 2 : column] == "  " and line[column] != " " for line in lines[1:]), word


@pytest.mark.parametrize(
    ("seconds", "shown"), [(0, "0s"), (59, "59s"), (725, "12m05s"), (7380, "2h03m"), (273_600, "3d04h")]
)
def test_a_readable_uptime_shows_its_two_largest_units(seconds: int, shown: str) -> None:
    assert human_uptime(seconds) == shown


def test_an_ssh_url_where_a_dsn_goes_says_the_dsn_starts_with_the_alias(
    pool: Daemon, test_user: Any, sshd: Any, tmp_path: Path
) -> None:
    """`ssh://u@host` from habit would make a channel named `ssh`; the user is told the form instead."""
    url = f"ssh://{test_user.name}:pw@{sshd.host}:{sshd.port}"
    said = (
        "ssh:// is not a scheme here: a DSN starts with the channel's alias, alias://user[:password]@host[:port]; "
        f"name the channel, e.g. {sshd.host}://{test_user.name}@{sshd.host}:{sshd.port}"
    )
    started = ctl(pool, "start", url)
    assert (started.returncode, started.stderr) == (255, f"sshpoolctl: {said}\n")
    assert "pw" not in started.stderr and "ssh" not in json.loads(ctl(pool, "--json", "status").stdout)
    with pytest.raises(sshpool.DSNError) as refused:
        sshpool.sync.connect(url.replace("ssh://", "SSH://"), state_dir=tmp_path, connect_timeout=5)
    assert str(refused.value) == said.replace("ssh://", "SSH://", 1)
    config = tmp_path / "channels.conf"
    config.write_text(f"{url}\n")
    daemon = subprocess.run(
        [CTL.replace("sshpoolctl", "sshpoold"), "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        env=clean_env(),
    )
    assert daemon.returncode == 2 and f"{config}:1: {said}" in daemon.stderr
    assert redact(f"start {url}") == f"start ssh://{test_user.name}:****@{sshd.host}:{sshd.port}"
