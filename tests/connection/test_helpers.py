"""The poseidon helpers against the real test sshd, as the non-root test user, on every kind of
connection (``kind``): each test is the story of one helper."""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import sshpool.sync
from sshpool import CommandFailedError, CommandTimeoutError
from tests.support.daemon import Daemon
from tests.support.library import (
    SHIM_LOG,
    TokenGitServer,
    apt_sudo,
    bare_repo,
    build_deb,
    build_wheel,
    chown_tree,
    dsn_for,
    sudoers,
)

pytestmark = pytest.mark.timeout(60)

KINDS = ["direct", "daemon"]


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def connect_to(
    kind: str, request: pytest.FixtureRequest, ssh_home: Any, sshd: Any, test_user: Any, tmp_path: Path
) -> Iterator[Callable[..., Any]]:
    """``connect_to(server=None, **kwargs)`` -> a sync Connection of this test's kind: direct, or
    a channel of a real sshpoold (the test sshd's channel by its alias, another server's by DSN)."""
    made: list[sshpool.sync.Connection] = []
    sshpoold: Daemon | None = None
    if kind == "daemon":
        sshpoold = request.getfixturevalue("daemon")
        assert sshpoold.post("/channels", content=dsn_for(sshd, test_user, "lib")).text == "OK"

    def make(server: Any = None, **kwargs: Any) -> sshpool.sync.Connection:
        kwargs.setdefault("command_timeout", 60)
        if sshpoold is not None:
            target = dsn_for(server, test_user, f"lib{server.port}") if server else "lib"
            conn = sshpool.sync.connect(target, daemon=sshpoold.url, token=sshpoold.token, **kwargs)
        else:
            kwargs.setdefault("state_dir", tmp_path / "state")
            kwargs.setdefault("connect_timeout", 5)
            conn = sshpool.sync.connect(dsn_for(server or sshd, test_user), **kwargs)
        made.append(conn)
        return conn

    yield make
    for conn in made:
        conn.close()


def daemon_saw(request: pytest.FixtureRequest, secret: str) -> bool:
    """True if the test's daemon (if any) has ``secret`` in its log or audit log."""
    if request.getfixturevalue("kind") != "daemon":
        return False
    sshpoold: Daemon = request.getfixturevalue("daemon")
    audit = (sshpoold.state_dir / "audit.log").read_text()
    assert '"run"' in audit  # the commands were audited, so the check below means something
    return secret in sshpoold.log_text() or secret in audit


@pytest.fixture
def conn(connect_to: Callable[..., Any]) -> Any:
    return connect_to()


# ---------------------------------------------------------------------------------- wait


def test_wait_returns_stdout_and_raises_on_exit_codes_and_stderr(conn: Any) -> None:
    assert conn.wait("echo foo") == "foo\n"
    with pytest.raises(ValueError, match="status 3") as failed:
        conn.wait("echo partial; echo why >&2; exit 3")
    assert isinstance(failed.value, CommandFailedError)
    assert failed.value.result.exit_code == 3 and failed.value.stderr == "why\n"
    with pytest.raises(CommandFailedError, match=r"stderr.*chatty"):
        conn.wait("echo chatty >&2")
    assert conn.wait("echo out; echo chatty >&2", check_stderr=False) == "out\n"
    assert conn.wait("echo kept; exit 1", raise_on_error=False) == "kept\n"


def test_wait_never_blocks_on_a_prompt_and_honours_its_timeout(conn: Any) -> None:
    started = time.monotonic()
    assert conn.wait('read -r answer; echo "[$answer]"', check_stderr=False) == "[]\n"
    with pytest.raises(CommandTimeoutError):
        conn.wait("sleep 30", timeout=0.5)
    assert time.monotonic() - started < 5


