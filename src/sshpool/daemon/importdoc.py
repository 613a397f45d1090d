"""The OpenAPI description of ``POST /channels/import`` (its body and its answer), beside
:mod:`sshpool.daemon.apidoc`."""

from __future__ import annotations

from typing import Any, Final

__all__ = ["IMPORT_BODY", "IMPORT_OPERATION", "IMPORT_RESPONSES", "error_doc"]

IMPORT_OPERATION: Final = "importChannels"

_ENTRY: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["alias", "dsn"],
    "properties": {
        "alias": {"type": "string"},
        "dsn": {"type": "string", "description": "the channel's DSN, a password shown as ****"},
    },
}
_CHANGED: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["alias", "dsn", "was", "replaced"],
    "properties": {
        **_ENTRY["properties"],
        "was": {"type": "string", "description": "the DSN the channel has (had, when replaced)"},
        "replaced": {"type": "boolean", "description": 'true with "replace": true; else the channel is left as it is'},
    },
}
_SKIPPED: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["reason"],
    "properties": {
        "alias": {"type": "string", "description": "a valid alias the import left out"},
        "host": {"type": "string", "description": "a host name or pattern of the source that names no channel"},
        "reason": {"type": "string"},
    },
}
_ANSWER: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["added", "kept", "changed", "skipped"],
    "properties": {
        "added": {"type": "array", "items": _ENTRY, "description": "started now"},
        "kept": {"type": "array", "items": _ENTRY, "description": "there already, with the same DSN"},
        "changed": {"type": "array", "items": _CHANGED, "description": "there already, pointing elsewhere"},
        "skipped": {"type": "array", "items": _SKIPPED},
    },
}


def error_doc(description: str) -> dict[str, Any]:
    fields = {"type": "string", "title": "string", "status": "integer", "detail": "string", "code": "string"}
    problem = {"type": "object", "required": list(fields), "properties": {k: {"type": v} for k, v in fields.items()}}
    return {
        "description": description + " (plain text; RFC 9457 problem+json when Accept asks for JSON)",
        "content": {"text/plain": {"schema": {"type": "string"}}, "application/problem+json": {"schema": problem}},
    }


IMPORT_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    200: {"description": "what the import did", "content": {"application/json": {"schema": _ANSWER}}},
    400: error_doc("bad request: not JSON, an unknown source or field, an inventory that is not one, a source unread"),
    401: error_doc("missing or wrong token"),
    413: error_doc("an inventory over 64 MiB"),
    503: error_doc("shutting down"),
}

IMPORT_BODY: Final[dict[str, Any]] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["from"],
                    "additionalProperties": False,
                    "properties": {
                        "from": {"type": "string", "enum": ["ssh-config", "ansible", "digitalocean"]},
                        "path": {
                            "type": ["string", "null"],
                            "minLength": 1,
                            "description": "ssh-config: a file under the daemon user's ~/.ssh (default: its config)",
                        },
                        "inventory": {
                            "type": ["object", "string"],
                            "description": "ansible: the JSON of `ansible-inventory --list`, or its text",
                        },
                        "tag": {
                            "type": ["string", "null"],
                            "minLength": 1,
                            "description": "digitalocean: only the droplets with this tag (token: the daemon's "
                            "DIGITALOCEAN_TOKEN)",
                        },
                        "replace": {"type": "boolean", "description": "replace the channels that point elsewhere"},
                        "with_passwords": {
                            "type": "boolean",
                            "description": "ansible: take ansible_password / ansible_ssh_pass (never echoed)",
                        },
                    },
                    "example": {"from": "ssh-config"},
                }
            }
        },
    }
}
