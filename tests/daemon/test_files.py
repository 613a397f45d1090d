"""Files and terminals through the REST API, in process over a real Pool and the test sshd:
``PUT``/``GET /channels/<alias>/files?path=...`` streamed to and from SFTP, and the ``pty`` and
``input_b64`` fields of a command."""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sshpool import Pool
from sshpool.daemon.app import create_app
from tests.support.library import chown_tree

TOKEN = "files-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}
FILE_LIMIT = 12 * 1024 * 1024
pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def client(tmp_path: Path, sshd: Any, ssh_home: Any, test_user: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app whose command bodies are capped at 4 KiB and files at 12 MiB, with
    the channel ``web`` up."""
    async with Pool(
        state_dir=tmp_path / "state", connect_timeout=3, command_timeout=20, body_limit=4096, file_limit=FILE_LIMIT
    ) as pool:
        app = create_app(pool, token=TOKEN, allow_networks=["127.0.0.0/8", "::1"])
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", headers=AUTH, timeout=30) as c:
            r = await c.post("/channels", content=f"web://{test_user.name}@{sshd.host}:{sshd.port}")
            assert (r.status_code, r.text) == (200, "OK")
            yield c


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".part"))


async def test_ten_megabytes_go_up_and_come_back_byte_exact(
    client: httpx.AsyncClient, workdir: Path, test_user: Any
) -> None:
    blob = os.urandom(10 * 1024 * 1024)
    target = workdir / "blob.bin"
    r = await client.put("/channels/web/files", params={"path": str(target)}, content=blob)
    assert r.status_code == 200, r.text
    assert r.json() == {"path": str(target), "size": len(blob)}
    assert target.read_bytes() == blob
    assert target.stat().st_uid == test_user.uid  # written as the channel's user
    r = await client.get("/channels/web/files", params={"path": str(target)})
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    assert int(r.headers["content-length"]) == len(blob) and r.content == blob
    assert leftovers(workdir) == []


async def test_relative_paths_start_at_the_login_directory(
    client: httpx.AsyncClient, workdir: Path, test_user: Any
) -> None:
    r = await client.put("/channels/web/files", params={"path": f"~/{workdir.name}/a.txt"}, content=b"tilde\n")
    assert r.status_code == 200
    assert (workdir / "a.txt").read_bytes() == b"tilde\n"
    r = await client.get("/channels/web/files", params={"path": f"{workdir.name}/a.txt"})
    assert r.content == b"tilde\n"
    empty = await client.put("/channels/web/files", params={"path": f"{workdir.name}/empty"}, content=b"")
    assert empty.json()["size"] == 0
    got = await client.get("/channels/web/files", params={"path": f"{workdir.name}/empty"})
    assert (got.status_code, got.content) == (200, b"")


async def test_an_upload_replaces_a_file_and_keeps_its_mode(client: httpx.AsyncClient, workdir: Path) -> None:
    script = workdir / "run.sh"
    script.write_text("#!/bin/sh\necho old\n")
    script.chmod(0o750)
    chown_tree(workdir, workdir.owner())
    r = await client.put("/channels/web/files", params={"path": str(script)}, content=b"#!/bin/sh\necho new\n")
    assert r.status_code == 200
    assert script.read_text() == "#!/bin/sh\necho new\n"
    assert stat.S_IMODE(script.stat().st_mode) == 0o750
    out = await client.post("/channels/web", json={"command": str(script)})
    assert out.json()["stdout"] == "new\n"


async def test_an_upload_writes_through_a_symlink(client: httpx.AsyncClient, workdir: Path) -> None:
    (workdir / "real.txt").write_text("old\n")
    (workdir / "link.txt").symlink_to("real.txt")
    chown_tree(workdir, workdir.owner())
    r = await client.put("/channels/web/files", params={"path": str(workdir / "link.txt")}, content=b"new\n")
    assert r.status_code == 200
    assert (workdir / "link.txt").is_symlink() and (workdir / "real.txt").read_text() == "new\n"


async def test_a_file_of_unknown_size_comes_whole(client: httpx.AsyncClient) -> None:
    r = await client.get("/channels/web/files", params={"path": "/proc/self/status"})  # stat says 0 bytes
    assert r.status_code == 200 and "content-length" not in r.headers
    assert r.content.startswith(b"Name:") and b"\nPid:" in r.content


async def test_file_errors_say_what_is_wrong(client: httpx.AsyncClient, workdir: Path) -> None:
    missing = await client.get("/channels/web/files", params={"path": str(workdir / "nope")})
    assert missing.status_code == 404 and missing.json()["code"] == "file_not_found"
    assert "nope" in missing.json()["detail"]
    denied = await client.put("/channels/web/files", params={"path": "/root/sshpool-denied"}, content=b"x")
    assert denied.status_code == 403 and denied.json()["code"] == "permission_denied"
    assert not Path("/root/sshpool-denied").exists()
    directory = await client.get("/channels/web/files", params={"path": str(workdir)})
    assert directory.status_code == 400 and "directory" in directory.json()["detail"]
    no_path = await client.get("/channels/web/files")
    assert no_path.status_code == 400 and "'path' is required" in no_path.json()["detail"]
    unknown = await client.get("/channels/nosuch/files", params={"path": "x"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_alias"
    no_dir = await client.put("/channels/web/files", params={"path": str(workdir / "no" / "f")}, content=b"x")
    assert no_dir.status_code == 404 and no_dir.json()["code"] == "file_not_found"


async def test_a_tree_is_listed_made_and_given_modes_for_a_client_that_copies_it(
    client: httpx.AsyncClient, workdir: Path
) -> None:
    """GET/PUT /channels/<alias>/dirs, PATCH /channels/<alias>/files and PUT ...?mode=: what
    `sshpoolctl put -r` and `get -r` are made of, one file at a time."""
    (workdir / "app" / "lib").mkdir(parents=True)
    (workdir / "app" / "lib" / "x.py").write_text("x = 1\n")
    (workdir / "app" / "run").write_text("#!/bin/sh\n")
    (workdir / "app" / "run").chmod(0o750)
    (workdir / "app" / "self").symlink_to(".")
    chown_tree(workdir, workdir.owner())
    listed = await client.get("/channels/web/dirs", params={"path": str(workdir / "app")})
    assert listed.status_code == 200, listed.text
    entries = {e["path"]: e for e in listed.json()["entries"]}
    assert list(entries) == ["", "lib", "lib/x.py", "run", "self"]  # the root first, then in order
    assert entries["run"] == {"path": "run", "type": "file", "mode": 0o750, "size": 10}
    assert entries["self"]["type"] == "other" and "back into the tree" in entries["self"]["note"]
    top = await client.get("/channels/web/dirs", params={"path": str(workdir / "app"), "depth": "0"})
    assert [e["path"] for e in top.json()["entries"]] == [""]
    made = await client.put("/channels/web/dirs", params={"path": str(workdir / "new"), "mode": "0750"})
    assert made.json() == {"path": str(workdir / "new"), "created": True}
    assert stat.S_IMODE((workdir / "new").stat().st_mode) == 0o750  # exactly: no umask
    again = await client.put("/channels/web/dirs", params={"path": str(workdir / "new"), "mode": "700"})
    assert again.json()["created"] is False and stat.S_IMODE((workdir / "new").stat().st_mode) == 0o750
    up = await client.put(
        "/channels/web/files", params={"path": str(workdir / "new" / "t"), "mode": "640"}, content=b"t"
    )
    assert up.status_code == 200 and stat.S_IMODE((workdir / "new" / "t").stat().st_mode) == 0o640
    chmod = await client.patch("/channels/web/files", params={"path": str(workdir / "new"), "mode": "555"})
    assert chmod.json() == {"path": str(workdir / "new"), "mode": 0o555}
    assert stat.S_IMODE((workdir / "new").stat().st_mode) == 0o555
    (workdir / "new").chmod(0o755)
    missing = await client.get("/channels/web/dirs", params={"path": str(workdir / "nope")})
    assert missing.status_code == 404 and missing.json()["code"] == "file_not_found"
    orphan = await client.put("/channels/web/dirs", params={"path": str(workdir / "no" / "such")})
    assert orphan.status_code == 404 and orphan.json()["code"] == "file_not_found"
    bad_mode = await client.put("/channels/web/dirs", params={"path": str(workdir / "m"), "mode": "rwx"})
    assert bad_mode.status_code == 400 and "octal" in bad_mode.json()["detail"]
    no_mode = await client.patch("/channels/web/files", params={"path": str(workdir / "new")})
    assert no_mode.status_code == 400 and "'mode' is required" in no_mode.json()["detail"]
    bad_depth = await client.get("/channels/web/dirs", params={"path": str(workdir), "depth": "-1"})
    assert bad_depth.status_code == 400 and "depth" in bad_depth.json()["detail"]


async def test_a_file_over_the_limit_is_refused_with_413_and_leaves_nothing(
    client: httpx.AsyncClient, workdir: Path
) -> None:
    target = workdir / "big.bin"
    declared = await client.put("/channels/web/files", params={"path": str(target)}, content=b"x" * (FILE_LIMIT + 1))
    assert declared.status_code == 413 and "--file-limit" in declared.json()["detail"]

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(13):
            yield b"y" * (1024 * 1024)

    streamed = await client.put("/channels/web/files", params={"path": str(target)}, content=chunks())
    assert streamed.status_code == 413 and streamed.json()["code"] == "too_large"
    assert not target.exists() and leftovers(workdir) == []
    # a command body is still held to --body-limit
    assert (await client.post("/channels/web", content="echo " + "z" * 5000)).status_code == 413


async def test_a_command_can_have_a_terminal_and_binary_stdin(client: httpx.AsyncClient) -> None:
    plain = (await client.post("/channels/web", json={"command": "tty"})).json()
    assert plain["exit_code"] == 1 and "not a tty" in plain["stdout"]
    with_pty = (await client.post("/channels/web", json={"command": "tty", "pty": True})).json()
    assert with_pty["exit_code"] == 0 and with_pty["stdout"].startswith("/dev/pts/")
    blob = bytes(range(256)) * 4
    sent = {"command": "cat", "input_b64": base64.b64encode(blob).decode(), "raw": True}
    echoed = (await client.post("/channels/web", json=sent)).json()
    assert base64.b64decode(echoed["stdout_b64"]) == blob and echoed["stdout_total"] == len(blob)


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"input": "a", "input_b64": "YQ=="}, "not both"),
        ({"input_b64": "not base64!"}, "not valid base64"),
        ({"input_b64": 3}, "'input_b64' must be"),
        ({"pty": "yes"}, "'pty' must be true or false"),
    ],
)
async def test_bad_pty_and_input_b64_fields_are_400(
    client: httpx.AsyncClient, fields: dict[str, Any], says: str
) -> None:
    r = await client.post("/channels/web", json={"command": "cat", **fields})
    assert r.status_code == 400 and says in r.json()["detail"]
