"""Shared fixtures and builders for the library's tests: remote work directories under the test
user's home, a sudoers drop-in, a server whose sessions have a remote venv (and shims) first on
PATH, a tiny wheel, a bare git repository, a .deb, and a dumb-HTTP git server that demands a token.

Registered as a plugin by tests/conftest.py, so its fixtures reach every folder; builders are
imported by name (``from tests.support.library import dsn_for``).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.server
import json
import os
import pwd
import secrets
import shutil
import subprocess
import threading
import zipfile
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

import sshpool.sync

SUDOERS_DIR = Path("/etc/sudoers.d")
SHIM_LOG = "apt-shim.log"


def chown_tree(path: Path, user: str) -> None:
    pw = pwd.getpwnam(user)
    for p in [path, *path.rglob("*")]:
        os.lchown(p, pw.pw_uid, pw.pw_gid)


def trusted(server: Any) -> Any:
    """Make sure the client's known_hosts has ``server``'s key (strict checking stays on)."""
    known = Path(os.environ["HOME"]) / ".ssh" / "known_hosts"
    line = str(server.known_hosts_line).strip()
    if line not in (known.read_text() if known.exists() else ""):
        with known.open("a") as fh:
            fh.write(line + "\n")
    return server


def dsn_for(server: Any, user: Any, alias: str = "lib") -> str:
    return f"{alias}://{user.name}@{server.host}:{server.port}"


@pytest.fixture(name="workdir")
def workdir_fixture(test_user: Any) -> Iterator[Path]:
    """A fresh directory under the test user's home, owned by the user; removed afterwards."""
    path = Path(test_user.home) / f"w-{secrets.token_hex(4)}"
    path.mkdir()
    chown_tree(path, test_user.name)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def sudoers(user: str, *lines: str) -> Iterator[Path]:
    """A drop-in /etc/sudoers.d file for ``user`` (checked by visudo), removed on exit."""
    path = SUDOERS_DIR / f"sshpool-test-{user}"
    text = f"Defaults:{user} !lecture, timestamp_timeout=0, passwd_tries=1\n" + "".join(f"{ln}\n" for ln in lines)
    tmp = path.with_name(path.name + ".new")
    tmp.write_text(text)
    os.chmod(tmp, 0o440)
    subprocess.run(["visudo", "-cqf", str(tmp)], check=True, timeout=10)
    tmp.replace(path)  # sudo ignores names with a '.', so the temp file was never live
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


@pytest.fixture(scope="session", name="remote_venv")
def remote_venv_fixture(test_user: Any) -> Path:
    """A venv in the test user's home (system pip, so no download), with a ``pip`` script."""
    venv = Path(test_user.home) / "venv"
    if not (venv / "bin" / "pip").exists():
        subprocess.run(
            ["runuser", "-u", test_user.name, "--", "/usr/bin/python3", "-m", "venv", "--without-pip",
             "--system-site-packages", str(venv)],
            check=True, timeout=60,
        )  # fmt: skip
        pip = venv / "bin" / "pip"
        pip.write_text(f'#!/bin/sh\nexec {venv}/bin/python -m pip "$@"\n')
        pip.chmod(0o755)
        chown_tree(venv, test_user.name)
    return venv


def write_apt_shim(directory: Path, user: str) -> Path:
    """An ``apt-get`` that records who ran it, DEBIAN_FRONTEND and its arguments."""
    directory.mkdir(parents=True, exist_ok=True)
    log = directory / SHIM_LOG
    shim = directory / "apt-get"
    shim.write_text(
        "#!/bin/sh\n"
        f'echo "uid=$(id -u) sudo_user=${{SUDO_USER:-}} frontend=${{DEBIAN_FRONTEND:-}} args=$*" >> {log}\n'
        'echo "shim: apt-get $*"\n'
    )
    shim.chmod(0o755)
    log.touch()
    log.chmod(0o666)
    chown_tree(directory, user)
    return log


@contextlib.contextmanager
def apt_sudo(user: str, shims: Path) -> Iterator[None]:
    """sudo without a password for ``user``, with the shim directory first on sudo's PATH."""
    with sudoers(
        user,
        f'Defaults:{user} secure_path="{shims}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"',
        f"{user} ALL=(ALL) NOPASSWD: ALL",
    ):
        yield


