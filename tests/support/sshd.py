"""Real OpenSSH for the tests: a throwaway local user, a client home, and sshd servers on free loopback ports.

Everything here is started by the test session itself and stopped by pid: an ``sshd -D`` per server with
its own generated host key and config, a local user with a random password (removed afterwards), and a
client home (``$HOME`` for the test process) holding the client key, ``known_hosts`` and ``config``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

SSHD = shutil.which("sshd", path="/usr/sbin:/usr/bin:/sbin:/bin") or "/usr/sbin/sshd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def keygen(path: Path, comment: str = "sshpool-test") -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True, timeout=30, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return path


@dataclass
class TestUser:
    """A local account made for this test session: sessions log in as it, never as root."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    name: str
    password: str
    home: str
    uid: int

    @classmethod
    def create(cls) -> TestUser:
        name = f"sshpt{secrets.token_hex(3)}"
        password = secrets.token_urlsafe(18)
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", name], check=True, timeout=30)
        # The password goes in on stdin: never on a command line where `ps` would show it.
        subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True, timeout=30)
        pw = pwd.getpwnam(name)
        return cls(name=name, password=password, home=pw.pw_dir, uid=pw.pw_uid)

    def remove(self) -> None:
        subprocess.run(["pkill", "-KILL", "-u", self.name], check=False, timeout=30)
        for _ in range(50):
            if subprocess.run(["pgrep", "-u", self.name], capture_output=True, timeout=30).returncode != 0:
                break
            time.sleep(0.1)
        subprocess.run(["userdel", "--remove", "--force", self.name], check=False, timeout=30, capture_output=True)


@dataclass
class ClientHome:
    """The client side: ``$HOME`` with ``.ssh/id_ed25519``, ``known_hosts`` and a ``config`` of Host blocks."""

    path: Path
    blocks: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def create(cls, path: Path) -> ClientHome:
        ssh = path / ".ssh"
        ssh.mkdir(parents=True, mode=0o700)
        keygen(ssh / "id_ed25519", "sshpool-test-client")
        (ssh / "known_hosts").touch(mode=0o600)
        home = cls(path)
        home.write_config()
        return home

    @property
    def ssh_dir(self) -> Path:
        return self.path / ".ssh"

    @property
    def key(self) -> Path:
        return self.ssh_dir / "id_ed25519"

    @property
    def public_key(self) -> str:
        return (self.ssh_dir / "id_ed25519.pub").read_text()

    @property
    def known_hosts(self) -> Path:
        return self.ssh_dir / "known_hosts"

    @property
    def config(self) -> Path:
        return self.ssh_dir / "config"

    def add_host_block(self, alias: str, **options: str) -> None:
        """Add ``Host alias`` with the given options to ``~/.ssh/config`` (as the user's OpenSSH reads it)."""
        self.blocks[alias] = dict(options)
        self.write_config()

    def clear_host_blocks(self) -> None:
        self.blocks.clear()
        self.write_config()

    def write_config(self) -> None:
        text = "".join(
            f"Host {alias}\n" + "".join(f"    {k} {v}\n" for k, v in opts.items()) + "\n"
            for alias, opts in self.blocks.items()
        )
        self.config.write_text(text)
        self.config.chmod(0o600)

    def trust(self, line: str) -> None:
        with self.known_hosts.open("a") as fh:
            fh.write(line.strip() + "\n")


