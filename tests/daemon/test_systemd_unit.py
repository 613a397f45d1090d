"""``contrib/sshpoold.service`` works as its comments install it. There is no running systemd here, so
the story is told in three parts: ``systemd-analyze verify`` accepts the unit, ``systemd-sysusers``
makes the account the unit runs as, and the unit's own ExecStart, Environment=, directories, credential
and ExecReload are played the way systemd would play them (in a temporary root, as a throwaway system
user made from the sysusers snippet) until an admin's ``sshpoolctl status``, run as the README says,
shows the channel of ``channels.conf``."""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from tests.support.daemon import BIN, clean_env, free_port
from tests.support.readme import blocks, section

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "contrib" / "sshpoold.service"
SYSUSERS = REPO / "contrib" / "sysusers.d" / "sshpool.conf"
CREDENTIALS = "/run/credentials/sshpoold.service"


def unit_settings(text: str) -> dict[str, list[str]]:
    """``Key=value`` lines of the unit, every value of a key in order (section names dropped: ours
    are unique across sections)."""
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def install_steps(text: str) -> list[str]:
    """The shell lines of the unit's opening comment (``#   command``): what an admin runs as root."""
    return [line[4:] for line in text.splitlines() if line.startswith("#   ")]


def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    # The one line the comment tells the admin to adjust: ExecStart's path, here the sshpoold that exists.
    text = UNIT.read_text()
    program = shlex.split(unit_settings(text)["ExecStart"][0])[0]
    unit = tmp_path / UNIT.name
    unit.write_text(text.replace(f"ExecStart={program} ", f"ExecStart={BIN} "))
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", "--generators=no", str(unit)],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    about_ours = [line for line in (done.stdout + done.stderr).splitlines() if UNIT.name in line]
    assert done.returncode == 0 and not about_ours, done.stdout + done.stderr


