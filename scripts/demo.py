"""`make demo`: sshpool's main job, end to end, against a throwaway local sshd.

It creates a local user with a random password and an sshd on a free loopback port (both removed at
the end), starts ``sshpoold`` with a channel to it, runs commands over REST with curl, through
``sshpoolctl`` and through the Python library, and compares a warm channel with a fresh ``ssh``.
Needs root: it adds the user and starts sshd.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support.sshd import ClientHome, SSHServer, TestUser, free_port, ssh_command  # noqa: E402

BIN = Path(sys.executable).parent


def say(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m" if sys.stdout.isatty() else f"\n== {text}", flush=True)


def shown(argv: list[str], *, secret: str = "", **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a command and show it the way a user would type it (the token as ``$SSHPOOL_TOKEN``)."""
    words = [shlex.quote(a) for a in argv]
    if secret:  # double quotes, so that the shown line works when pasted
        words = [
            f'"{a.replace(secret, "$SSHPOOL_TOKEN")}"' if secret in a else w for a, w in zip(argv, words, strict=True)
        ]
    line = " ".join(words)
    print(f"$ {line}", flush=True)
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False, **kwargs)  # type: ignore[call-overload]
    out = (r.stdout + r.stderr).rstrip()
    if out:
        print(out)
    return r  # type: ignore[no-any-return]


@contextlib.contextmanager
def world() -> Iterator[tuple[TestUser, SSHServer, ClientHome, Path]]:
    work = Path(tempfile.mkdtemp(prefix="sshpool-demo-"))
    work.chmod(0o755)
    user = TestUser.create()
    server: SSHServer | None = None
    try:
        home = ClientHome.create(work / "home")
        os.environ["HOME"] = str(home.path)
        os.environ.pop("SSH_AUTH_SOCK", None)
        server = SSHServer(work / "sshd", authorized_keys=[home.public_key])
        home.trust(server.known_hosts_line)
        yield user, server, home, work
    finally:
        if server is not None:
            server.stop()
        user.remove()
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    if os.geteuid() != 0:
        print("demo: needs root (it creates a throwaway user and starts sshd); run `make demo`", file=sys.stderr)
        return 2
    with world() as (user, server, home, work):
        say(f"a throwaway user {user.name!r} and an OpenSSH sshd on {server.host}:{server.port}")
        port = free_port()
        state = work / "state"
        dsn = f"demo://{user.name}@{server.host}:{server.port}"
        argv = [str(BIN / "sshpoold"), "--port", str(port), "--state-dir", str(state), "--channel", dsn]
        say("sshpoold keeps the channel open")
        print("$ " + " ".join(shlex.quote(a) for a in [Path(argv[0]).name, *argv[1:]]))
        log = work / "sshpoold.log"
        with open(log, "wb") as fh:
            daemon = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            return tour(daemon, log, user, server, home, port, state, dsn)
        finally:
            daemon.terminate()
            try:
                daemon.wait(timeout=15)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait(timeout=5)


def tour(
    daemon: subprocess.Popen[bytes], log: Path, user: TestUser, server: SSHServer, home: ClientHome,
    port: int, state: Path, dsn: str,
) -> int:  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        if daemon.poll() is not None:
            print(log.read_text(errors="replace"))
            print("demo: sshpoold exited early (its log is above)", file=sys.stderr)
            return 1
        r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"{url}/readyz"],
                           capture_output=True, text=True, timeout=10, check=False)  # fmt: skip
        text = log.read_text(errors="replace")
        if r.stdout == "200" and "connected to demo" in text:
            break
        if time.monotonic() > deadline:
            print(text)
            print("demo: the channel did not come up within 20 s (the daemon's log is above)", file=sys.stderr)
            return 1
        time.sleep(0.1)
    print(log.read_text(errors="replace").rstrip())

    token = (state / "token").read_text().strip()
    auth = ["-H", f"Authorization: Bearer {token}"]
    say("the REST API: run commands, read the channel's state")
    shown(["curl", "-s", *auth, "-d", "uname -sr; whoami", f"{url}/channels/demo"], secret=token)
    shown(["curl", "-s", *auth, f"{url}/channels/demo"], secret=token)
    shown(["curl", "-s", *auth, "-H", "Accept: application/x-ndjson", "-d", "echo one; echo two >&2; exit 3",
           f"{url}/channels/demo"], secret=token)  # fmt: skip
    shown(["curl", "-s", *auth, f"{url}/channels/nosuch"], secret=token)
    shown(["curl", "-s", f"{url}/channels"])

    say("a warm channel against a fresh ssh, 20 x `echo hi` each")
    warm = []
    for _ in range(20):
        t = time.perf_counter()
        subprocess.run(["curl", "-s", *auth, "-d", "echo hi", f"{url}/channels/demo"],
                       capture_output=True, timeout=30, check=True)  # fmt: skip
        warm.append(time.perf_counter() - t)
    fresh = []
    for _ in range(20):
        t = time.perf_counter()
        subprocess.run(ssh_command(server, user, home, "echo hi"), capture_output=True, timeout=30, check=True)
        fresh.append(time.perf_counter() - t)
    w, f = statistics.median(warm) * 1000, statistics.median(fresh) * 1000
    print(f"curl to sshpoold: {w:.1f} ms median (a curl process included)")
    print(f"fresh ssh:        {f:.1f} ms median  ->  {f / w:.0f}x faster through the pool")

    env = {**os.environ, "SSHPOOL_URL": url, "SSHPOOL_TOKEN": token}
    if (BIN / "sshpoolctl").exists() and _has_ctl():
        say("sshpoolctl: the same channels from a shell (here with commands from a pipe)")
        script = f"status\nrun demo echo hello world\nstart local://{user.name}@127.0.0.1:{server.port}\nstatus\n"
        print(f"$ printf {shlex.quote(script.encode('unicode_escape').decode())} | sshpoolctl")
        r = subprocess.run([str(BIN / "sshpoolctl")], input=script, capture_output=True, text=True, env=env,
                           timeout=60, check=False)  # fmt: skip
        print((r.stdout + r.stderr).rstrip())

    say("the Python library: the same helpers on a direct connection")
    code = f"""
import sshpool
with sshpool.connect({dsn!r}) as conn:
    print(conn.wait("echo hello from $(hostname)").strip())
    with conn.cd("/tmp"):
        print("cwd:", conn.wait("pwd").strip())
    r = conn.run("ls /nonexistent")
    print("exit", r.exit_code, "|", r.stderr.strip())
    df = conn.ps()
    print(len(df), "processes as a DataFrame with columns", list(df.columns))
"""
    print("\n".join(">>> " + ln if ln and not ln.startswith(" ") else "... " + ln for ln in code.strip().splitlines()))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    print((r.stdout + r.stderr).rstrip())
    if r.returncode != 0:
        return 1

    say("stopping: the daemon drains and the throwaway user and sshd are removed")
    shown(["curl", "-s", "-w", "healthz: %{http_code}\n", f"{url}/healthz"])
    return 0


def _has_ctl() -> bool:
    return importlib.util.find_spec("sshpool.ctl") is not None


if __name__ == "__main__":
    sys.exit(main())
