"""R16, R17: a DSN's password and the API token never show — not in API answers, daemon or sshd
logs, ``ps`` listings, error texts, tracebacks or the state files — and another local user gets
nothing: private files and a 401.

The secrets are searched for for real after the whole story has run: every response body and
header collected, ``ps -eo args`` sampled while channels connect, every file the daemon wrote,
and the sshd logs of the remote side.
"""

from __future__ import annotations

import concurrent.futures
import os
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.support.daemon import Daemon, start_daemon
from tests.support.faults import ps_args, wait_until

pytestmark = pytest.mark.timeout(120)

JSON = {"Accept": "application/json"}


def forms(secret: str) -> list[str]:
    """The ways a secret could leak: as is and URL-encoded."""
    return sorted({secret, quote(secret, safe=""), quote(secret)})


class Recorder:
    """Keeps every answer the daemon gave, to search them afterwards."""

    def __init__(self, d: Daemon) -> None:
        self.d = d
        self.seen: list[str] = []

    def __call__(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        r = self.d.request(method, path, timeout=30, **kwargs)
        self.seen.append(f"{r.status_code} {dict(r.headers)} {r.text}")
        return r


def test_r16_a_dsn_password_never_appears_in_answers_logs_ps_errors_or_state(
    tmp_path: Path, make_sshd: Any, test_user: Any, ssh_home: Any
) -> None:
    # Password login only: the password is really used on every (re)connect.
    server = make_sshd(authorized_keys=[])
    good = test_user.password
    wrong = "Wr0ng+" + secrets.token_urlsafe(12)
    d = start_daemon(tmp_path)
    call = Recorder(d)
    where = f"127.0.0.1:{server.port}"
    samples: list[str] = []
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as ex:
            # Sample ps while channels connect, reconnect and fail.
            stop_sampling = [False]

            def sample() -> None:
                while not stop_sampling[0]:
                    samples.append(ps_args())
                    time.sleep(0.05)

            sampler = ex.submit(sample)
            call("POST", "/channels", content=f"raw://{test_user.name}:{good}@{where}")
            call("POST", "/channels", data={"dsn": f"form://{test_user.name}:{good}@{where}"})
            call("POST", "/channels", json={"dsn": f"json://{test_user.name}:{good}@{where}"})
            r = call("POST", "/channels", content=f"bad://{test_user.name}:{wrong}@{where}", headers=JSON)
            assert r.status_code == 202 and "authentication failed" in r.text, r.text
            # Errors that quote the request: a bad port, a duplicate alias, a host not allowed.
            for text in (
                f"e1://{test_user.name}:{wrong}@{where}0000",
                f"raw://{test_user.name}:{wrong}@{where}",
                f"e2://{test_user.name}:{wrong}@10.9.8.7:22",
                f"e 3://{test_user.name}:{wrong}@{where}",
            ):
                assert call("POST", "/channels", content=text, headers=JSON).status_code in (400, 403, 409)
            assert call("POST", "/channels/raw", json={"command": "echo ok"}).json()["stdout"] == "ok\n"
            call("POST", "/channels/raw", json={"command": "sleep 5", "timeout": 0.3})
            call("POST", "/channels/raw", json={"command": "exit 3"})
            call("POST", "/channels/bad", json={"command": "true"}, headers=JSON)
            call("POST", "/channels/nope", json={"command": "true"}, headers=JSON)
            call("POST", "/run", json={"command": "hostname", "channels": ["raw", "form", "bad"]})
            call(
                "POST", "/channels/form", json={"command": "echo streamed"}, headers={"Accept": "application/x-ndjson"}
            )
            call("PATCH", "/channels/json", content=f"json://{test_user.name}:{good}@{where}")
            call("PATCH", "/channels/form", content=f"form://{test_user.name}:{wrong}@{where}", headers=JSON)
            for path in ("/channels", "/channels/raw", "/channels/bad", "/metrics", "/openapi.json", "/healthz"):
                call("GET", path)
            # The link drops and the daemon logs in again with the stored password.
            server.restart()
            d.wait_state("raw", "up", timeout=15)
            assert d.stop() == 0
            d = d.restart()
            call.d = d
            d.wait_state("raw", "up", timeout=15)
            call("GET", "/channels")
            stop_sampling[0] = True
            sampler.result(timeout=10)
    finally:
        if d.alive():
            d.stop()
    files = {p: p.read_bytes() for p in d.state_dir.rglob("*") if p.is_file()}
    files.update({p: p.read_bytes() for p in tmp_path.glob("sshpoold-*.log")})
    files[server.log] = server.log.read_bytes()
    places = {
        "API answers": "\n".join(call.seen),
        "ps listings": "\n".join(samples),
        **{
            str(p.relative_to(tmp_path) if p.is_relative_to(tmp_path) else p.name): b.decode("latin-1")
            for p, b in files.items()
        },
    }
    hits = {
        (where_, name): text.count(f)
        for where_, text in places.items()
        for name, secret in (("password", good), ("wrong password", wrong), ("token", d.token))
        for f in forms(secret)
        if f in text and not (name == "token" and where_ == "state/token")
    }
    print(
        f"R16 secrets: searched {len(places)} places ({len(samples)} ps samples, {len(call.seen)} answers); "
        f"hits {sum(hits.values())}"
    )
    assert hits == {}
    assert any(":****@" in t for t in places.values())  # the masked form is what shows
    assert "Traceback" not in places[next(k for k in places if k.startswith("sshpoold-"))]


def test_r16_every_state_file_is_private(tmp_path: Path, sshd: Any, test_user: Any, ssh_home: Any) -> None:
    d = start_daemon(tmp_path)
    try:
        d.post("/channels", content=f"p://{test_user.name}:{test_user.password}@127.0.0.1:{sshd.port}")
        d.run("p", "true")
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in d.state_dir.rglob("*")}
    finally:
        d.stop()
    print("R16 state files: " + ", ".join(f"{n} {m:o}" for n, m in sorted(modes.items())))
    assert stat.S_IMODE(d.state_dir.stat().st_mode) == 0o700
    assert modes and all(m & 0o077 == 0 for m in modes.values()), modes


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory every user may traverse, so only the daemon's own file modes protect it."""
    path = Path(tempfile.mkdtemp(prefix="sshpool-sec-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def as_user(user: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["runuser", "-u", user, "--", *argv], capture_output=True, text=True, timeout=20)


def test_r17_another_local_user_gets_401_and_cannot_read_the_state(
    open_dir: Path, sshd: Any, test_user: Any, ssh_home: Any
) -> None:
    d = start_daemon(open_dir, state_dir=open_dir / "state")
    try:
        d.post("/channels", content=f"p://{test_user.name}:{test_user.password}@127.0.0.1:{sshd.port}")
        other = test_user.name
        url = d.url + "channels"
        same_length = "x" * len(d.token)
        cases = {
            "no token": [url],
            "wrong token": ["-H", "Authorization: Bearer guess", url],
            "wrong token, same length": ["-H", f"Authorization: Bearer {same_length}", url],
            "token prefix": ["-H", f"Authorization: Bearer {d.token[:-1]}", url],
            "basic auth": ["-u", f"x:{same_length}", url],
            "token in the query": [f"{url}?token={same_length}"],
            "run a command": ["-d", "id", d.url + "channels/p"],
            "add a channel": ["-d", "q://root@127.0.0.1:22", url],
        }
        codes = {}
        for name, args in cases.items():
            r = as_user(other, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", *args)
            codes[name] = r.stdout
        reads = {}
        for path in sorted(p for p in d.state_dir.rglob("*") if p.is_file()):
            r = as_user(other, "cat", str(path))
            reads[path.name] = "refused" if r.returncode != 0 and not r.stdout else "READ"
        listing = as_user(other, "ls", str(d.state_dir))
        assert sorted(d.get("/channels").json()) == ["p"]
    finally:
        d.stop()
    print(
        "R17 other user: "
        + ", ".join(f"{k} {v}" for k, v in codes.items())
        + "; files "
        + ", ".join(f"{k} {v}" for k, v in reads.items())
    )
    assert set(codes.values()) == {"401"}, codes
    assert set(reads.values()) == {"refused"}, reads
    assert listing.returncode != 0
    from sshpool.daemon import guard

    assert "hmac.compare_digest" in Path(guard.__file__).read_text()  # constant-time token compare


def test_r17_a_unix_socket_refuses_other_users_outright(open_dir: Path, ssh_home: Any, test_user: Any) -> None:
    sock = open_dir / "d.sock"
    state = open_dir / "state"
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("sshpoold")), "--socket", str(sock), "--state-dir", str(state)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "SSHPOOL_TOKEN": ""},
    )
    try:
        wait_until(sock.exists, 15)
        r = as_user(test_user.name, "curl", "-s", "--unix-socket", str(sock), "http://x/healthz")
        print(f"R17 unix socket mode {stat.S_IMODE(sock.stat().st_mode):o}; other user's curl exit {r.returncode}")
        assert stat.S_IMODE(sock.stat().st_mode) == 0o600
        assert r.returncode != 0 and r.stdout == ""
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