def test_exec_command_sends_stdin_when_stdout_is_read(conn: Any) -> None:
    stdin, stdout, stderr = conn.exec_command("cat; echo done >&2")
    stdin.write(b"line 1\n")
    stdin.write("line 2\n")
    assert stdout.read() == b"line 1\nline 2\n"
    assert stderr.read() == b"done\n" and stdout.channel.recv_exit_status() == 0
    stdin, stdout, _ = conn.exec_command("wc -c")
    stdin.write(b"12345")
    stdin.close()  # closing sends it too
    assert stdout.readlines() == [b"5\n"]
    _, stdout, _ = conn.exec_command("echo foo")
    assert stdout.read() == b"foo\n"


# ---------------------------------------------------------------------------------- chdir


def test_chdir_handles_spaces_quotes_and_dotdot(conn: Any, workdir: Path) -> None:
    odd = workdir / 'it\'s a "dir"' / "in $HOME"
    odd.mkdir(parents=True)
    chown_tree(workdir, conn.wait("id -un").strip())
    assert conn.wait("pwd").strip() == conn.wait("echo ~").strip()
    conn.chdir(workdir.name)
    conn.chdir('it\'s a "dir"/in $HOME')
    assert conn.wait("pwd").strip() == str(odd)
    conn.chdir("..")
    assert conn.wait("pwd").strip() == str(odd.parent)
    with conn.cd("/tmp"):
        assert conn.wait("pwd") == "/tmp\n"
    assert conn.wait("pwd").strip() == str(odd.parent)
    conn.chdir(workdir.name, relative=False)
    assert conn.wait("pwd").strip() == str(workdir)


def test_a_directory_that_cannot_be_entered_is_an_oserror_naming_it_and_nothing_runs(conn: Any, workdir: Path) -> None:
    """chdir keeps the path (the classic API: no round trip); the next command says what is wrong
    with the directory as os.chdir would, instead of a shell's `cd: ...` and exit 1."""
    (workdir / "a-file").write_text("x")
    (workdir / "closed").mkdir(mode=0o000)
    chown_tree(workdir, conn.wait("id -un").strip())
    conn.chdir(f"{workdir}/does-not-exist")  # returns at once, as it always did
    with pytest.raises(FileNotFoundError, match="chdir") as missing:
        conn.wait("touch should-not-exist")
    assert missing.value.filename == f"{workdir}/does-not-exist" and "did not run" in str(missing.value)
    with pytest.raises(FileNotFoundError):
        conn.run("touch should-not-exist; echo ran")  # run() too: the command never started
    assert not (workdir / "should-not-exist").exists()
    with conn.cd("~"):  # create it from elsewhere, and the directory works
        conn.wait(f"mkdir {workdir}/does-not-exist")
    assert conn.wait("pwd").strip() == f"{workdir}/does-not-exist"
    conn.chdir(f"{workdir}/a-file", relative=False)
    with pytest.raises(NotADirectoryError, match="a-file"):
        conn.wait("true")
    conn.chdir(f"{workdir}/closed", relative=False)
    with pytest.raises(PermissionError, match="closed"):
        conn.wait("true")
    conn.chdir(str(workdir), relative=False)
    result = conn.run("exit 211")  # a command's own 211 stays its Result
    assert (result.exit_code, result.stdout, result.stderr) == (211, "", "")


# ---------------------------------------------------------------------------------- nohup


def test_nohup_survives_close_with_its_pid_and_log(conn: Any, workdir: Path) -> None:
    conn.chdir(workdir.name)
    pid = conn.nohup("echo started; exec sleep 30", log="server.log")
    assert isinstance(pid, int) and pid > 1
    conn.close()
    conn.close()  # idempotent
    try:
        # the next command reconnects; the process is still there, in its own session
        assert conn.wait(f"ps -o sid= -p {pid}").strip() == str(pid)
        assert conn.wait(f"cat {workdir}/server.log") == "started\n"
    finally:
        conn.wait(f"kill -- -{pid}", raise_on_error=False)
    pid2 = conn.nohup("sleep 30")
    try:
        assert (workdir / "nohup.out").exists()
    finally:
        conn.wait(f"kill -- -{pid2}", raise_on_error=False)


