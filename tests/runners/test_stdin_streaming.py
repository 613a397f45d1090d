"""stdin like ssh: ``echo data | sshpoolctl run web1 cat`` prints ``data``; a pipe of any size is
streamed to the command with bounded memory in sshpoolctl and the daemon; ``-n`` and a terminal
send nothing; an idle pipe never holds a command that does not read it. The REST API's streamed
form (the body is stdin, the command in the query string) and the library's ``input=`` with a
file object or an iterator of bytes carry the same streams."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import sshpool
from tests.support.daemon import Daemon, clean_env, start_daemon

pytestmark = pytest.mark.timeout(180)

CTL = str(Path(sys.executable).with_name("sshpoolctl"))
MiB = 1 << 20


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory, sshd: Any, test_user: Any, client_home: Any) -> Iterator[Daemon]:
    where = f"{test_user.name}@{sshd.host}:{sshd.port}"
    d = start_daemon(tmp_path_factory.mktemp("stdin"), "--channel", f"web1://{where}")
    try:
        d.wait_state("web1")
        yield d
    finally:
        d.stop()


def ctl_env(pool: Daemon) -> dict[str, str]:
    return clean_env({"TERM": "dumb", "SSHPOOL_STATE_DIR": str(pool.state_dir)})


def ctl(pool: Daemon, *args: str, stdin: Any = None, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [CTL, *args], stdin=stdin, input=input, capture_output=True, env=ctl_env(pool), timeout=120, check=False
    )


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def shell_commands(pool: Daemon) -> float:
    for line in pool.get("metrics").text.splitlines():
        if line.startswith('sshpool_commands_by_mode_total{mode="shell"}'):
            return float(line.split()[-1])
    return 0.0


def test_piped_stdin_reaches_the_command_as_with_ssh(pool: Daemon) -> None:
    r = ctl(pool, "run", "web1", "cat", input=b"data\n")
    assert (r.returncode, r.stdout, r.stderr) == (0, b"data\n", b"")
    counted = ctl(pool, "run", "web1", "wc", "-c", input=b"x" * 5000)
    assert counted.stdout.strip() == b"5000"


def test_dash_n_sends_nothing_as_ssh_n(pool: Daemon) -> None:
    r = ctl(pool, "run", "-n", "web1", "cat; echo end", input=b"never sent\n")
    assert (r.returncode, r.stdout) == (0, b"end\n")


def test_a_file_on_stdin_is_sent_and_dev_null_sends_nothing(pool: Daemon, tmp_path: Path) -> None:
    data = os.urandom(300_000)
    source = tmp_path / "in.bin"
    source.write_bytes(data)
    with source.open("rb") as f:
        r = ctl(pool, "run", "web1", "sha256sum", stdin=f)
    assert r.stdout.split()[0].decode() == hashlib.sha256(data).hexdigest()
    before = shell_commands(pool)
    (tmp_path / "empty").write_bytes(b"")
    with (tmp_path / "empty").open("rb") as empty:
        for nothing in (subprocess.DEVNULL, empty):
            quiet = ctl(pool, "run", "--mode", "shell", "web1", "cat; echo $?", stdin=nothing)
            assert (quiet.returncode, quiet.stdout) == (0, b"0\n")
    assert shell_commands(pool) == before + 2  # nothing to send: the warm shell still serves them


def test_an_idle_pipe_does_not_hold_a_command_that_never_reads_it(pool: Daemon) -> None:
    """A script's stdin can be a pipe nobody writes to (cron, CI runners): ``uptime`` still ends."""
    proc = subprocess.Popen(
        [CTL, "run", "web1", "echo", "done"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ctl_env(pool),
    )
    assert proc.stdout is not None  # stdin stays open and empty until the end
    deadline = time.monotonic() + 30
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        assert proc.returncode == 0, "sshpoolctl waited on a pipe the command never read"
        assert proc.stdout.read() == b"done\n"
    finally:
        if proc.poll() is None:
            proc.kill()
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(10)
        proc.stdout.close()
        assert proc.stderr is not None
        proc.stderr.close()


def test_tar_round_trip_through_a_pipe(pool: Daemon, tmp_path: Path, test_user: Any) -> None:
    """``tar c dir | sshpoolctl run web1 'tar x'`` and back with ``'tar c dir' > dir.tar``."""
    tree = {f"dir/f{i}.bin": os.urandom(200_000 + i) for i in range(10)}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in tree.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    remote = f"/tmp/sshpool-stdin-{os.getpid()}"
    up = ctl(pool, "run", "web1", f"rm -rf {remote} && mkdir -p {remote} && tar x -C {remote}", input=buf.getvalue())
    assert up.returncode == 0, up.stderr
    down = ctl(pool, "run", "-n", "web1", f"tar c -C {remote} dir && rm -rf {remote}")
    assert down.returncode == 0, down.stderr
    with tarfile.open(fileobj=io.BytesIO(down.stdout)) as tar:
        back = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
    assert back == tree


def wc_through_ctl(pool: Daemon, size: int) -> tuple[int, bytes, float]:
    """``head -c SIZE /dev/zero | sshpoolctl run web1 wc -c``: exit status, output, peak RSS in MiB."""
    producer = subprocess.Popen(["head", "-c", str(size), "/dev/zero"], stdout=subprocess.PIPE)
    assert producer.stdout is not None
    proc = subprocess.Popen(
        [CTL, "run", "web1", "wc", "-c"], stdin=producer.stdout, stdout=subprocess.PIPE, env=ctl_env(pool)
    )
    producer.stdout.close()
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stdout.close()
    producer.wait(10)
    return proc.returncode, out.strip(), usage.ru_maxrss / 1024


def test_a_big_pipe_streams_with_bounded_memory_in_sshpoolctl_and_the_daemon(pool: Daemon) -> None:
    daemon_before = peak_rss_kib(pool.pid)
    small = wc_through_ctl(pool, MiB)
    big = wc_through_ctl(pool, 128 * MiB)
    daemon_growth = (peak_rss_kib(pool.pid) - daemon_before) / 1024
    print(f"sshpoolctl peak: {small[2]:.0f} MiB for 1 MiB of stdin, {big[2]:.0f} MiB for 128 MiB")
    print(f"daemon peak grew {daemon_growth:.0f} MiB")
    assert (small[:2], big[:2]) == ((0, str(MiB).encode()), (0, str(128 * MiB).encode()))
    assert big[2] - small[2] < 16, "sshpoolctl held the input in memory"
    assert daemon_growth < 16, "the daemon held the input in memory"


def test_rest_streamed_form_body_is_stdin_and_the_query_the_command(pool: Daemon) -> None:
    data = os.urandom(2 * MiB)

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(data), 65536):
            yield data[i : i + 65536]

    headers = {**pool.headers, "Content-Type": "application/octet-stream"}
    r = httpx.post(
        pool.url + "channels/web1",
        params=[("command", "sha256sum; echo $GREETING"), ("env", "GREETING=hi")],
        content=chunks(),
        headers=headers,
        timeout=60,
    )
    assert r.status_code == 200, r.text
    digest, _, greeting = r.json()["stdout"].partition("  -\n")
    assert (digest, greeting) == (hashlib.sha256(data).hexdigest(), "hi\n")
    streamed = httpx.post(
        pool.url + "channels/web1",
        params={"command": "cat", "raw": "true"},
        content=b"abc",
        headers={**headers, "Accept": "application/x-ndjson"},
        timeout=60,
    )
    assert streamed.status_code == 200
    assert json.loads(streamed.text.splitlines()[0]) == {"stream": "stdout", "data": "abc", "data_b64": "YWJj"}


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({}, "command"),
        ({"command": "cat", "colour": "red"}, "colour"),
        ({"command": "cat", "timeout": "soon"}, "timeout"),
        ({"command": "cat", "env": "NOEQUALS"}, "env"),
        ({"command": "cat", "mode": "turbo"}, "mode"),
    ],
)
def test_rest_streamed_form_bad_query_is_a_400_naming_it(pool: Daemon, params: dict[str, str], says: str) -> None:
    headers = {**pool.headers, "Content-Type": "application/octet-stream", "Accept": "application/json"}
    r = httpx.post(pool.url + "channels/web1", params=params, content=b"x", headers=headers, timeout=30)
    assert r.status_code == 400, r.text
    assert says in r.json()["detail"]


