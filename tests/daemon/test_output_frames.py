"""Big output through the REST API as frames (``Accept: application/x-sshpool-frames``): the
bytes exactly as the command wrote them, then the outcome that the NDJSON stream ends with."""

from __future__ import annotations

import hashlib
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sshpool.outframes import CONTENT_TYPE, OUTCOME, STDERR, STDOUT, FrameDecoder, outcome_of
from tests.support.daemon import Daemon, daemon_running
from tests.support.faults import daemon_session_pids, signal_pids, user_processes, wait_until
from tests.support.readme import README, blocks, section
from tests.support.sshd import descendants_of_many

pytestmark = pytest.mark.timeout(120)

FRAMES = {"Accept": CONTENT_TYPE}
NDJSON = {"Accept": "application/x-ndjson"}


@pytest.fixture
def daemon(tmp_path: Path, sshd: Any, test_user: Any, ssh_home: Any) -> Iterator[Daemon]:
    yield from daemon_running(tmp_path, "--channel", f"web://{test_user.name}@127.0.0.1:{sshd.port}", up=("web",))


class Framed:
    """What a frames answer held: the bytes of each stream, the frames, and the outcome."""

    def __init__(self) -> None:
        self.out = {STDOUT: bytearray(), STDERR: bytearray()}
        self.kinds: list[bytes] = []
        self.outcome: dict[str, Any] | None = None
        self.decoder = FrameDecoder()

    def feed(self, piece: bytes) -> None:
        for kind, payload in self.decoder.feed(piece):
            self.kinds.append(kind)
            if kind == OUTCOME:
                self.outcome = outcome_of(payload)
            else:
                self.out[kind] += payload


def framed(d: Daemon, alias: str, **request: Any) -> tuple[httpx.Response, Framed]:
    got = Framed()
    headers = {**FRAMES, **request.pop("headers", {})}
    with d.client(timeout=60) as c, c.stream("POST", f"/channels/{alias}", headers=headers, **request) as r:
        if r.status_code == 200:
            for piece in r.iter_raw():
                got.feed(piece)
            got.decoder.close()
        else:
            r.read()
    return r, got


def without_duration(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "duration"}


def ndjson_last(d: Daemon, alias: str, **request: Any) -> dict[str, Any]:
    r = d.post(f"/channels/{alias}", headers=NDJSON, timeout=60, **request)
    last: dict[str, Any] = json.loads(r.content.rsplit(b"\n", 2)[-2])
    return last


def test_fifty_megabytes_of_each_stream_arrive_byte_exact(daemon: Daemon) -> None:
    name = f"/tmp/sshpool-frames-{time.monotonic_ns()}.bin"
    made = daemon.run("web", f"head -c 50000000 /dev/urandom > {name} && sha256sum < {name}")
    digest = made["stdout"].split()[0]
    try:
        r, got = framed(daemon, "web", json={"command": f"cat {name}; cat {name} >&2; exit 3"})
    finally:
        daemon.run("web", f"rm -f {name}")
    assert r.status_code == 200 and r.headers["content-type"] == CONTENT_TYPE
    for stream in (STDOUT, STDERR):
        assert len(got.out[stream]) == 50_000_000
        assert hashlib.sha256(got.out[stream]).hexdigest() == digest
    assert got.kinds[-1] == OUTCOME and got.kinds.count(OUTCOME) == 1
    assert got.outcome is not None and got.outcome["exit_code"] == 3
    assert (got.outcome["stdout_total"], got.outcome["stderr_total"], got.outcome["truncated"]) == (
        50_000_000,
        50_000_000,
        False,
    )


def test_line_breaks_and_bytes_that_are_not_utf8_come_through_untouched(daemon: Daemon) -> None:
    odd = b"a\nb\rc\r\nd\x0be\x0cf\x1cg\x1dh\x1ei\x85j\xc2\x85k\xe2\x80\xa8l\xe2\x80\xa9m\xff\xfe\x00\xed\xa0\x80z"
    once = "printf '" + "".join(f"\\{b:03o}" for b in odd) + "'"
    command = f"{once}; {once} >&2; exit 5"
    r, got = framed(daemon, "web", json={"command": command})
    assert r.status_code == 200
    assert (bytes(got.out[STDOUT]), bytes(got.out[STDERR])) == (odd, odd)
    # The outcome holds what the NDJSON stream's last line holds, and the JSON answer's fields.
    assert got.outcome is not None and got.outcome["exit_code"] == 5
    assert without_duration(got.outcome) == without_duration(ndjson_last(daemon, "web", json={"command": command}))
    whole = daemon.run("web", command)
    fields = {k: v for k, v in whole.items() if k not in ("stdout", "stderr")}
    assert without_duration(got.outcome) == without_duration(fields)