def test_the_sysusers_snippet_makes_the_units_user_with_the_state_dir_as_home(tmp_path: Path) -> None:
    settings = unit_settings(UNIT.read_text())
    steps = install_steps(UNIT.read_text())
    assert any("contrib/sysusers.d/sshpool.conf /etc/sysusers.d/" in s and "systemd-sysusers" in s for s in steps)
    (tmp_path / "etc").mkdir()
    done = subprocess.run(
        ["systemd-sysusers", f"--root={tmp_path}", str(SYSUSERS)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and SYSUSERS.name not in done.stderr, done.stderr
    users = {f[0]: f for f in (line.split(":") for line in (tmp_path / "etc/passwd").read_text().splitlines())}
    groups = {f[0]: f for f in (line.split(":") for line in (tmp_path / "etc/group").read_text().splitlines())}
    user, group = settings["User"][0], settings["Group"][0]
    assert user in users and group in groups
    assert users[user][3] == groups[group][2], "the user's primary group is the unit's Group="
    assert users[user][5] == "/var/lib/" + settings["StateDirectory"][0], "home is the state dir: ~/.ssh lives there"
    assert users[user][6].endswith("nologin")


@contextlib.contextmanager
def service_account(root: Path, home: str) -> Iterator[pwd.struct_passwd]:
    """The snippet's account under a throwaway name, made by ``systemd-sysusers`` on this machine
    (its home moved under ``root``); removed afterwards."""
    name = f"sshpsd{secrets.token_hex(3)}"
    lines = [line for line in SYSUSERS.read_text().splitlines() if line and not line.startswith("#")]
    assert len(lines) == 1 and lines[0].split()[:2] == ["u", "sshpool"], lines
    line = lines[0].replace("u sshpool ", f"u {name} ", 1).replace(f" {home} ", f" {root}{home} ", 1)
    subprocess.run(["systemd-sysusers", "--inline", line], check=True, capture_output=True, timeout=60)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", "--force", name], check=False, capture_output=True, timeout=30)
        subprocess.run(["groupdel", name], check=False, capture_output=True, timeout=30)


def as_root_in(root: Path, account: str, command: str) -> str:
    """An admin's root command, pointed at ``root`` instead of ``/`` and at the throwaway account."""
    command = re.sub(r"(?<![\w.])/(etc|var|run)/", rf"{root}/\1/", command)
    return re.sub(r"(-[og] |chgrp |chown )sshpool\b", rf"\g<1>{account}", command)


def own(path: Path, pw: pwd.struct_passwd, mode: int) -> None:
    os.chown(path, pw.pw_uid, pw.pw_gid)
    path.chmod(mode)


def expand(value: str, specifiers: dict[str, str], env: dict[str, str]) -> str:
    """What systemd does to a command line before it runs it: ``%x`` specifiers, then ``${NAME}`` and
    ``$NAME`` from the service's environment. Anything unknown fails the test rather than pass through."""

    def specifier(match: re.Match[str]) -> str:
        assert match.group(1) in specifiers, f"the test does not know systemd's %{match.group(1)}"
        return specifiers[match.group(1)]

    def variable(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        assert name in env, f"${name} is not in the service's environment"
        return env[name]

    value = re.sub(r"%(.)", specifier, value)
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", variable, value)


def as_service_user(argv: list[str], pw: pwd.struct_passwd, umask: str, root: Path) -> list[str]:
    """``argv`` as User=/Group= with no other groups, UMask= and NoNewPrivileges=, the way systemd
    execs it (one process throughout, so its pid is $MAINPID).

    A test interpreter under a root-only directory (a pyenv in /root) is out of the service user's
    reach; a private mount namespace then shows it, and only it, through a world-traversable tmpfs
    over that directory. A service installed as the unit's comment says does not need this."""
    setpriv = ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups", "--no-new-privs"]
    line = f"umask {umask}; exec {shlex.join([*setpriv, *argv])}"
    interpreter = Path(os.path.realpath(BIN.parent / "python"))
    shut = [d for d in reversed(interpreter.parents) if d.stat().st_mode & 0o001 == 0]
    if not shut:
        return ["sh", "-ec", line]
    closed = shut[0]
    inner = Path(*interpreter.parts[: len(closed.parts) + 1])
    stage = root / "interpreter"
    stage.mkdir()
    mounts = (
        f"mount --bind {shlex.quote(str(inner))} {shlex.quote(str(stage))}; "
        f"mount -t tmpfs -o mode=0755 sshpool-test {shlex.quote(str(closed))}; "
        f"mkdir -p {shlex.quote(str(inner))}; mount --move {shlex.quote(str(stage))} {shlex.quote(str(inner))}; "
    )
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-ec", mounts + line]


def wait_for(predicate: Any, what: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError, OSError):
            value = predicate()
            if value:
                return value
        time.sleep(0.1)
    raise AssertionError(f"{what} within {timeout} s")


def test_the_unit_as_its_comments_install_it_serves_channels_conf_to_the_admins_sshpoolctl(
    sshd: Any, test_user: Any, ssh_home: Any
) -> None:
    text = UNIT.read_text()
    settings = unit_settings(text)
    root = Path(tempfile.mkdtemp(prefix="sshpool-systemd-"))
    root.chmod(0o755)  # like / : the service user walks through it
    state_dir = f"/var/lib/{settings['StateDirectory'][0]}"
    log_path = root / "journal.log"
    proc: subprocess.Popen[bytes] | None = None
    try:
        with service_account(root, state_dir) as pw, contextlib.ExitStack() as stack:
            stack.callback(lambda: stop(proc))
            # The admin's steps, as root; systemctl's are what the rest of this test plays.
            for d in ("etc/sysusers.d", "etc/systemd/system"):
                (root / d).mkdir(parents=True)
            for step in install_steps(text):
                if step.startswith("systemctl "):
                    continue
                # The account already came from the same snippet (systemd-sysusers, above).
                step = as_root_in(root, pw.pw_name, step).replace("&& systemd-sysusers", "")
                subprocess.run(["sh", "-ec", step], cwd=REPO, check=True, timeout=60)
            conf = root / "etc/sshpool/channels.conf"
            # The admin names a real host; `>` keeps the file's owner and mode.
            with conf.open("w") as fh:
                fh.write(f"web1://{test_user.name}@{sshd.host}:{sshd.port}\n")
            assert (conf.stat().st_uid, conf.stat().st_mode & 0o777) == (pw.pw_uid, 0o600)
            token = (root / "etc/sshpool/token").read_text().strip()
            assert token and (root / "etc/sshpool/token").stat().st_mode & 0o777 == 0o600

            # systemd at start: StateDirectory= with its mode, the credential, Environment=.
            state = root / state_dir.lstrip("/")
            state.mkdir(parents=True)
            own(state, pw, int(settings["StateDirectoryMode"][0], 8))
            # The admin's keys for the channels, in sshpool's ~/.ssh (its home is the state dir).
            assert pw.pw_dir == str(state)
            dot_ssh = state / ".ssh"
            dot_ssh.mkdir()
            own(dot_ssh, pw, 0o700)
            for src in (ssh_home.key, ssh_home.known_hosts):
                shutil.copy(src, dot_ssh / src.name)
                own(dot_ssh / src.name, pw, 0o600)
            credentials = root / CREDENTIALS.lstrip("/")
            credentials.mkdir(parents=True)
            for entry in settings["LoadCredential"]:
                ident, _, source = entry.partition(":")
                copy = credentials / ident
                shutil.copy(as_root_in(root, pw.pw_name, source), copy)
                own(copy, pw, 0o400)
            own(credentials, pw, 0o500)
            specifiers = {"S": str(root / "var/lib"), "d": str(credentials), "%": "%"}  # %S: /var/lib
            notify = stack.enter_context(socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM))
            notify.bind(str(root / "notify"))
            (root / "notify").chmod(0o777)
            notify.settimeout(1)
            env = {
                "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "HOME": pw.pw_dir, "USER": pw.pw_name, "LOGNAME": pw.pw_name, "SHELL": pw.pw_shell,
                "NOTIFY_SOCKET": str(root / "notify"), "CREDENTIALS_DIRECTORY": str(credentials),
            }  # fmt: skip
            if "PYTHONPATH" in os.environ:  # this checkout's sshpool, not the service's environment
                env["PYTHONPATH"] = os.environ["PYTHONPATH"]
            for assignment in settings.get("Environment", []):
                for word in shlex.split(assignment):
                    key, _, value = word.partition("=")
                    env[key] = expand(value, specifiers, {})
            start = shlex.split(settings["ExecStart"][0])
            argv = [as_root_in(root, pw.pw_name, expand(a, specifiers, env)) for a in start]
            port = free_port()  # the unit's 8877 may be taken on a shared machine
            argv[0], argv[argv.index("--port") + 1] = str(BIN), str(port)
            with log_path.open("wb") as log:
                proc = subprocess.Popen(
                    as_service_user(argv, pw, settings["UMask"][0], root), env=env,
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                )  # fmt: skip

            def notified() -> bool:
                assert proc is not None and proc.poll() is None, log_path.read_text()
                with contextlib.suppress(TimeoutError):
                    return b"READY=1" in notify.recv(4096)
                return False

            wait_for(notified, "no READY=1 (Type=notify)")
            url = f"http://127.0.0.1:{port}"
            assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
            auth = {"Authorization": f"Bearer {token}"}
            wait_for(
                lambda: httpx.get(f"{url}/channels/web1", headers=auth, timeout=5).json().get("state") == "up",
                f"web1 of channels.conf not up:\n{log_path.read_text()}",
            )

            # The admin, as the README says: SSHPOOL_URL and SSHPOOL_TOKEN, then sshpoolctl.
            admin = [
                line[2:]
                for block in blocks(section("### systemd").split("\n## ", 1)[0], "console")
                for line in block.splitlines()
                if line.startswith("$ ")
            ]
            assert any("sshpoolctl status" in line for line in admin), admin
            script = "\n".join(as_root_in(root, pw.pw_name, line).replace(":8877", f":{port}") for line in admin)
            admin_home = root / "admin"
            admin_home.mkdir()
            done = subprocess.run(
                ["bash", "-ec", script], cwd=REPO, capture_output=True, text=True, timeout=60,
                env=clean_env({"HOME": str(admin_home), "PATH": f"{BIN.parent}:{os.environ['PATH']}"}),
            )  # fmt: skip
            assert done.returncode == 0, done.stdout + done.stderr
            assert re.search(rf"^web1\s.*@{sshd.host}:{sshd.port}\s", done.stdout, flags=re.MULTILINE), done.stdout
            assert token not in done.stdout + done.stderr

            # `systemctl reload`: ExecReload with $MAINPID re-reads channels.conf.
            with conf.open("a") as fh:
                fh.write(f"db1://{test_user.name}@{sshd.host}:{sshd.port}\n")
            reload = [
                expand(a, specifiers, {**env, "MAINPID": str(proc.pid)}) for a in shlex.split(settings["ExecReload"][0])
            ]
            subprocess.run(reload, check=True, timeout=30)
            wait_for(
                lambda: httpx.get(f"{url}/channels/db1", headers=auth, timeout=5).status_code == 200,
                f"db1 not added by the reload:\n{log_path.read_text()}",
            )

            # `systemctl stop`: KillSignal=, then the exit within TimeoutStopSec=.
            proc.send_signal(getattr(signal, settings["KillSignal"][0]))
            assert proc.wait(int(settings["TimeoutStopSec"][0])) == 0, log_path.read_text()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    """Whatever happened, the daemon does not outlive the test (killed by its pid)."""
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait(10)
