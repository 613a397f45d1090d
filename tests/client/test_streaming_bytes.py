"""Any bytes a command writes arrive byte-exact through every streaming face: the daemon's NDJSON,
the daemon client (one channel and fan-out), the library on a daemon channel (with and without
``on_output``), and sshpoolctl's one-shot run, fan-out and shell.

NDJSON is split at ``\\n`` only. A JSON string may carry U+2028, U+2029 or U+0085 raw, and a line
splitter that also breaks there (``str.splitlines``, httpx's ``aiter_lines``) cut the record in two:
most binary output over 64 KB holds such a character, so ``sshpoolctl run web1 'tar c dir' > dir.tar``
crashed with a JSONDecodeError."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import sshpool
from sshpool import DaemonClient
from sshpool.client import Done, Output
from tests.support.daemon import Daemon, clean_env, start_daemon

pytestmark = pytest.mark.timeout(300)

CTL = str(Path(sys.executable).with_name("sshpoolctl"))

#: Every character Unicode (and so Python's splitlines) treats as a line break, as UTF-8, and the
#: byte sequences that are not UTF-8 at all.
LINE_BREAKS = [c.encode() for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"] + [b"\r\n"]
NOT_UTF8 = [b"\x85", b"\xff", b"\xfe\xff", b"\xc3", b"\xe2\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"]
PIECES = st.sampled_from(LINE_BREAKS + NOT_UTF8) | st.binary(max_size=40) | st.text(max_size=20).map(str.encode)
OUTPUT = st.binary(max_size=400) | st.lists(PIECES, max_size=25).map(b"".join)


def printing(data: bytes) -> str:
    """A command that writes exactly ``data`` to stdout: bash's printf with an octal escape a byte."""
    return "printf '" + "".join(f"\\{b:03o}" for b in data) + "'"


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory, sshd: Any, test_user: Any, client_home: Any) -> Iterator[Daemon]:
    where = f"{test_user.name}@{sshd.host}:{sshd.port}"
    d = start_daemon(tmp_path_factory.mktemp("bytes"), "--channel", f"web1://{where}", "--channel", f"web2://{where}")
    try:
        d.wait_state("web1")
        d.wait_state("web2")
        yield d
    finally:
        d.stop()


@pytest.fixture(scope="module")
def client(pool: Daemon) -> Iterator[DaemonClient]:
    with DaemonClient(pool.url, token=pool.token) as c:
        yield c


@pytest.fixture(scope="module")
def library(pool: Daemon) -> Iterator[sshpool.Connection]:
    with sshpool.connect("web1", daemon=pool.url, token=pool.token) as conn:
        yield conn


@pytest.fixture(scope="module")
def random_file(library: sshpool.Connection) -> tuple[str, bytes]:
    """300 KB of random bytes on the host (it holds U+2028 and friends once decoded) and its digest."""
    path = "sshpool-random.bin"
    digest = library.wait(f"head -c 300000 /dev/urandom > {path} && sha256sum < {path}").split()[0]
    return path, bytes.fromhex(digest)


