"""The OpenAPI description of a channel: its info, and the bodies that start it (``POST
/channels``) and change it (``PATCH /channels/<alias>``), beside :mod:`sshpool.daemon.apidoc`."""

from __future__ import annotations

from typing import Any, Final

from sshpool.core.channel import STATES
from sshpool.defaults import MODES

__all__ = ["CHANNEL_KINDS", "INFO", "TAGS_FIELD", "channel_body"]

_STR_OR_NULL: Final = {"type": ["string", "null"]}
_TAG: Final = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"}

INFO: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["user", "pass", "host", "port", "is_alive", "start_time", "state"],
    "properties": {
        "user": {"type": "string"},
        "pass": {"type": ["string", "null"], "enum": ["****", None], "description": "never the password"},
        "host": {"type": "string"},
        "port": {"type": "integer"},
        "is_alive": {"type": "boolean", "description": "the SSH connection is up now"},
        "start_time": {"type": "number"},
        "state": {"type": "string", "enum": list(STATES)},
        "last_error": _STR_OR_NULL,
        "last_error_code": _STR_OR_NULL,
        "connected_since": {"type": ["number", "null"]},
        "commands_run": {"type": "integer"},
        "connections": {"type": "integer"},
        "running": {"type": "integer"},
        "queued": {"type": "integer"},
        "dsn": {"type": "string"},
        "mode": {"type": "string", "enum": list(MODES), "description": "how commands run by default"},
        "host_key": {
            "type": ["string", "null"],
            "description": "`<type> SHA256:<fingerprint>` of the key the host presents on the open link, "
            "else of the key it offered at the last refused attempt; null before any",
        },
        "tags": {
            "type": "array",
            "items": {"type": "string"},
            "description": "the groups the channel belongs to (`?tags=web,prod` in its DSN); `@web` selects them",
        },
    },
}

#: The ``tags`` field of a start or a change.
TAGS_FIELD: Final[dict[str, Any]] = {
    "type": "array",
    "items": _TAG,
    "example": ["web", "prod"],
    "description": "tags, added to the DSN's own `?tags` (each once, compared case-insensitively): 1-64 "
    "letters, digits, '_', '.' or '-', starting with a letter or digit; a bad one is a 400 naming it",
}

#: The body kinds described here: ``dsn`` starts a channel, ``patch`` changes one.
CHANNEL_KINDS: Final = ("dsn", "patch")

_DSN_PROPS: Final[dict[str, Any]] = {
    "dsn": {"type": "string", "minLength": 1, "example": "web1://deploy@127.0.0.1:22?tags=web,prod"},
    "wait": {
        "type": ["number", "null"],
        "minimum": 0,
        "maximum": 10_000_000,
        "description": "seconds to wait for the first connect",
    },
    "tags": TAGS_FIELD,
}
_TAGS_ALONE: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["tags"],
    "properties": {
        "tags": {
            **TAGS_FIELD,
            "description": "alone in the body: the channel's tags from now on, in place of its own (`[]` clears "
            "them); only the tags change: no reconnect, the links and start_time stay",
        }
    },
    "additionalProperties": False,
}


def channel_body(kind: str) -> dict[str, Any]:
    """The request body of a start (``dsn``) or a change (``patch``): JSON, a form or raw text
    holding the DSN; a change may send ``{"tags": [...]}`` alone instead."""
    with_dsn: dict[str, Any] = {
        "type": "object",
        "required": ["dsn"],
        "properties": _DSN_PROPS,
        "additionalProperties": False,
    }
    schema = {"oneOf": [with_dsn, _TAGS_ALONE]} if kind == "patch" else with_dsn
    content = {
        "application/json": {"schema": schema},
        "application/x-www-form-urlencoded": {
            "schema": {"type": "object", "required": ["dsn"], "properties": {"dsn": {"type": "string", "minLength": 1}}}
        },
        "text/plain": {"schema": {"type": "string", "minLength": 1}},
    }
    return {"requestBody": {"required": True, "content": content}}
