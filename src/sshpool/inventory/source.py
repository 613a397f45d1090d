"""Which source an import reads, with its options: from a request body's fields or from
``sshpoold --import SOURCE``, one rule for both, and the reading itself.

``--import`` spellings: ``ssh-config`` (the daemon user's ~/.ssh/config), ``ssh-config:PATH``,
``ansible:FILE`` (the JSON of ``ansible-inventory --list``), ``digitalocean`` or
``digitalocean:TAG``. A start never takes an inventory's passwords: ``with_passwords`` is the
API's (``sshpoolctl import ansible FILE --with-passwords``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sshpool.errors import RequestError
from sshpool.inventory import ansible, droplets, sshconfig
from sshpool.inventory.plan import Found

__all__ = ["FIELDS", "SOURCES", "ImportSpec", "from_fields", "from_flag", "read_source"]

SOURCES = ("ssh-config", "ansible", "digitalocean")
#: The fields of POST /channels/import, and the source each belongs to (None: any).
FIELDS: dict[str, str | None] = {
    "from": None,
    "path": "ssh-config",
    "inventory": "ansible",
    "tag": "digitalocean",
    "replace": None,
    "with_passwords": "ansible",
}
FLAG_FORMS = "ssh-config, ssh-config:PATH, ansible:FILE, digitalocean or digitalocean:TAG"


@dataclass(frozen=True)
class ImportSpec:
    """One import: the source, its option (a path, an inventory, a tag), and what to do."""

    source: str
    path: str | None = None
    inventory: Any = None
    tag: str | None = None
    replace: bool = False
    with_passwords: bool = False

    def describe(self) -> str:
        """The source as a log or audit line names it (never the inventory itself)."""
        option = self.path or self.tag
        return f"{self.source}:{option}" if option else self.source


def from_fields(doc: dict[str, Any], *, under: Path | None = None) -> ImportSpec:
    """The spec a request body asks for; RequestError naming the field. ``under``: a ``path``
    must be a file there (the API may read the daemon user's ~/.ssh, nothing else)."""
    source = doc.get("from")
    if source not in SOURCES:
        raise RequestError(f"field 'from' must be one of {', '.join(map(repr, SOURCES))}; got {source!r}")
    for name in doc:
        if name not in FIELDS:
            raise RequestError(f"unknown field {name!r}; known fields: {', '.join(FIELDS)}")
        if FIELDS[name] not in (None, source) and doc[name] is not None:
            raise RequestError(f'field {name!r} goes with "from": {FIELDS[name]!r}, not {source!r}')
    flags = {}
    for name in ("replace", "with_passwords"):
        flags[name] = doc.get(name, False)
        if not isinstance(flags[name], bool):
            raise RequestError(f"field {name!r} must be true or false")
    path, tag = doc.get("path"), doc.get("tag")
    for name, value in (("path", path), ("tag", tag)):
        if value is not None and (not isinstance(value, str) or not value):
            raise RequestError(f"field {name!r} must be a non-empty string, or null")
    if path is not None and under is not None:
        path = str(_inside(Path(path).expanduser(), under))
    if source == "ansible" and doc.get("inventory") is None:
        raise RequestError('"from": "ansible" needs "inventory": the JSON of `ansible-inventory --list`')
    return ImportSpec(source, path, doc.get("inventory"), tag, flags["replace"], flags["with_passwords"])


def _inside(path: Path, under: Path) -> Path:
    full = (under / path).resolve() if not path.is_absolute() else path.resolve()
    if not full.is_relative_to(under.resolve()):
        raise RequestError(f"field 'path' must name a file under {under} (the daemon user's ~/.ssh); got {path}")
    return full


def from_flag(text: str, *, replace: bool = False) -> ImportSpec:
    """``--import SOURCE``; an ansible FILE is read here. RequestError (or OSError) naming what is wrong."""
    source, colon, option = text.partition(":")
    if source not in SOURCES:
        raise RequestError(f"unknown import source {text!r}: use {FLAG_FORMS}")
    if colon and not option:
        raise RequestError(f"--import {text!r}: nothing after ':'; use {FLAG_FORMS}")
    if source == "ssh-config":
        return ImportSpec(source, path=option or None, replace=replace)
    if source == "digitalocean":
        return ImportSpec(source, tag=option or None, replace=replace)
    if not option:
        raise RequestError("--import ansible needs a file: ansible:FILE, FILE holding `ansible-inventory --list`")
    text = Path(option).expanduser().read_text(encoding="utf-8")
    # The path is only the source's name here; passwords are never taken at start (the API asks).
    return ImportSpec(source, path=option, inventory=text, replace=replace)


def read_source(spec: ImportSpec) -> Found:
    """What the source holds (blocking: files, or the DigitalOcean API)."""
    if spec.source == "ssh-config":
        return sshconfig.read(spec.path)
    if spec.source == "ansible":
        return ansible.read(spec.inventory, with_passwords=spec.with_passwords)
    return droplets.read(spec.tag)