def build_wheel(directory: Path, name: str = "sshpooltiny", version: str = "0.1") -> Path:
    """A minimal pure-Python wheel (no build tools, no network)."""
    directory.mkdir(parents=True, exist_ok=True)
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": f"VERSION = {version!r}\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = "\n".join(record) + "\n"
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return wheel


def git(*args: str, cwd: Path | None = None) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(cwd or "/tmp")}  # fmt: skip
    out = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=30, check=True)
    return out.stdout


def bare_repo(root: Path, owner: str, repo: str, files: dict[str, str]) -> Path:
    """``root/owner/repo.git``, a bare repository with one commit of ``files``."""
    src = root / f".src-{repo}"
    src.mkdir(parents=True)
    git("init", "-q", "-b", "main", str(src))
    for name, text in files.items():
        (src / name).write_text(text)
    git("add", ".", cwd=src)
    git("commit", "-q", "-m", "first", cwd=src)
    bare = root / owner / f"{repo}.git"
    bare.parent.mkdir(parents=True, exist_ok=True)
    git("clone", "-q", "--bare", str(src), str(bare))
    git("update-server-info", cwd=bare)
    shutil.rmtree(src)
    return bare


def build_deb(directory: Path, name: str) -> Path:
    """A tiny architecture-independent .deb with no dependencies (``dpkg-deb --build``)."""
    root = directory / name
    (root / "DEBIAN").mkdir(parents=True)
    (root / "usr" / "share" / "doc" / name).mkdir(parents=True)
    (root / "usr" / "share" / "doc" / name / "README").write_text("built by the sshpool tests\n")
    (root / "DEBIAN" / "control").write_text(
        f"Package: {name}\nVersion: 1.0\nArchitecture: all\nMaintainer: tests <t@t>\n"
        f"Description: throwaway package for the sshpool apt test\n"
    )
    deb = directory / f"{name}_1.0_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(root), str(deb)], check=True,
                   capture_output=True, timeout=60)  # fmt: skip
    shutil.rmtree(root)
    return deb


class TokenGitServer:
    """Serves bare repositories over git's dumb HTTP protocol on loopback, answering 401 until
    a request carries Basic auth with the expected token as its password."""

    def __init__(self, root: Path, token: str) -> None:
        self.root = root
        self.token = token
        self.authorizations: list[str] = []
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a: Any, **kw: Any) -> None:
                super().__init__(*a, directory=str(outer.root), **kw)

            def do_GET(self) -> None:
                header = self.headers.get("Authorization", "")
                outer.authorizations.append(header)
                if not header.startswith("Basic "):
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="git"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                _, _, password = base64.b64decode(header[6:]).decode().partition(":")
                if password != outer.token:
                    self.send_response(403)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                super().do_GET()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


PAGE_SIZE = 2  # the fake DigitalOcean API pages small, so a name can sit on page 3


def droplet(id_: int, name: str, public: str | None = "127.0.0.1") -> dict[str, Any]:
    v4 = [{"ip_address": f"10.10.0.{id_ % 250}", "netmask": "255.255.0.0", "gateway": "10.10.0.1", "type": "private"}]
    if public:
        v4.append({"ip_address": public, "netmask": "255.255.240.0", "gateway": "127.0.0.254", "type": "public"})
    return {
        "id": id_,
        "name": name,
        "memory": 1024,
        "vcpus": 1,
        "disk": 25,
        "locked": False,
        "status": "active",
        "created_at": "2026-01-01T00:00:00Z",
        "networks": {"v4": v4, "v6": []},
        "region": {"slug": "nyc3"},
        "tags": [],
    }