def test_library_input_takes_a_file_or_an_iterator_through_the_daemon(pool: Daemon, tmp_path: Path) -> None:
    data = os.urandom(3 * MiB)
    source = tmp_path / "in.bin"
    source.write_bytes(data)
    seen: list[bytes] = []
    with sshpool.connect("web1", daemon=pool.url, token=pool.token) as conn:
        with source.open("rb") as f:
            assert conn.wait("sha256sum", input=f).split()[0] == hashlib.sha256(data).hexdigest()
        r = conn.run("cat", input=iter([b"one ", b"two ", b"three"]), on_output=lambda s, d: seen.append(d))
    assert r.stdout == "one two three" and b"".join(seen) == b"one two three"


def test_library_input_takes_a_file_or_an_iterator_direct(make_connection: Callable[..., Any], tmp_path: Path) -> None:
    conn = make_connection()
    data = os.urandom(3 * MiB)
    source = tmp_path / "in.bin"
    source.write_bytes(data)
    with source.open("rb") as f:
        assert conn.wait("sha256sum", input=f).split()[0] == hashlib.sha256(data).hexdigest()
    assert conn.wait("cat", input=(str(i).encode() for i in range(5))) == "01234"
    with pytest.raises(ValueError, match="retry"):
        conn.run("cat", input=iter([b"x"]), retry=2)
    with pytest.raises(TypeError, match="input must be str, bytes, a binary file object or an iterator"):
        conn.run("cat", input=42)  # type: ignore[arg-type]