# ---------------------------------------------------------------------------------- pip


def test_pip_and_pip_r_install_for_real_into_a_remote_venv(
    connect_to: Callable[..., Any], ops_server: Any, remote_venv: Path, workdir: Path
) -> None:
    conn = connect_to(ops_server)
    wheel = build_wheel(workdir, "sshpooltiny", "0.1")
    wheel2 = build_wheel(workdir, "sshpooltinier", "0.2")
    (workdir / "requirements.txt").write_text(f"{wheel2}\n")
    chown_tree(workdir, conn.wait("id -un").strip())
    conn.pip(str(wheel))
    assert conn.wait("python -c 'import sshpooltiny; print(sshpooltiny.VERSION)'") == "0.1\n"
    conn.chdir(workdir.name)
    conn.pip_r("requirements.txt")
    frozen = conn.pip_freeze()
    assert "sshpooltiny" in frozen and "sshpooltinier" in frozen
    assert (remote_venv / "bin" / "python").exists()
    with pytest.raises(CommandFailedError):
        conn.pip("/no/such/package-0.1-py3-none-any.whl")
    conn.wait("pip uninstall -y sshpooltiny sshpooltinier", check_stderr=False)


# ---------------------------------------------------------------------------------- git


def test_git_clones_for_real_from_a_local_bare_repository(conn: Any, workdir: Path) -> None:
    bare_repo(workdir / "srv", "alice", "project", {"README": "hello from git\n"})
    chown_tree(workdir, conn.wait("id -un").strip())
    conn.chdir(workdir.name)
    conn.git("alice", "project", base_url=str(workdir / "srv"))
    assert conn.wait("cat project/README") == "hello from git\n"
    conn.git("alice", "project", alias="copy two", base_url=f"file://{workdir}/srv")
    assert conn.wait("cat 'copy two/README'") == "hello from git\n"
    with pytest.raises(CommandFailedError, match=r"does not exist|not found|Could not read"):
        conn.git("alice", "missing", base_url=str(workdir / "srv"))