class FakeAPI:
    """GET /v2/droplets with ``name`` (case-insensitive, like the real API), ``page``, ``per_page``."""

    def __init__(self, droplets: list[dict[str, Any]]) -> None:
        self.droplets = droplets
        self.requests: list[tuple[str, dict[str, list[str]], str]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                api.requests.append((parts.path, query, self.headers.get("Authorization", "")))
                if parts.path != "/v2/droplets":
                    self.answer(404, {"id": "not_found", "message": "The resource you requested could not be found."})
                    return
                name = query.get("name", [None])[0]
                items = [d for d in api.droplets if name is None or d["name"].lower() == name.lower()]
                page = int(query.get("page", ["1"])[0])
                size = min(int(query.get("per_page", ["20"])[0]), PAGE_SIZE)
                chunk = items[(page - 1) * size : page * size]
                last = max(1, -(-len(items) // size))
                base = f"{api.url}/v2/droplets?per_page={size}" + (f"&name={name}" if name else "")
                pages = {}
                if page > 1:
                    pages.update(first=f"{base}&page=1", prev=f"{base}&page={page - 1}")
                if page < last:
                    pages.update(next=f"{base}&page={page + 1}", last=f"{base}&page={last}")
                self.answer(200, {"droplets": chunk, "links": {"pages": pages}, "meta": {"total": len(items)}})

            def answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@contextlib.contextmanager
def path_to_requirements(text: str) -> Iterator[Path]:
    """The seed's literal ``/path/to/requirements.txt``, removed afterwards."""
    made = not Path("/path").exists()
    target = Path("/path/to/requirements.txt")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    os.chmod(target.parent, 0o755)  # noqa: S103  (the remote test user reads it)
    os.chmod(target, 0o644)
    try:
        yield target
    finally:
        if made:
            shutil.rmtree("/path", ignore_errors=True)
        else:
            target.unlink(missing_ok=True)


@contextlib.contextmanager
def ssh_config_first(block: str) -> Iterator[None]:
    config = Path(os.environ["HOME"]) / ".ssh" / "config"
    before = config.read_text() if config.exists() else ""
    config.write_text(block + "\n" + before)
    try:
        yield
    finally:
        config.write_text(before)


@pytest.fixture(name="poseidon_world")
def poseidon_world_fixture(
    make_sshd: Any, ssh_home: Any, test_user: Any, remote_venv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    home = Path(test_user.home)
    world = home / "seed-world"
    wheels = world / "wheels"
    build_wheel(wheels, "flask", "3.0.0")
    build_wheel(wheels, "itsdangerous", "2.2.0")
    build_wheel(wheels, "requests", "2.32.0")
    bare_repo(world / "git", "changhiskhan", "test", {"README.md": "the seed's test repository\n"})
    shims = world / "shims"
    write_apt_shim(shims, test_user.name)
    bare_repo(world / "git", "me", "app", {"app.py": "print('hello from app')\n"})
    (world / "gitconfig").write_text(
        f'[url "{world}/git/"]\n\tinsteadOf = https://github.com/\n\tinsteadOf = https://git.example.com/\n'
    )
    (home / "start_server.py").write_text("import time\nprint('serving', flush=True)\ntime.sleep(60)\n")
    chown_tree(world, test_user.name)
    chown_tree(home / "start_server.py", test_user.name)
    env = {
        "PATH": f"{remote_venv}/bin:{shims}:/usr/local/bin:/usr/bin:/bin",
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheels),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "GIT_CONFIG_GLOBAL": str(world / "gitconfig"),
    }
    server = trusted(make_sshd(extra={"SetEnv": " ".join(f"{k}={v}" for k, v in env.items())}))
    api = FakeAPI([droplet(7, "Test"), droplet(8, "test"), droplet(9, "web", public="192.0.2.9")])
    monkeypatch.setenv("DIGITALOCEAN_TOKEN", "dop_v1_seed")
    monkeypatch.setenv("DIGITALOCEAN_API_URL", api.url)
    monkeypatch.setenv("SSHPOOL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    block = f"Host 127.0.0.1\n  Port {server.port}\n  User {test_user.name}\n"
    try:
        with ssh_config_first(block), apt_sudo(test_user.name, shims), path_to_requirements("itsdangerous\n"):
            yield {"world": world, "home": home, "shims": shims, "server": server}
    finally:
        api.close()
        for name in ("test", "app", "start_server.py", "nohup.out"):
            path = home / name
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
        shutil.rmtree(world, ignore_errors=True)


def remote_text(conn: sshpool.sync.Connection, path: str) -> str:
    return conn.wait(f"cat {path}", check_stderr=False)


Factory = Callable[..., sshpool.sync.Connection]
