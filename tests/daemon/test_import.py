"""POST /channels/import and ``sshpoold --import`` against a real daemon and the fleet's sshd:
every imported channel lands where its inventory says (for ssh_config: where ``ssh -G`` says) and
runs a command there; the same import twice changes nothing; a changed alias is replaced only
when asked; passwords are taken only when asked and never shown; bad input is a 400."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.daemon import BIN, Daemon, clean_env, daemon_running, free_port, start_daemon
from tests.support.fleet import Fleet
from tests.support.library import FakeAPI, droplet

pytestmark = pytest.mark.timeout(180)

SECRET = "s3cret-Pass-9"


@pytest.fixture
def daemon(tmp_path: Path, fleet: Fleet, ssh_home: Any) -> Iterator[Daemon]:
    yield from daemon_running(tmp_path)


def ssh_g(config: Path, name: str) -> dict[str, str]:
    """What OpenSSH itself resolves ``name`` to through ``config``: hostname, port, user."""
    out = subprocess.run(["ssh", "-G", "-F", str(config), name], capture_output=True, text=True, check=True).stdout
    options = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
    return {k: options[k] for k in ("hostname", "port", "user")}


def fleet_config(home: Path, fleet: Fleet) -> Path:
    """~/.ssh/config with 8 Host lines (wildcards, a negation, an Include, a Match): 6 concrete names."""
    conf_d = home / ".ssh" / "conf.d"
    conf_d.mkdir(exist_ok=True)
    (conf_d / "more.conf").write_text(
        "Host delta\n    HostName 127.0.0.5\n"
        "Host epsilon zeta\n    HostName 127.0.0.6\n    # sshpool-tags: db\n"
        "Host web_?\n    HostName 127.0.0.13\n"
    )
    config = home / ".ssh" / "config"
    config.write_text(
        f"Include {conf_d}/*.conf\n"  # first: an Include inside a Host block is read only where it matches
        "Match host gamma\n    HostName 127.0.0.4\n"
        "Host alpha\n    HostName 127.0.0.2\n    # sshpool-tags: web,prod\n"
        "Host beta gamma\n    HostName 127.0.0.3\n"
        "Host *.corp db?\n    User nobody\n"
        "Host !bastion\n    Port 1\n"
        f"Host *\n    User {fleet.user.name}\n    Port {fleet.server.port}\n"
    )
    return config


@pytest.fixture
def ssh_config(ssh_home: Any, fleet: Fleet) -> Iterator[Path]:
    config = fleet_config(ssh_home.path, fleet)
    yield config
    shutil.rmtree(ssh_home.path / ".ssh" / "conf.d", ignore_errors=True)


def aliases(entries: list[dict[str, Any]]) -> list[str]:
    return sorted(e["alias"] for e in entries)


def test_an_ssh_config_of_8_hosts_imports_its_6_concrete_names_each_where_ssh_G_says(
    daemon: Daemon, ssh_config: Path, fleet: Fleet
) -> None:
    r = daemon.post("/channels/import", json={"from": "ssh-config"})
    assert r.status_code == 200, r.text
    answer = r.json()
    names = ["alpha", "beta", "delta", "epsilon", "gamma", "zeta"]
    assert aliases(answer["added"]) == names and answer["kept"] == answer["changed"] == []
    skipped = {e["host"]: e["reason"] for e in answer["skipped"]}
    assert set(skipped) == {"*.corp", "db?", "!bastion", "*", "web_?", "Match host gamma"}
    assert "wildcard" in skipped["db?"] and "negated" in skipped["!bastion"] and "Match" in skipped["Match host gamma"]
    for name in names:
        info = daemon.wait_state(name)
        where = ssh_g(ssh_config, name)
        landed = fleet.where(daemon.run(name, "echo $SSH_CONNECTION")["stdout"])
        assert (landed, str(info["port"]), info["user"]) == (where["hostname"], where["port"], where["user"])
    assert ssh_g(ssh_config, "gamma")["hostname"] == "127.0.0.4"  # the Match applied, on both sides
    tags = {a: daemon.get(f"/channels/{a}").json()["tags"] for a in names}
    assert tags == {"alpha": ["web", "prod"], "beta": [], "gamma": [], "delta": [], "epsilon": ["db"], "zeta": ["db"]}

    again = daemon.post("/channels/import", json={"from": "ssh-config"}).json()
    assert again["added"] == again["changed"] == [] and aliases(again["kept"]) == names
    assert len(daemon.get("/channels").json()) == 6


def inventory(fleet: Fleet, web1: str = "127.0.0.2") -> dict[str, Any]:
    """Groups web and db under prod, an ungrouped host that is not SSH, and db1 with a password."""
    common = {"ansible_port": fleet.server.port, "ansible_user": fleet.user.name}
    return {
        "_meta": {
            "hostvars": {
                "web1": {"ansible_host": web1, **common},
                "web2": {"ansible_ssh_host": "127.0.0.8", **common},
                "db1": {"ansible_host": "127.0.0.10", "ansible_password": SECRET, **common},
                "lonely": {"ansible_connection": "local"},
            }
        },
        "all": {"children": ["ungrouped", "prod"]},
        "prod": {"children": ["web", "db"]},
        "web": {"hosts": ["web1", "web2"]},
        "db": {"hosts": ["db1"]},
        "ungrouped": {"hosts": ["lonely"]},
    }


def test_an_ansible_inventory_imports_its_groups_and_parents_as_tags_and_a_password_only_when_asked(
    daemon: Daemon, fleet: Fleet
) -> None:
    r = daemon.post("/channels/import", json={"from": "ansible", "inventory": inventory(fleet)})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert aliases(answer["added"]) == ["db1", "web1", "web2"]
    assert answer["skipped"] == [{"host": "lonely", "reason": "ansible_connection is 'local', not ssh"}]
    channels = daemon.get("/channels").json()
    assert {a: c["tags"] for a, c in channels.items()} == {
        "db1": ["db", "prod"],
        "web1": ["prod", "web"],
        "web2": ["prod", "web"],
    }
    assert channels["db1"]["pass"] is None
    for alias, address in (("web1", "127.0.0.2"), ("web2", "127.0.0.8")):
        daemon.wait_state(alias)
        assert fleet.where(daemon.run(alias, "echo $SSH_CONNECTION")["stdout"]) == address

    asked = {"from": "ansible", "inventory": json.dumps(inventory(fleet)), "with_passwords": True}
    r = daemon.post("/channels/import", json=asked)
    assert [(c["alias"], c["replaced"]) for c in r.json()["changed"]] == [("db1", False)]
    r = daemon.post("/channels/import", json={**asked, "replace": True})
    assert [(c["alias"], c["replaced"]) for c in r.json()["changed"]] == [("db1", True)]
    assert r.json()["changed"][0]["dsn"] == f"db1://{fleet.user.name}:****@127.0.0.10:{fleet.server.port}?tags=db,prod"
    assert daemon.get("/channels/db1").json()["pass"] == "****"
    assert aliases(daemon.post("/channels/import", json=asked).json()["kept"]) == ["db1", "web1", "web2"]
    for text in (r.text, daemon.log_text(), (daemon.state_dir / "audit.log").read_text()):
        assert SECRET not in text


def test_the_import_path_is_its_own_resource_and_no_channel_may_take_its_name(daemon: Daemon, fleet: Fleet) -> None:
    for method in ("GET", "OPTIONS", "DELETE", "PATCH", "PUT"):
        r = daemon.request(method, "/channels/import", headers={"Accept": "application/json"})
        assert (r.status_code, r.headers["Allow"]) == (405, "POST"), (method, r.text)
        assert r.json()["code"] == "method_not_allowed", r.text
    r = daemon.post("/channels", content=fleet.dsn("Import", "127.0.0.2"), headers={"Accept": "application/json"})
    said = r.json()["detail"]
    assert r.status_code == 400 and "alias 'Import' is reserved" in said and "pick another alias" in said, said
    hostvars = {"import": {"ansible_host": "127.0.0.2"}, "web1": {"ansible_host": "127.0.0.3"}}
    body = {"from": "ansible", "inventory": {"_meta": {"hostvars": hostvars}, "all": {"hosts": ["import", "web1"]}}}
    r = daemon.post("/channels/import", json=body)
    assert r.status_code == 200, r.text
    assert aliases(r.json()["added"]) == ["web1"], r.text
    assert [e["alias"] for e in r.json()["skipped"]] == ["import"]
    assert "import" not in daemon.get("/channels").json()


def test_a_changed_alias_is_reported_and_replaced_only_with_replace(daemon: Daemon, fleet: Fleet) -> None:
    assert daemon.post("/channels", content=fleet.dsn("web1", "127.0.0.9")).status_code in (200, 202)
    body = {"from": "ansible", "inventory": inventory(fleet)}
    changed = daemon.post("/channels/import", json=body).json()["changed"]
    assert [(c["alias"], c["replaced"]) for c in changed] == [("web1", False)]
    assert changed[0]["was"] == fleet.dsn("web1", "127.0.0.9")
    daemon.wait_state("web1")
    assert fleet.where(daemon.run("web1", "echo $SSH_CONNECTION")["stdout"]) == "127.0.0.9"
    replaced = daemon.post("/channels/import", json={**body, "replace": True}).json()["changed"]
    assert [(c["alias"], c["replaced"]) for c in replaced] == [("web1", True)]
    daemon.wait_state("web1")
    assert fleet.where(daemon.run("web1", "echo $SSH_CONNECTION")["stdout"]) == "127.0.0.2"
    assert daemon.stop() == 0
    restarted = daemon.restart()
    try:
        assert restarted.get("/channels/web1").json()["dsn"].startswith(f"web1://{fleet.user.name}:None@127.0.0.2:")
    finally:
        restarted.stop()


def test_digitalocean_droplets_import_through_the_loopback_api_with_their_tags(tmp_path: Path, ssh_home: Any) -> None:
    web = droplet(11, "web-1") | {"tags": ["web", "k8s:worker"]}
    api = FakeAPI([web, droplet(12, "db-1") | {"tags": ["db"]}, droplet(13, "new", public=None) | {"tags": ["web"]}])
    env = {"DIGITALOCEAN_TOKEN": "dop_v1_import", "DIGITALOCEAN_API_URL": api.url}
    d = start_daemon(tmp_path, env=env)
    try:
        answer = d.post("/channels/import", json={"from": "digitalocean", "tag": "web"}).json()
        assert answer["added"] == [{"alias": "web-1", "dsn": "web-1://root@127.0.0.1?tags=web,k8s-worker"}]
        assert answer["skipped"] == [{"host": "new", "reason": "droplet 13 has no public IPv4 address yet"}]
        assert {q["tag_name"][0] for _, q, _ in api.requests} == {"web"}
        assert {auth for _, _, auth in api.requests} == {"Bearer dop_v1_import"}
        every = d.post("/channels/import", json={"from": "digitalocean"}).json()
        assert aliases(every["added"]) == ["db-1"] and aliases(every["kept"]) == ["web-1"]
        assert "dop_v1_import" not in d.log_text() + (d.state_dir / "audit.log").read_text()
    finally:
        d.stop()
        api.close()


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"from": "nagios"}), "field 'from' must be one of"),
        (json.dumps({"from": "ansible", "inventory": "hosts: [web1]"}), "the ansible inventory is not JSON"),
        (json.dumps({"from": "ansible", "inventory": []}), "must be a JSON object, not an array"),
        (json.dumps({"from": "ansible", "inventory": {"web": {"hosts": "web1"}}}), "'hosts' must be a list"),
        (json.dumps({"from": "ansible"}), 'needs "inventory"'),
        (json.dumps({"from": "ssh-config", "tag": "x"}), "field 'tag' goes with"),
        (json.dumps({"from": "ssh-config", "path": "/etc/passwd"}), "under"),
        (json.dumps({"from": "ssh-config", "replace": "yes"}), "'replace' must be true or false"),
        (json.dumps({"from": "digitalocean"}), "no DigitalOcean API token"),
    ],
)
def test_bad_input_is_a_400_naming_what_is_wrong(daemon: Daemon, body: str, said: str) -> None:
    r = daemon.post("/channels/import", content=body, headers={"Accept": "application/json"})
    assert r.status_code == 400 and said in r.json()["detail"], r.text
    assert daemon.get("/channels").json() == {}


def test_an_inventory_of_10000_hosts_imports_in_one_request_without_a_server_error(
    tmp_path: Path, ssh_home: Any
) -> None:
    """Every host is a loopback port that never accepts (its queue full, a connect waits), so the
    channels are added and keep trying, as any would, and nothing leaves the machine."""
    silent = socket.create_server(("127.0.0.1", 0), backlog=0)
    port = silent.getsockname()[1]
    hosts = {f"node{i:05d}": {"ansible_host": "127.0.0.1", "ansible_port": port} for i in range(10_000)}
    body = {"from": "ansible", "inventory": {"_meta": {"hostvars": hosts}, "all": {"hosts": sorted(hosts)}}}
    d = start_daemon(tmp_path, "--connect-timeout", "30", "--allow-hosts", "127.0.0.0/8", test_args=False)
    try:
        r = d.post("/channels/import", json=body, timeout=170)
        assert r.status_code == 200, r.text[:500]
        assert len(r.json()["added"]) == 10_000
        assert len(d.get("/channels").json()) == 10_000
        too_big = d.post("/channels/import", content=b"{" + b" " * (65 * 1024 * 1024) + b"}")
        assert too_big.status_code == 413 and "import it in parts" in too_big.text
    finally:
        d.stop(timeout=60)
        silent.close()


def test_sshpoold_import_at_start_adds_the_ssh_config_hosts_and_a_bad_source_exits_1(
    tmp_path: Path, ssh_config: Path, fleet: Fleet
) -> None:
    d = start_daemon(tmp_path, "--import", "ssh-config")
    try:
        assert sorted(d.get("/channels").json()) == ["alpha", "beta", "delta", "epsilon", "gamma", "zeta"]
        d.wait_state("delta")
    finally:
        d.stop()
    again = d.restart()
    try:
        assert len(again.get("/channels").json()) == 6
        assert "6 kept" in again.log_text()
    finally:
        again.stop()
    for source, said in (("nagios", "unknown import source 'nagios'"), ("ansible:/nowhere.json", "/nowhere.json")):
        port = str(free_port())
        args = [str(BIN), "--port", port, "--state-dir", str(tmp_path / "bad"), "--import", source]
        run = subprocess.run(args, capture_output=True, text=True, env=clean_env(), timeout=30, check=False)
        assert run.returncode == 1 and said in run.stderr, run.stderr
