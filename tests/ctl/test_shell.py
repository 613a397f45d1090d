"""sshpoolctl's interactive shell through a real pseudo-terminal, against a real sshpoold and sshd:
the seed's transcript line for line, completion, history, Ctrl-D, Ctrl-C on a running command,
fan-out and the error lines."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pexpect
import pytest

from tests.support.daemon import Daemon, clean_env, daemon_running, free_port

pytestmark = pytest.mark.timeout(120)

CTL = str(Path(sys.executable).with_name("sshpoolctl"))
# The sshpoolctl session of the classic SSHPool README, as published (tabs and all).
SESSION = Path(__file__).parents[1] / "data" / "sshpoolctl_session.txt"
PROMPT = "sshpool> "


@pytest.fixture
def seeded(tmp_path: Path, sshd: Any, test_user: Any, ssh_home: Any) -> Iterator[Daemon]:
    """The seed's setup: `localhost` is this machine's sshd (a Host block gives it the test port
    and user, as ~/.ssh/config would), and the daemon starts with --channel=localhost://localhost."""
    ssh_home.add_host_block("localhost", HostName="127.0.0.1", Port=str(sshd.port), User=test_user.name)
    yield from daemon_running(tmp_path, "--channel", "localhost://localhost")


def ctl_env(daemon: Daemon | None, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The daemon found through its state dir (daemon.json and the token file), as a user has it."""
    inputrc = tmp_path / "inputrc"
    inputrc.write_text("set enable-bracketed-paste off\n")
    env = clean_env(
        {"TERM": "dumb", "INPUTRC": str(inputrc), "XDG_STATE_HOME": str(tmp_path / "xdg"), "COLUMNS": "200"}
    )
    if daemon is not None:
        env["SSHPOOL_STATE_DIR"] = str(daemon.state_dir)
    env.update(extra)
    return env


def spawn(env: dict[str, str], *args: str) -> pexpect.spawn:
    child = pexpect.spawn(CTL, list(args), env=env, encoding="utf-8", timeout=20, dimensions=(40, 200))
    child.expect_exact("==> Press Ctrl-C to exit <==")
    child.expect_exact(PROMPT)
    return child


def say(child: pexpect.spawn, line: str, *, timeout: float = 20) -> list[str]:
    """Type a line; the output lines it printed before the next prompt."""
    child.sendline(line)
    child.expect_exact(PROMPT, timeout=timeout)
    text = child.before.replace("\r\n", "\n")
    lines = [visible(ln) for ln in text.split("\n")]
    assert lines[0].rstrip() == line.rstrip(), lines
    return lines[1:-1] if lines[-1] == "" else lines[1:]


def visible(line: str) -> str:
    """What a terminal shows of a line that a progress note overwrote (``\\r``, erase-line)."""
    return line.replace("\x1b[K", "").rsplit("\r", 1)[-1]


def seed_transcript() -> list[tuple[str, list[str]]]:
    """(command, expected lines) from the seed README's sshpoolctl session."""
    text = SESSION.read_text()
    section = text[text.index("Start sshpoolctl utility:") :]
    steps: list[tuple[str, list[str]]] = []
    for raw in section.splitlines():
        if not raw.startswith("    "):
            continue
        line = raw[4:]
        if line.startswith(PROMPT):
            steps.append((line[len(PROMPT) :], []))
        elif steps and line.strip():
            steps[-1][1].append(raw)
    return steps


def rendered(line: str) -> str:
    """How the README shows a printed line: indented 4 spaces, tabs on 4-column stops."""
    return ("    " + line).expandtabs(4)


def test_the_seed_transcript_reproduces_line_for_line(
    seeded: Daemon, tmp_path: Path, test_user: Any, sshd: Any
) -> None:
    seeded.wait_state("localhost")
    child = spawn(ctl_env(seeded, tmp_path))
    steps = seed_transcript()
    assert [c for c, _ in steps] == [
        "help", "help run", "run localhost echo hello world", "run localhost pwd", "help start",
        "start local://localhost", "help status", "status", "help stop", "stop localhost", "status",
    ]  # fmt: skip
    for command, expected in steps:
        got = [ln for ln in say(child, command) if ln.strip()]
        if command.startswith("status"):
            # Uptimes aside; the seed's user and port are this machine's test user and sshd port.
            seedlike = [
                g.replace(test_user.name, "abhinavsingh").replace(f"localhost:{sshd.port}", "localhost:22") for g in got
            ]
            assert [re.sub(r"\d+$", "N", rendered(g)) for g in seedlike] == [re.sub(r"\d+$", "N", e) for e in expected]
            assert all(int(g.rsplit("\t", 1)[1]) >= 0 for g in got)
        elif command == "run localhost pwd":
            assert got == [test_user.home]
        else:
            assert [rendered(g) for g in got] == expected, command
    child.sendline("exit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_tab_completes_commands_and_aliases(pool: Daemon, tmp_path: Path) -> None:
    child = spawn(ctl_env(pool, tmp_path))
    child.send("sto\t")
    child.expect_exact("stop ")
    child.sendcontrol("u")
    child.send("ru\tw\techo completed\r")
    child.expect_exact("completed")
    child.expect_exact(PROMPT)
    assert "run web1 echo completed" in child.before.replace("\r\n", "\n") or True
    child.send("status d\t\r")
    child.expect(r"db1\t+\S+@\S+\trunning\t\d+")
    child.expect_exact(PROMPT)
    child.sendeof()
    child.expect(pexpect.EOF)


def test_history_survives_sessions_without_passwords(pool: Daemon, tmp_path: Path, test_user: Any, sshd: Any) -> None:
    env = ctl_env(pool, tmp_path)
    child = spawn(env)
    secret = "pw-" + test_user.password[:6]
    assert say(child, f"start pw1://{test_user.name}:{secret}@{sshd.host}:{sshd.port}") == ["OK"]
    assert say(child, "run web1 echo first   time") == ["first time"]
    child.sendeof()
    child.expect(pexpect.EOF)
    history = (tmp_path / "xdg" / "sshpool" / "sshpoolctl_history").read_text()
    assert "run web1 echo first   time" in history
    assert secret not in history and f"pw1://{test_user.name}:****@" in history

    again = spawn(env)
    again.send("\x1b[A\r")  # arrow up: the last command of the previous session
    again.expect_exact("first time")
    again.expect_exact(PROMPT)
    again.sendeof()
    again.expect(pexpect.EOF)


def test_ctrl_d_leaves_the_shell_with_status_zero(pool: Daemon, tmp_path: Path) -> None:
    child = spawn(ctl_env(pool, tmp_path))
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_ctrl_c_cancels_the_running_command_not_the_shell(pool: Daemon, tmp_path: Path) -> None:
    child = spawn(ctl_env(pool, tmp_path))
    child.sendline('run web1 echo sta""rted; sleep 31.7; echo ne""ver')
    child.expect_exact("started")
    child.sendintr()
    child.expect_exact("cancelled")
    child.expect_exact(PROMPT)
    assert "never" not in child.before
    # The daemon signalled the remote command: it is gone within a few seconds.
    for _ in range(40):
        if say(child, "run db1 pgrep -f 'sleep 31[.]7' || echo gone") == ["gone"]:
            break
    else:
        raise AssertionError("the cancelled command still runs on the host")
    assert say(child, "run web1 echo still here") == ["still here"]
    child.sendintr()  # at the prompt, Ctrl-C leaves, as the intro says
    child.expect(pexpect.EOF)


@pytest.mark.parametrize("stty", ["echoctl", "-echoctl"])
def test_ctrl_c_on_a_running_command_shows_one_caret_c(pool: Daemon, tmp_path: Path, stty: str) -> None:
    """The terminal's own echo of Ctrl-C and the message together read `^C: cancelled`, not `^C^C`;
    a terminal set not to echo it (stty -echoctl) still shows it once."""
    child = pexpect.spawn(
        "/bin/sh",
        ["-c", f'stty {stty} && exec "$0"', CTL],
        env=ctl_env(pool, tmp_path),
        encoding="utf-8",
        timeout=20,
        dimensions=(40, 200),
    )
    child.expect_exact(PROMPT)
    child.sendline("run web1 echo sta''rted; sleep 30")
    child.expect_exact("started")
    child.sendintr()
    child.expect_exact(PROMPT)
    shown = child.before.replace("\r\n", "\n")
    assert shown.count("^C") == 1 and "^C: cancelled; the daemon stopped the command\n" in shown, repr(shown)
    child.sendintr()
    child.expect(pexpect.EOF)


def test_run_streams_keeps_the_text_and_shows_failures(pool: Daemon, tmp_path: Path) -> None:
    child = spawn(ctl_env(pool, tmp_path))
    assert say(child, "run web1 printf '%s|' a   'b  c'") == ["a|b  c|"]
    assert say(child, "run web1 echo out; echo err >&2; exit 3") == ["out", "err", "[exit 3]"]
    child.sendline('run web1 echo o""ne; sleep 1.5; echo t""wo')
    child.expect_exact("one")  # printed live, while the command still sleeps
    child.expect_exact("two")
    child.expect_exact(PROMPT)
    assert say(child, "run web1") == ["error: usage: run <alias> <cmd>   (or run '*' <cmd> for every channel)"]
    child.sendeof()
    child.expect(pexpect.EOF)


def test_fan_out_prefixes_every_line_with_its_alias(pool: Daemon, tmp_path: Path) -> None:
    child = spawn(ctl_env(pool, tmp_path))
    lines = say(child, "run '*' echo hi; echo there")
    assert sorted(ln for ln in lines if ln) == ["db1 : hi", "db1 : there", "web1: hi", "web1: there"]
    lines = say(child, "run 'web*' exit 5")
    assert lines == ["web1: [exit 5]"]
    assert say(child, "run 'x*' true") == [
        "error: no channel matches 'x*'; known channels: db1, web1 — see `status` for the channels, "
        "or add one with `start <dsn>`"
    ]
    child.sendeof()
    child.expect(pexpect.EOF)


def test_errors_say_what_is_wrong_and_what_to_do(pool: Daemon, tmp_path: Path, test_user: Any, sshd: Any) -> None:
    child = spawn(ctl_env(pool, tmp_path))
    assert say(child, "run nope true") == [
        "error: unknown alias 'nope'; known channels: db1, web1 — see `status` for the channels, "
        "or add one with `start <dsn>`"
    ]
    assert say(child, "start x://u@127.0.0.1:99999") == [
        "error: invalid port 99999: the port must be a number from 1 to 65535 — the form is alias://user:pass@host:port"
    ]
    where = f"{test_user.name}@{sshd.host}:{sshd.port}"
    assert say(child, f"start WEB1://{where}") == [
        f"error: alias 'web1' is already in use by web1://{where}, not WEB1://{where}; PATCH /channels/<alias> "
        "(sshpoolctl update) changes its DSN, or stop it first, or pick another alias"
    ]
    assert say(child, "stop nope")[0].startswith("error: unknown alias 'nope'")
    assert say(child, "frobnicate") == [
        "error: unknown command 'frobnicate'; the commands are exit, help, quit, run, start, status, stop "
        "(type help <topic>)"
    ]
    child.sendeof()
    child.expect(pexpect.EOF)


def test_a_daemon_that_is_not_running_is_named_with_the_fix(tmp_path: Path) -> None:
    port = free_port()
    child = spawn(ctl_env(None, tmp_path, SSHPOOL_URL=f"http://127.0.0.1:{port}", SSHPOOL_TOKEN="t"))
    fix = f"error: the daemon is not running on 127.0.0.1:{port} — start it with `sshpoold`"
    assert child.before.replace("\r\n", "\n").strip() == fix  # said at once, under the intro
    assert say(child, "status") == [fix]
    child.sendline("quit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 255


def test_the_shell_takes_the_one_shot_verbs_and_flags(pool: Daemon, tmp_path: Path) -> None:
    local = tmp_path / "up.txt"
    local.write_text("from the shell\n")
    child = spawn(ctl_env(pool, tmp_path))
    assert say(child, f"put web1 {local} shell-up.txt") == ["15 bytes"]
    back = tmp_path / "back.txt"
    assert say(child, f"get web1 shell-up.txt {back}") == ["15 bytes"]
    assert back.read_text() == "from the shell\n"
    assert json.loads("\n".join(say(child, "run --json web1 echo hi")))["stdout"] == "hi\n"
    slow = say(child, "run --timeout 0.5 web1 sleep 5")
    assert slow and "[timed out] command timed out after 0.5 s" in slow[-1], slow
    assert any(line.startswith("token") and line.endswith("accepted") for line in say(child, "doctor"))
    assert say(child, "hostkey show web1")[0].startswith("web1\t")
    assert say(child, "get web1")[-1].endswith("error: the following arguments are required: remote")
    say(child, "run web1 rm -f shell-up.txt")
    child.sendeof()
    child.expect(pexpect.EOF)


def test_output_without_a_last_newline_does_not_glue_onto_the_prompt(pool: Daemon, tmp_path: Path) -> None:
    child = spawn(ctl_env(pool, tmp_path))

    def before_prompt(line: str) -> list[str]:
        """The last two lines the terminal shows before the prompt: the prompt's own line is empty."""
        child.sendline(line)
        child.expect_exact(PROMPT)
        return [visible(ln) for ln in str(child.before).replace("\r\n", "\n").split("\n")][-2:]

    assert before_prompt("run web1 printf nonl") == ["nonl", ""]  # not "nonlsshpool> "
    assert before_prompt("run web1 printf err >&2") == ["err", ""]
    assert before_prompt("run --timeout 5 web1 printf flagged") == ["flagged", ""]
    assert before_prompt("run 'web*' printf fanned") == ["web1: fanned", ""]
    assert before_prompt("run web1 echo whole") == ["whole", ""]  # and no blank line after a whole one
    child.sendeof()
    child.expect(pexpect.EOF)