def test_git_token_goes_over_stdin_only(
    conn: Any,
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    token = "ghp_" + secrets.token_hex(16)
    bare_repo(workdir / "srv", "bob", "private", {"SECRET.md": "only with a token\n"})
    chown_tree(workdir, conn.wait("id -un").strip())
    server = TokenGitServer(workdir / "srv", token)
    sent: list[str] = []
    runner = conn.async_connection.runner
    real_run = runner.run

    async def recording_run(command: str, **kwargs: Any) -> Any:
        sent.append(command)
        return await real_run(command, **kwargs)

    monkeypatch.setattr(runner, "run", recording_run)
    monkeypatch.setenv("GITHUB_TOKEN", token)
    try:
        conn.chdir(workdir.name)
        with pytest.raises(CommandFailedError) as refused:
            conn.git("bob", "private", alias="wrong", token="not-the-token", base_url=server.url)
        assert "not-the-token" not in str(refused.value)
        out = conn.git("bob", "private", base_url=server.url)  # token from GITHUB_TOKEN
    finally:
        server.close()
    assert conn.wait("cat private/SECRET.md") == "only with a token\n"
    assert any(a.startswith("Basic ") for a in server.authorizations)
    config = conn.wait("cat private/.git/config")
    assert token not in config and token not in out and "x-access-token" not in config
    assert all(token not in command for command in sent)
    assert conn.wait("ls -A /tmp | grep -c sshpool-git || true").strip() in ("0", "")
    assert token not in capsys.readouterr().out
    assert not daemon_saw(request, token)


# ---------------------------------------------------------------------------------- apt


def test_apt_runs_apt_get_through_sudo_noninteractively(
    connect_to: Callable[..., Any], ops_server: Any, test_user: Any
) -> None:
    conn = connect_to(ops_server)
    log = ops_server.shims / SHIM_LOG
    log.write_text("")
    with apt_sudo(test_user.name, ops_server.shims):
        out = conn.apt("git python3-pip")
        conn.apt(["curl"], update=True)
    assert "shim: apt-get install -y git python3-pip" in out
    lines = log.read_text().splitlines()
    assert lines == [
        f"uid=0 sudo_user={test_user.name} frontend=noninteractive args=install -y git python3-pip",
        f"uid=0 sudo_user={test_user.name} frontend=noninteractive args=update",
        f"uid=0 sudo_user={test_user.name} frontend=noninteractive args=install -y curl",
    ]
    # no sudo rights: the seed's default returns instead of raising; raise_on_error says why
    assert conn.apt("git") == ""
    with pytest.raises(CommandFailedError, match="password"):
        conn.apt("git", raise_on_error=True)


def test_apt_installs_a_real_local_package(conn: Any, test_user: Any, workdir: Path) -> None:
    name = f"sshpool-test-{secrets.token_hex(3)}"
    deb = build_deb(workdir, name)
    chown_tree(workdir, test_user.name)
    try:
        with sudoers(test_user.name, f"{test_user.name} ALL=(ALL) NOPASSWD: ALL"):
            conn.apt([str(deb)], raise_on_error=True)
        status = subprocess.run(["dpkg-query", "-W", "-f=${Status}", name], capture_output=True, text=True, timeout=30)
        assert status.stdout == "install ok installed"
    finally:
        subprocess.run(["dpkg", "--purge", name], capture_output=True, timeout=120)


# ---------------------------------------------------------------------------------- ps / top


def test_ps_is_a_dataframe_with_the_headers_columns_typed(conn: Any, workdir: Path) -> None:
    conn.chdir(workdir.name)
    pid = conn.nohup("sh -c 'sleep 30; :' marker with  spaces", log="s.log")
    try:
        frame = conn.ps()
        assert isinstance(frame, pd.DataFrame)
        assert list(frame.columns) == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
        assert frame["PID"].dtype.kind == "i" and frame["PPID"].dtype.kind == "i"
        row = frame[frame["PID"] == pid].iloc[0]
        assert "sleep 30; :" in row["CMD"] and row["CMD"].endswith("' marker with  spaces")
        rows = conn.ps(as_frame=False)
        assert isinstance(rows, list) and {"PID", "CMD"} <= rows[0].keys()
        narrow = conn.ps(all=False, verbose=False, options=f"-o pid,args --pid {pid}")
        assert list(narrow.columns) == ["PID", "COMMAND"] and list(narrow["PID"]) == [pid]
    finally:
        conn.wait(f"kill -- -{pid}", raise_on_error=False)


def test_top_sorts_by_cpu(conn: Any) -> None:
    pid = conn.nohup("sh -c 'while :; do :; done'", log="/dev/null")
    try:
        time.sleep(0.5)
        frame = conn.top()
        assert list(frame.columns) == ["%CPU", "%MEM", "USER", "COMMAND"]
        assert frame["%CPU"].dtype.kind == "f"
        assert list(frame["%CPU"]) == sorted(frame["%CPU"], reverse=True)
        assert frame.iloc[0]["%CPU"] > 0
    finally:
        conn.wait(f"kill -- -{pid}", raise_on_error=False)


# ---------------------------------------------------------------------------------- sudo


def test_sudo_with_a_password_a_wrong_one_and_none(
    connect_to: Callable[..., Any],
    conn: Any,
    test_user: Any,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    with sudoers(test_user.name, f"{test_user.name} ALL=(ALL) ALL"):
        assert conn.sudo("id -u", password=test_user.password) == "0\n"
        started = time.monotonic()
        with pytest.raises(CommandFailedError, match="refused the password") as wrong:
            conn.sudo("id -u", password="not-" + test_user.password)
        assert time.monotonic() - started < 10
        assert test_user.password not in str(wrong.value)
        with pytest.raises(CommandFailedError, match=r"needs .*password"):
            conn.sudo("id -u")
        asked: list[str] = []

        async def prompt(text: str) -> str:
            asked.append(text)
            return str(test_user.password)

        live = connect_to(interactive=True, password_prompt=prompt)
        assert live.sudo("id -u") == "0\n"
        assert live.sudo("whoami") == "root\n"
        assert len(asked) == 1 and test_user.name in asked[0]
    out = capsys.readouterr().out
    assert test_user.password not in out and "sudo id -u" in out
    assert not daemon_saw(request, test_user.password)


def test_interactive_sudo_asks_with_getpass(
    connect_to: Callable[..., Any], test_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("getpass.getpass", lambda prompt="": test_user.password)
    with sudoers(test_user.name, f"{test_user.name} ALL=(ALL) ALL"):
        assert connect_to(interactive=True).sudo("id -un") == "root\n"


# ---------------------------------------------------------------------------------- files


def test_put_and_get_ten_megabytes_byte_exact(conn: Any, workdir: Path, tmp_path: Path) -> None:
    blob = os.urandom(10 * 1024 * 1024)
    local = tmp_path / "blob.bin"
    local.write_bytes(blob)
    conn.chdir(workdir.name)
    assert conn.put(local, "blob.bin") == len(blob)
    assert (workdir / "blob.bin").read_bytes() == blob
    back = tmp_path / "back.bin"
    assert conn.get(f"{workdir}/blob.bin", back) == len(blob)
    assert back.read_bytes() == blob
    with pytest.raises(FileNotFoundError, match="no-such-file"):
        conn.get("no-such-file", tmp_path / "x")


def make_tree(root: Path) -> Path:
    """A tree with what scp -r meets: nested and empty directories, modes, a read-only directory,
    a link to a file, a link back up (a loop) and a FIFO."""
    (root / "site" / "static" / "css").mkdir(parents=True)
    (root / "site" / "empty").mkdir()
    (root / "site" / "index.html").write_text("<h1>hi</h1>\n")
    (root / "site" / "static" / "css" / "main.css").write_bytes(os.urandom(300_000))
    run = root / "site" / "run.sh"
    run.write_text("#!/bin/sh\necho run\n")
    run.chmod(0o750)
    secret = root / "site" / "secret.txt"
    secret.write_text("s3cret\n")
    secret.chmod(0o600)
    sealed = root / "site" / "sealed"
    sealed.mkdir()
    (sealed / "inside.txt").write_text("kept\n")
    (sealed / "inside.txt").chmod(0o444)
    sealed.chmod(0o555)
    (root / "site" / "latest.html").symlink_to("index.html")
    (root / "site" / "static" / "up").symlink_to("..")
    os.mkfifo(root / "site" / "pipe")
    return root / "site"


def tree_of(root: Path) -> dict[str, tuple[str, int, bytes]]:
    """Every path below ``root`` (links not followed): its kind, mode and content."""
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            continue
        kind = "dir" if path.is_dir() else "file"
        found[str(path.relative_to(root))] = (
            kind,
            path.stat().st_mode & 0o7777,
            path.read_bytes() if kind == "file" else b"",
        )
    return found


def test_put_and_get_copy_a_directory_tree_with_recursive_as_scp_r(conn: Any, workdir: Path, tmp_path: Path) -> None:
    site = make_tree(tmp_path / "src")
    total = sum(len(content) for _, _, content in tree_of(site).values())
    with pytest.raises(IsADirectoryError, match="recursive=True"):
        conn.put(site, f"{workdir}/site")
    conn.chdir(workdir.name)
    assert conn.put(site, "copy", recursive=True) == total + len("<h1>hi</h1>\n")  # the link's file too
    copy = workdir / "copy"
    expected = tree_of(site) | {"latest.html": ("file", 0o644, b"<h1>hi</h1>\n")}
    assert tree_of(copy) == expected  # files, empty and read-only directories, modes; no loop, no FIFO
    assert not (copy / "pipe").exists() and not (copy / "static" / "up").exists()
    conn.put(site, "copy", recursive=True)  # copy exists now: the tree goes into it, as scp -r does
    assert tree_of(copy / "site") == expected
    with pytest.raises(IsADirectoryError, match="recursive=True"):
        conn.get("copy", tmp_path / "back")
    (copy / "alias.html").symlink_to("index.html")  # links on the remote side: followed, or skipped
    (copy / "static" / "loop").symlink_to("../static")
    back = tmp_path / "back"
    assert conn.get("copy", back, recursive=True) == total * 2 + 3 * len("<h1>hi</h1>\n")
    assert tree_of(back / "site") == expected
    assert tree_of(back) == tree_of(copy) | {"alias.html": ("file", 0o644, b"<h1>hi</h1>\n")}
    assert not (back / "static" / "loop").exists()
    (tmp_path / "into").mkdir()
    conn.get(f"{workdir}/copy/static", tmp_path / "into", recursive=True)  # an existing directory: under its name
    assert (tmp_path / "into" / "static" / "css" / "main.css").read_bytes() == (
        site / "static/css/main.css"
    ).read_bytes()
    with pytest.raises(FileNotFoundError):
        conn.get("no-such-dir", tmp_path / "nothing", recursive=True)
    with pytest.raises(FileNotFoundError):
        conn.put(tmp_path / "no-such-dir", "x", recursive=True)
    for path in [copy, *copy.rglob("*")]:  # let the fixture remove it
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)


# ---------------------------------------------------------------------------------- interactive


def test_interactive_echoes_each_command_and_streams_its_output(
    connect_to: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    live = connect_to(interactive=True)
    assert live.wait("echo one; echo two >&2", check_stderr=False) == "one\n"
    captured = capsys.readouterr()
    assert "$ echo one; echo two >&2\none\n" in captured.out
    assert captured.err == "two\n"


PEP_668 = """error: externally-managed-environment

× This environment is externally managed
╰─> To install Python packages system-wide, try apt install
    python3-xyz, where xyz is the package you are trying to
    install.

note: If you believe this is a mistake, please contact your Python installation or OS distribution provider.
hint: See PEP 668 for the detailed specification.
"""


def test_pip_on_an_os_managed_python_says_all_of_it_and_what_to_do(
    connect_to: Callable[..., Any], ops_server: Any, remote_venv: Path
) -> None:
    """Debian's pip refuses with PEP 668's explanation: the error keeps it whole (not only its
    last hint line) and says how to go on."""
    conn = connect_to(ops_server)
    pip = remote_venv / "bin" / "pip"
    real = pip.read_bytes()
    mode = pip.stat().st_mode
    try:
        pip.write_text("#!/bin/sh\ncat >&2 <<'EOF'\n" + PEP_668 + "EOF\nexit 1\n")
        with pytest.raises(CommandFailedError) as failed:
            conn.pip("requests")
    finally:
        pip.write_bytes(real)
        pip.chmod(mode)
    text = str(failed.value)
    assert "To install Python packages system-wide, try apt install" in text and "See PEP 668" in text
    assert "virtual environment" in text and "pipx" in text and "--break-system-packages" in text


def test_a_failed_apt_is_logged_when_it_is_returned(
    connect_to: Callable[..., Any], ops_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    conn = connect_to(ops_server)  # no sudo rights here: the install fails
    with caplog.at_level("WARNING", logger="sshpool"):
        assert conn.apt("git") == ""
    assert any("apt-get failed" in r.getMessage() for r in caplog.records), caplog.text
