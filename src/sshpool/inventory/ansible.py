"""The ``ansible`` source: the JSON that ``ansible-inventory --list`` prints.

Its shape: ``_meta.hostvars`` (variables by host) and one object per group with ``hosts`` and
``children`` (group names). A host's tags are the groups that hold it and all their parents, but
not ``all`` and ``ungrouped``, which every host is in. Where it connects: ``ansible_host``,
``ansible_port``, ``ansible_user`` (or their older ``ansible_ssh_*`` names), else the inventory
name. A password (``ansible_password``, ``ansible_ssh_pass``) is taken only when asked for, and
never appears in an answer or a refusal.
"""

from __future__ import annotations

import json
from typing import Any

from sshpool.errors import DSNError, RequestError
from sshpool.inventory.plan import Found, dsn_for, tag_for

__all__ = ["read"]

_SSH_CONNECTIONS = frozenset({"ssh", "smart", "paramiko", "paramiko_ssh"})
_EVERYONE = frozenset({"all", "ungrouped"})
_HINT = "give the JSON that `ansible-inventory -i INVENTORY --list` prints"


def read(inventory: object, *, with_passwords: bool = False) -> Found:
    """The hosts of ``inventory`` (the parsed JSON, or its text); RequestError naming what is wrong."""
    doc = _document(inventory)
    hostvars = _hostvars(doc)
    groups = {name: _group(name, spec) for name, spec in doc.items() if name != "_meta"}
    if not groups and not hostvars:
        raise RequestError(f"the ansible inventory has no groups and no _meta.hostvars; {_HINT}")
    parents: dict[str, set[str]] = {}
    holders: dict[str, set[str]] = {name: set() for name in hostvars}
    for name, (hosts, children) in groups.items():
        for child in children:
            parents.setdefault(child, set()).add(name)
        for host in hosts:
            holders.setdefault(host, set()).add(name)
    found = Found()
    for host, direct in holders.items():
        tags = sorted({t for g in _with_parents(direct, parents) if (t := tag_for(g))}, key=str.casefold)
        _add(found, host, hostvars.get(host, {}), tags, with_passwords)
    return found


def _document(inventory: object) -> dict[str, Any]:
    if isinstance(inventory, str):
        try:
            inventory = json.loads(inventory)
        except (ValueError, RecursionError) as exc:
            raise RequestError(f"the ansible inventory is not JSON ({exc}); {_HINT}") from None
    if not isinstance(inventory, dict):
        raise RequestError(f"the ansible inventory must be a JSON object, not {_kind(inventory)}; {_HINT}")
    return inventory


def _kind(value: object) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")


def _hostvars(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    meta = doc.get("_meta", {})
    hostvars = meta.get("hostvars", {}) if isinstance(meta, dict) else None
    if not isinstance(hostvars, dict):
        raise RequestError(f"_meta.hostvars of the ansible inventory must be an object of hosts; {_HINT}")
    for host, variables in hostvars.items():
        if not isinstance(variables, dict):
            raise RequestError(f"_meta.hostvars[{host!r}] must be an object of variables, not {_kind(variables)}")
    return hostvars


def _group(name: str, spec: object) -> tuple[list[str], list[str]]:
    if not isinstance(spec, dict):
        raise RequestError(f"group {name!r} of the ansible inventory must be an object, not {_kind(spec)}; {_HINT}")
    lists = []
    for key in ("hosts", "children"):
        items = spec.get(key, [])
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise RequestError(f"group {name!r}: {key!r} must be a list of names; {_HINT}")
        lists.append(items)
    return lists[0], lists[1]


def _with_parents(groups: set[str], parents: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(groups)
    while todo:
        group = todo.pop()
        if group not in seen:
            seen.add(group)
            todo += parents.get(group, ())
    return seen - _EVERYONE


def _first(variables: dict[str, Any], *names: str) -> Any:
    return next((variables[n] for n in names if variables.get(n) is not None), None)


def _add(found: Found, name: str, variables: dict[str, Any], tags: list[str], with_passwords: bool) -> None:
    connection = variables.get("ansible_connection")
    if connection is not None and connection not in _SSH_CONNECTIONS:
        found.skip(name, f"ansible_connection is {connection!r}, not ssh")
        return
    host = _first(variables, "ansible_host", "ansible_ssh_host") or name
    user = _first(variables, "ansible_user", "ansible_ssh_user", "ansible_remote_user")
    port = _first(variables, "ansible_port", "ansible_ssh_port")
    password = _first(variables, "ansible_password", "ansible_ssh_pass", "ansible_ssh_password")
    for label, value in (("ansible_host", host), ("ansible_user", user), ("ansible_port", port)):
        if isinstance(value, str) and "{{" in value:
            found.skip(name, f"{label} is a template ({value!r}); --list does not render it: give a plain value")
            return
        if value is not None and (not isinstance(value, (str, int)) or isinstance(value, bool)):
            found.skip(name, f"{label} must be text or a number, not {_kind(value)}")
            return
    if isinstance(port, str) and not port.isdigit():
        found.skip(name, f"ansible_port {port!r} is not a number")
        return
    if with_passwords and password is not None and (not isinstance(password, str) or "{{" in password):
        found.skip(name, "its password is not plain text (a template or a vault value): give it plainly or not at all")
        return
    try:
        dsn = dsn_for(
            name,
            str(host),
            user=None if user is None else str(user),
            port=None if port is None else int(port),
            password=password if with_passwords else None,
            tags=tags,
        )
    except DSNError as exc:
        found.skip(name, str(exc))
        return
    found.add(dsn)