class SSHServer:
    """One ``sshd -D`` on 127.0.0.1 and a free port, with its own host key, config and log."""

    host = "127.0.0.1"

    def __init__(
        self,
        directory: Path,
        *,
        authorized_keys: list[str],
        max_sessions: int | None = None,
        use_pam: bool = False,
        kbdint: bool = False,
        password_auth: bool = True,
        extra: dict[str, str] | None = None,
        also_listen: tuple[str, ...] = (),
    ) -> None:
        self.dir = directory
        self.also_listen = also_listen
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o755)  # sshd reads authorized_keys as the logged-in user
        self.port = free_port()
        self.host_key = self.dir / "ssh_host_ed25519_key"
        keygen(self.host_key, "sshpool-test-host")
        self.log = self.dir / "sshd.log"
        self.authorized = self.dir / "authorized_keys"
        self.authorized.write_text("".join(k.strip() + "\n" for k in authorized_keys))
        self.authorized.chmod(0o644)
        options: dict[str, str] = {
            "Port": str(self.port),
            "ListenAddress": self.host,
            "HostKey": str(self.host_key),
            "PidFile": "none",
            "AuthorizedKeysFile": str(self.authorized),
            "StrictModes": "no",
            "UsePAM": "yes" if use_pam else "no",
            "KbdInteractiveAuthentication": "yes" if kbdint else "no",
            "PasswordAuthentication": "yes" if password_auth else "no",
            "PermitRootLogin": "prohibit-password",
            "LogLevel": "VERBOSE",
            "Subsystem": "sftp internal-sftp",
            "AcceptEnv": "LANG LC_* SSHPOOL_*",
            "PrintMotd": "no",
            "UseDNS": "no",
        }
        if max_sessions is not None:
            options["MaxSessions"] = str(max_sessions)
        options.update(extra or {})
        self.config = self.dir / "sshd_config"
        lines = [f"{k} {v}\n" for k, v in options.items()] + [f"ListenAddress {a}\n" for a in also_listen]
        self.config.write_text("".join(lines))
        subprocess.run([SSHD, "-t", "-f", str(self.config)], check=True, timeout=30, capture_output=True)
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def __repr__(self) -> str:
        return f"<SSHServer {self.host}:{self.port} pid={self.proc.pid if self.proc else None}>"

    @property
    def known_hosts_line(self) -> str:
        kind, blob = Path(str(self.host_key) + ".pub").read_text().split()[:2]
        names = ",".join(f"[{h}]:{self.port}" for h in (self.host, *self.also_listen))
        return f"{names} {kind} {blob}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(self.config), "-E", str(self.log)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited with {self.proc.returncode}:\n{self.log_text()}")
            with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), timeout=1):
                return
            time.sleep(0.02)
        raise RuntimeError(f"sshd did not listen on port {self.port} within 10 s:\n{self.log_text()}")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def session_pids(self, client_port: int | None = None) -> list[int]:
        """The sshd processes serving connections: those of one client port, or all of them."""
        if self.proc is None:
            return []
        if client_port is not None:
            out = subprocess.run(
                ["ss", "-Htnp", "state", "established", f"( sport = :{self.port} and dport = :{client_port} )"],
                capture_output=True, text=True, timeout=30, check=True,
            ).stdout  # fmt: skip
            return sorted({int(p) for p in re.findall(r"pid=(\d+)", out)} - {self.proc.pid})
        return sorted(descendants(self.proc.pid))

    def stop(self) -> None:
        """Stop the listener and every session it serves, as a host going away would."""
        if self.proc is None:
            return
        kids = descendants(self.proc.pid)
        self.proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        for pid in kids | descendants_of_many(kids):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def regenerate_host_key(self) -> None:
        """A new host key, as after a reinstall: new connections see a changed key."""
        for suffix in ("", ".pub"):
            Path(str(self.host_key) + suffix).unlink()
        keygen(self.host_key, "sshpool-test-host")
        self.restart()


def children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def descendants(pid: int) -> set[int]:
    return descendants_of_many({pid})


def descendants_of_many(pids: set[int]) -> set[int]:
    kids = children_map()
    found: set[int] = set()
    todo = list(pids)
    while todo:
        for child in kids.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def ssh_command(server: SSHServer, user: TestUser, home: ClientHome, command: str) -> list[str]:
    """The OpenSSH client command line for one fresh connection that runs ``command``."""
    return [
        "ssh", "-F", str(home.config), "-i", str(home.key), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
        "-o", f"UserKnownHostsFile={home.known_hosts}", "-o", "StrictHostKeyChecking=yes",
        "-p", str(server.port), f"{user.name}@{server.host}", command,
    ]  # fmt: skip