def ctl(pool: Daemon, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    env = clean_env({"TERM": "dumb", "SSHPOOL_STATE_DIR": str(pool.state_dir)})
    return subprocess.run([CTL, *args], input=stdin, capture_output=True, env=env, timeout=60, check=False)


def rest_ndjson(pool: Daemon, command: str) -> bytes:
    """The daemon's own stream: every line (split at b"\\n" only) is one JSON object."""
    out = bytearray()
    headers = {**pool.headers, "Accept": "application/x-ndjson"}
    body = {"command": command, "raw": True}
    with httpx.stream("POST", pool.url + "channels/web1", json=body, headers=headers, timeout=60) as r:
        assert r.status_code == 200
        lines = r.read().split(b"\n")
    assert lines[-1] == b"", "the stream ends with a newline"
    docs = [json.loads(line) for line in lines[:-1]]
    assert docs[-1]["exit_code"] == 0
    for doc in docs[:-1]:
        assert doc["stream"] == "stdout"
        out += base64.b64decode(doc["data_b64"])
    return bytes(out)


def by_fanout_lines(stdout: bytes, alias: str, width: int) -> bytes:
    """sshpoolctl's fan-out prints each line as ``alias: line``; the last line gets its newline."""
    prefix = f"{alias:<{width}}: ".encode()
    return b"".join(line[len(prefix) :] + b"\n" for line in stdout.split(b"\n")[:-1] if line.startswith(prefix))


def with_newline(data: bytes) -> bytes:
    return data if not data or data.endswith(b"\n") else data + b"\n"


EXAMPLES = [b"line sep:\xe2\x80\xa8 end\n", "\u2029\x85\u2028".encode(), b"\xff\xfe no newline", b"\r\n\r"]


def examples(fn: Any) -> Any:
    for data in EXAMPLES:
        fn = example(data)(fn)
    return fn


IN_PROCESS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SUBPROCESS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@IN_PROCESS
@examples
@given(data=OUTPUT)
def test_the_daemons_ndjson_splits_at_newlines_only(pool: Daemon, data: bytes) -> None:
    assert rest_ndjson(pool, printing(data)) == data


@IN_PROCESS
@examples
@given(data=OUTPUT)
def test_the_daemon_client_streams_any_bytes(client: DaemonClient, data: bytes) -> None:
    chunks = list(client.stream("web1", printing(data)))
    result = chunks.pop()
    assert isinstance(result, sshpool.Result) and result.exit_code == 0
    assert b"".join(d for s, d in chunks if s == "stdout") == data  # type: ignore[misc]
    assert result.stdout_bytes == data


@IN_PROCESS
@examples
@given(data=OUTPUT)
def test_a_fan_out_streams_any_bytes_per_channel(client: DaemonClient, data: bytes) -> None:
    got: dict[str, bytes] = {"web1": b"", "web2": b""}
    done: dict[str, Any] = {}
    for item in client.stream_many(printing(data), ["web1", "web2"]):
        if isinstance(item, Output):
            got[item.alias] += item.data
        else:
            assert isinstance(item, Done)
            done[item.alias] = item.outcome
    assert got == {"web1": data, "web2": data}
    assert {alias: r.stdout_bytes for alias, r in done.items()} == got


@IN_PROCESS
@examples
@given(data=OUTPUT)
def test_the_library_on_a_daemon_channel_gets_any_bytes(library: sshpool.Connection, data: bytes) -> None:
    assert library.run(printing(data)).stdout_bytes == data
    seen = bytearray()
    result = library.run(printing(data), on_output=lambda stream, chunk: seen.extend(chunk))
    assert (bytes(seen), result.stdout_bytes) == (data, data)


@SUBPROCESS
@examples
@given(data=OUTPUT)
def test_sshpoolctl_run_writes_any_bytes(pool: Daemon, data: bytes) -> None:
    r = ctl(pool, "run", "web1", printing(data))
    assert (r.returncode, r.stdout, r.stderr) == (0, data, b"")


@SUBPROCESS
@examples
@given(data=OUTPUT)
def test_sshpoolctl_fan_out_writes_any_bytes_under_each_alias(pool: Daemon, data: bytes) -> None:
    r = ctl(pool, "run", "web1,web2", printing(data))
    assert r.returncode == 0, r.stderr
    for alias in ("web1", "web2"):
        assert by_fanout_lines(r.stdout, alias, 4) == with_newline(data)


@SUBPROCESS
@examples
@given(data=OUTPUT)
def test_the_sshpoolctl_shell_writes_any_bytes_and_carries_on(pool: Daemon, data: bytes) -> None:
    r = ctl(pool, stdin=f"run web1 {printing(data)}\nrun web1 echo still here\n".encode())
    assert r.returncode == 0, r.stderr
    # The shell may end output that has no newline with one, so the next line starts clean.
    assert r.stdout in (data + b"still here\n", with_newline(data) + b"still here\n")


def test_300_kb_of_random_bytes_arrive_whole_through_every_face(
    pool: Daemon, client: DaemonClient, library: sshpool.Connection, random_file: tuple[str, bytes]
) -> None:
    path, digest = random_file
    command = f"cat {path}"

    def sha(data: bytes) -> bytes:
        return hashlib.sha256(data).digest()

    assert sha(rest_ndjson(pool, command)) == digest
    result = list(client.stream("web1", command))[-1]
    assert isinstance(result, sshpool.Result) and sha(result.stdout_bytes) == digest
    seen = bytearray()
    assert sha(library.run(command, on_output=lambda s, d: seen.extend(d)).stdout_bytes) == digest
    assert sha(bytes(seen)) == digest
    one_shot = ctl(pool, "run", "web1", command)
    assert (one_shot.returncode, sha(one_shot.stdout)) == (0, digest), one_shot.stderr[-2000:]
    shell = ctl(pool, stdin=f"run web1 {command}\n".encode())
    assert shell.returncode == 0, shell.stderr[-2000:]
    assert sha(shell.stdout) == digest or sha(shell.stdout[:-1]) == digest
