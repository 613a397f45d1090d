"""The OpenAPI description of the file endpoints' query parameters and of a tree listing
(``/channels/<alias>/files`` and ``/dirs``), beside :mod:`sshpool.daemon.apidoc`."""

from __future__ import annotations

from typing import Any, Final

__all__ = ["ENTRY", "PATH_KINDS", "TREE", "path_params"]

ENTRY: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["path", "type", "mode", "size"],
    "properties": {
        "path": {"type": "string", "description": "relative to the listed path, '/' between names; '': the path"},
        "type": {"type": "string", "enum": ["file", "dir", "other"]},
        "mode": {"type": "integer", "minimum": 0, "maximum": 0o7777, "description": "permission bits"},
        "size": {"type": "integer", "minimum": 0},
        "note": {"type": "string", "description": "why an 'other' is not copied (a socket, a broken link, a loop)"},
    },
}
TREE: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["path", "entries"],
    "properties": {"path": {"type": "string"}, "entries": {"type": "array", "items": ENTRY}},
}

#: The kinds of path-addressed endpoints, and what their ``path`` names.
PATH_KINDS: Final = {
    "path": "the remote file",
    "file": "the remote file",
    "chmod": "the remote file or directory",
    "listdir": "the remote directory (or file) to list, links followed",
    "mkdir": "the directory to make (its parent must exist)",
}
_MODES: Final = {
    "file": "permission bits for the file, in octal (default: those of the file it replaces, else the host's)",
    "mkdir": "permission bits of a directory made here, in octal, exactly (default: the host's)",
    "chmod": "permission bits, in octal",
}


def path_params(kind: str) -> dict[str, Any]:
    """The query parameters (and a file's raw body) of a path-addressed endpoint."""
    params: list[dict[str, Any]] = [
        {
            "name": "path",
            "in": "query",
            "required": True,
            "description": PATH_KINDS[kind] + "; relative paths start at the login directory",
            "schema": {"type": "string", "minLength": 1},
        }
    ]
    if kind in _MODES:
        schema = {"type": "string", "pattern": "^[0-7]{1,4}$", "example": "755"}
        params.append(
            {"name": "mode", "in": "query", "required": kind == "chmod", "description": _MODES[kind], "schema": schema}
        )
    if kind == "listdir":
        about = "levels below the path to list at most (0: the path alone); default all"
        depth = {"type": "integer", "minimum": 0, "maximum": 1_000_000}
        params.append({"name": "depth", "in": "query", "description": about, "schema": depth})
    doc: dict[str, Any] = {"parameters": params}
    if kind == "file":
        octets = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
        doc["requestBody"] = {"required": True, "content": octets}
    return doc