def test_stdin_streamed_as_the_body_works_with_frames_too(daemon: Daemon) -> None:
    data = bytes(range(256)) * 1000
    octets = {"Content-Type": "application/octet-stream"}
    r, got = framed(daemon, "web", params={"command": "cat"}, content=data, headers=octets)
    assert r.status_code == 200 and bytes(got.out[STDOUT]) == data
    assert got.outcome is not None and got.outcome["exit_code"] == 0


def test_past_the_output_cap_the_outcome_says_truncated_as_the_json_answer_does(
    tmp_path: Path, sshd: Any, test_user: Any, ssh_home: Any
) -> None:
    for d in daemon_running(
        tmp_path, "--output-limit", "1048576", "--channel", f"cap://{test_user.name}@127.0.0.1:{sshd.port}", up=("cap",)
    ):
        command = "head -c 3000000 /dev/zero"
        whole = d.run("cap", command)
        r, got = framed(d, "cap", json={"command": command})
        assert r.status_code == 200 and got.outcome is not None
        assert (got.outcome["truncated"], got.outcome["stdout_total"]) == (True, 3_000_000)
        assert (whole["truncated"], whole["stdout_total"], len(whole["stdout"])) == (True, 3_000_000, 1_048_576)
        assert without_duration(got.outcome) == without_duration(ndjson_last(d, "cap", json={"command": command}))
        assert len(got.out[STDOUT]) == 3_000_000  # every byte streams, as NDJSON streams it


def test_refusals_are_answered_as_the_ndjson_form_answers_them(daemon: Daemon) -> None:
    r, _ = framed(daemon, "nosuch", json={"command": "true"})
    ndjson = daemon.post("/channels/nosuch", json={"command": "true"}, headers=NDJSON)
    assert (r.status_code, r.text) == (ndjson.status_code, ndjson.text) == (404, "NOT FOUND")
    r, _ = framed(daemon, "web", json={"commandx": "true"})
    assert r.status_code == 400
    added = daemon.post("/channels", json={"dsn": "dead://x@127.0.0.1:1", "wait": 1})
    assert added.status_code == 202, added.text
    r, got = framed(daemon, "dead", json={"command": "true", "timeout": 2})
    assert r.status_code == 200 and got.kinds == [OUTCOME] and got.outcome is not None
    last = ndjson_last(daemon, "dead", json={"command": "true", "timeout": 2})
    assert got.outcome["error"] == last["error"] == "channel_unavailable"
    assert without_duration(got.outcome) == without_duration(last)


def test_a_link_cut_mid_stream_ends_with_link_lost_after_the_bytes_already_sent(
    daemon: Daemon, sshd: Any, test_user: Any
) -> None:
    got = Framed()
    command = {"command": "head -c 1000000 /dev/zero; sleep 4324"}
    with (
        daemon.client(timeout=60) as c,
        c.stream("POST", "/channels/web", headers=FRAMES, json=command) as r,
    ):
        pieces = r.iter_raw()
        while len(got.out[STDOUT]) < 1_000_000:
            got.feed(next(pieces))
        wait_until(lambda: bool(user_processes(test_user.name, "sleep 432[4]")), 10)
        sessions = set(daemon_session_pids(sshd, daemon.pid))
        assert sessions
        signal_pids(sorted(sessions | descendants_of_many(sessions)), signal.SIGKILL)
        for piece in pieces:
            got.feed(piece)
    got.decoder.close()
    assert len(got.out[STDOUT]) == 1_000_000 and got.kinds[-1] == OUTCOME
    assert got.outcome is not None and got.outcome["error"] == "link_lost" and got.outcome["exit_code"] is None
    assert got.outcome["stdout_total"] == 1_000_000
    daemon.wait_state("web", "up", timeout=20)


def test_a_client_that_goes_away_mid_stream_cancels_the_command(daemon: Daemon, test_user: Any) -> None:
    with (
        daemon.client() as c,
        c.stream("POST", "/channels/web", headers=FRAMES, json={"command": "echo first; sleep 4325"}) as r,
    ):
        got = Framed()
        for piece in r.iter_raw():
            got.feed(piece)
            if got.out[STDOUT]:
                break
        assert bytes(got.out[STDOUT]) == b"first\n" and got.outcome is None
    wait_until(lambda: not user_processes(test_user.name, "sleep 432[5]"), 10)
    assert "client went away" in daemon.log_text()


def test_the_readme_example_reads_frames_with_the_standard_library(
    tmp_path: Path, sshd: Any, test_user: Any, ssh_home: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    for d in daemon_running(tmp_path, "--channel", f"db1://{test_user.name}@127.0.0.1:{sshd.port}", up=("db1",)):
        monkeypatch.setenv("SSHPOOL_URL", d.url.rstrip("/"))
        monkeypatch.setenv("SSHPOOL_TOKEN", d.token)
        (block,) = blocks(section("### Big output: frames"), "python")
        exec(compile(block, str(README), "exec"), {"__name__": "readme"})  # noqa: S102  (our own README)
        assert capsys.readouterr().out == "10000000 0\n"
