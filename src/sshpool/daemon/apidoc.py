"""The OpenAPI description of the REST API and the /docs page.

Endpoints read their bodies by hand (one rule for JSON, form and raw text), so FastAPI cannot
infer the schemas: they are written here, and a property-based run (schemathesis) checks that the
answers agree with them.
"""

from __future__ import annotations

import re
from typing import Any, Final

from sshpool.daemon.channeldoc import CHANNEL_KINDS, INFO, channel_body
from sshpool.daemon.filedoc import PATH_KINDS, TREE, path_params
from sshpool.daemon.importdoc import IMPORT_BODY, IMPORT_OPERATION, IMPORT_RESPONSES
from sshpool.daemon.rundoc import ROLLOUT_PROPS, fanout_answer
from sshpool.daemon.terminaldoc import AUDIT_PARAMS, AUDIT_RESPONSES, TICKET_BODY, TICKET_RESPONSES
from sshpool.defaults import MODES

__all__ = ["RESPONSES", "TAGS", "body_doc", "summary_of", "tag_of"]

#: The groups of /docs, in order, each with the operations it holds.
TAGS: Final[list[dict[str, Any]]] = [
    {
        "name": "channels",
        "description": "Start, list, change, stop and import channels; trust a host's key.",
        "x-operations": ["listChannels", "startChannel", "getChannel", "updateChannel", "stopChannel", "acceptHostKey"]  # noqa: RUF005
        + [IMPORT_OPERATION, "channelAudit"],
    },
    {
        "name": "runs",
        "description": "Run a command on a channel, or on many at once; JSON or live NDJSON output.",
        "x-operations": ["runCommand", "fanOut"],
    },
    {
        "name": "files",
        "description": "Copy a file to or from a channel's host, streamed; list and make directories, set modes.",
        "x-operations": ["putFile", "getFile", "chmodFile", "listDir", "makeDir"],
    },
    {
        "name": "terminals",
        "description": "A one-time ticket that opens an interactive terminal on a channel "
        "(WS /channels/<alias>/terminal?ticket=...; see the README's Terminals).",
        "x-operations": ["issueTicket"],
    },
    {"name": "health", "description": "Liveness and readiness; no token.", "x-operations": ["healthz", "readyz"]},
    {"name": "metrics", "description": "Prometheus metrics.", "x-operations": ["metrics"]},
]


def tag_of(operation_id: str) -> str:
    """The /docs group of an operation; KeyError for one that no group holds."""
    for tag in TAGS:
        if operation_id in tag["x-operations"]:
            return str(tag["name"])
    raise KeyError(f"operation {operation_id!r} is in no group of apidoc.TAGS: add it to one")


def summary_of(doc: str | None, fallback: str) -> str:
    """An endpoint's summary: the first sentence of its docstring, however many lines it spans
    (the rest of the docstring is the description)."""
    paragraph = " ".join((doc or "").strip().split("\n\n")[0].split())
    match = re.match(r"(.+?[.!?])(?:\s|$)", paragraph)
    return (match.group(1) if match else paragraph) or fallback


_SECONDS: Final = {"type": "number", "exclusiveMinimum": 0, "maximum": 10_000_000}
_NO_LIMIT: Final = {"type": "string", "enum": ["none", "off"]}
_TIMEOUT_DOC: Final = (
    'seconds the command may run; "none" (or "off"): no limit; null or absent: the daemon\'s --command-timeout'
)
_STR_OR_NULL: Final = {"type": ["string", "null"]}
_SELECTOR_DOC: Final = (
    "the channels to run on: terms, any of which selects, each an alias (`web1`), a glob (`db*`, `*`), "
    "`@tag` (the channels carrying it) or `@tag1+tag2` (those carrying both); the channels come in the "
    "order the terms name them (a glob's or a tag's in alias order), once each. A glob or tag that "
    "matches nothing is a 404 naming it, a term of no such form a 400"
)

RESULT: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["exit_code", "timed_out", "truncated", "duration"],
    "properties": {
        "stdout": {"type": "string"},
        "stderr": {"type": "string"},
        "exit_code": {"type": ["integer", "null"]},
        "signal": _STR_OR_NULL,
        "timed_out": {"type": "boolean"},
        "truncated": {"type": "boolean"},
        "stdout_total": {"type": "integer"},
        "stderr_total": {"type": "integer"},
        "duration": {"type": "number"},
        "error": {"type": "string", "description": "a code: timeout, link_lost, channel_stopped, skipped, ..."},
        "exception": {"type": "string"},
        "stdout_b64": {"type": "string", "contentEncoding": "base64"},
        "stderr_b64": {"type": "string", "contentEncoding": "base64"},
    },
}

PROBLEM: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "alias": {"type": "string"},
        "fingerprint": {"type": "string"},
    },
}

_TEXT: Final = {"text/plain": {"schema": {"type": "string"}}}
_EMPTY: Final = {"text/plain": {"schema": {"type": "string", "maxLength": 0}}}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description + " (plain text; RFC 9457 problem+json when Accept asks for JSON)",
        "content": {**_TEXT, "application/problem+json": {"schema": PROBLEM}},
    }


def _json(description: str, schema: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}, **more}}


_COMMON: Final[dict[int | str, dict[str, Any]]] = {
    400: _error("bad request: the body or a field is wrong (never 422)"),
    401: _error("missing or wrong token"),
    413: _error("body over --body-limit"),
}
_LOCATION: Final = {"Location": {"description": "the channel's URL", "schema": {"type": "string"}}}
_ALIAS_FROM_LOCATION: Final = {"alias": "$response.header.Location#regex:/channels/(.+)"}
_LINKS: Final = {
    name: {"operationId": op, "parameters": _ALIAS_FROM_LOCATION}
    for name, op in (
        ("GetChannel", "getChannel"),
        ("RunCommand", "runCommand"),
        ("UpdateChannel", "updateChannel"),
        ("StopChannel", "stopChannel"),
    )
}
_NDJSON: Final = {"application/x-ndjson": {"schema": {"type": "string"}}}
_FRAMES: Final = {
    "application/x-sshpool-frames": {
        "schema": {
            "type": "string",
            "format": "binary",
            "description": (
                "Output frames (Accept: application/x-sshpool-frames): each a type byte, a 4-byte big-endian "
                "payload length, the payload. `1` a stdout chunk, `2` a stderr chunk (raw bytes), then once, "
                "last, `=` the outcome: a UTF-8 JSON object, the NDJSON stream's last line."
            ),
        }
    }
}

RESPONSES: Final[dict[str, dict[int | str, dict[str, Any]]]] = {
    "list": {
        200: _json("every channel by alias", {"type": "object", "additionalProperties": INFO}),
        **_COMMON,
    },
    "info": {200: _json("the channel", INFO), 404: _error("unknown alias"), **_COMMON},
    "import": IMPORT_RESPONSES,
    "ticket": TICKET_RESPONSES,
    "audit": AUDIT_RESPONSES,
    "start": {
        200: {
            "description": "connected: `OK` (a PATCH of tags alone: `OK` once they are in place)",
            "content": _TEXT,
            "headers": _LOCATION,
            "links": _LINKS,
        },
        202: {
            "description": "kept and retrying: `added; not connected: <reason>; retrying`",
            "content": _TEXT,
            "headers": _LOCATION,
            "links": _LINKS,
        },
        403: _error("host outside --allow-hosts"),
        404: _error("unknown alias (PATCH)"),
        409: _error("alias already in use"),
        503: _error("shutting down"),
        **_COMMON,
    },
    "run": {
        200: _json("the result, also for a non-zero exit code", RESULT, **_NDJSON, **_FRAMES),
        404: _error("unknown alias"),
        503: _error("channel unavailable or shutting down; see Retry-After"),
        **_COMMON,
    },
    "stop": {200: {"description": "`OK`", "content": _TEXT}, 404: _error("unknown alias"), **_COMMON},
    "hostkey": {
        200: _json(
            "the key now trusted",
            {"type": "object", "properties": {"alias": {"type": "string"}, "fingerprint": {"type": "string"}}},
        ),
        404: _error("unknown alias"),
        503: _error("the host key could not be read"),
        **_COMMON,
    },
    "fanout": {
        200: _json("result per alias, or the groups (group)", fanout_answer(RESULT), **_NDJSON),
        404: _error("no channel matches a glob or tag term"),
        503: _error("shutting down"),
        **_COMMON,
    },
    "put": {
        200: _json(
            "the file is in place",
            {"type": "object", "properties": {"path": {"type": "string"}, "size": {"type": "integer"}}},
        ),
        403: _error("permission denied on the host"),
        404: _error("unknown alias, or no such directory"),
        413: _error("file over --file-limit"),
        503: _error("channel unavailable or shutting down"),
        **{k: v for k, v in _COMMON.items() if k != 413},
    },
    "get": {
        200: {"description": "the file's bytes", "content": {"application/octet-stream": {"schema": {}}}},
        403: _error("permission denied on the host"),
        404: _error("unknown alias, or no such file"),
        503: _error("channel unavailable or shutting down"),
        **_COMMON,
    },
    "listdir": {
        200: _json("the tree at the path, its root first (a file: itself alone)", TREE),
        403: _error("permission denied on the host"),
        404: _error("unknown alias, or nothing at the path"),
        503: _error("channel unavailable or shutting down"),
        **_COMMON,
    },
    "mkdir": {
        200: _json(
            "the path is a directory",
            {
                "type": "object",
                "required": ["path", "created"],
                "properties": {
                    "path": {"type": "string"},
                    "created": {"type": "boolean", "description": "false: it was one already (left as it was)"},
                },
            },
        ),
        403: _error("permission denied on the host"),
        404: _error("unknown alias, or no such parent directory"),
        503: _error("channel unavailable or shutting down"),
        **_COMMON,
    },
    "chmod": {
        200: _json(
            "the mode is set",
            {"type": "object", "properties": {"path": {"type": "string"}, "mode": {"type": "integer"}}},
        ),
        403: _error("permission denied on the host"),
        404: _error("unknown alias, or no such file"),
        503: _error("channel unavailable or shutting down"),
        **_COMMON,
    },
    "health": {200: {"description": "the process is up (no body, no token)", "content": _EMPTY}},
    "ready": {
        200: {"description": "ready (no body, no token)", "content": _EMPTY},
        503: {"description": "starting or draining", "content": _EMPTY},
    },
    "metrics": {200: {"description": "Prometheus text format", "content": _TEXT}, 401: _error("missing token")},
}


def body_doc(kind: str) -> dict[str, Any]:
    """The request body of each POST/PATCH, in its three encodings; a file's path parameter and
    raw body."""
    if kind in PATH_KINDS:
        return path_params(kind)
    if kind == "import":
        return IMPORT_BODY
    if kind == "ticket":
        return TICKET_BODY
    if kind == "audit":
        return AUDIT_PARAMS
    if kind in CHANNEL_KINDS:
        return channel_body(kind)
    key = "command"
    if kind == "command":
        props = _command_props()
    else:
        props = {
            **_command_props(),
            "channels": {
                "oneOf": [
                    {"type": "string", "minLength": 1, "description": "* or a comma-separated list of terms"},
                    {"type": "array", "items": {"type": "string"}, "minItems": 1},
                ],
                "description": _SELECTOR_DOC,
            },
            **ROLLOUT_PROPS,
        }
    content: dict[str, Any] = {
        "application/json": {
            "schema": {
                "type": "object",
                "required": [key, "channels"] if kind == "fanout" else [key],
                "properties": props,
                "additionalProperties": False,
            }
        }
    }
    if kind != "fanout":
        content["application/x-www-form-urlencoded"] = {
            "schema": {"type": "object", "required": [key], "properties": {key: {"type": "string", "minLength": 1}}}
        }
        content["text/plain"] = {"schema": {"type": "string", "minLength": 1}}
    if kind == "command":
        content["application/octet-stream"] = {
            "schema": {
                "type": "string",
                "format": "binary",
                "description": "the command's stdin, streamed as it arrives (any size); the command and its "
                "options go in the query string",
            }
        }
        return {"requestBody": {"required": True, "content": content}, "parameters": _streamed_params()}
    return {"requestBody": {"required": True, "content": content}}


def _streamed_params() -> list[dict[str, Any]]:
    """The query string of the streamed-stdin form (``Content-Type: application/octet-stream``)."""
    only = " (with an application/octet-stream body only)"
    props = _command_props()
    params: list[dict[str, Any]] = [
        {"name": "command", "in": "query", "description": "the command" + only, "schema": props["command"]},
        {
            "name": "timeout",
            "in": "query",
            "description": "seconds, or none for no limit; absent: the daemon's --command-timeout" + only,
            "schema": {"anyOf": [_SECONDS, _NO_LIMIT]},
        },
        {
            "name": "env",
            "in": "query",
            "description": "NAME=VALUE, repeatable" + only,
            "schema": {"type": "array", "items": {"type": "string", "pattern": "^[^=]+=.*$"}},
            "style": "form",
            "explode": True,
        },
    ]
    for name in ("raw", "pty"):
        params.append(
            {
                "name": name,
                "in": "query",
                "description": props[name]["description"] + only,
                "schema": {"type": "boolean"},
            }
        )
    params.append(
        {
            "name": "mode",
            "in": "query",
            "description": props["mode"]["description"] + only,
            "schema": {"type": "string", "enum": list(MODES)},
        }
    )
    return params


def _command_props() -> dict[str, Any]:
    return {
        "command": {"type": "string", "minLength": 1, "example": "uptime"},
        "timeout": {
            "anyOf": [_SECONDS, _NO_LIMIT, {"type": "null"}],
            "description": _TIMEOUT_DOC,
        },
        "input": {"type": ["string", "null"]},
        "env": {"type": ["object", "null"], "additionalProperties": {"type": "string"}},
        "input_b64": {"type": ["string", "null"], "contentEncoding": "base64", "description": "binary stdin"},
        "raw": {"type": "boolean", "description": "add stdout_b64 / stderr_b64, byte-exact"},
        "pty": {"type": "boolean", "description": "allocate a terminal (requiretty sudo, tools that want one)"},
        "mode": {
            "type": ["string", "null"],
            "enum": [*MODES, None],
            "description": "exec: a session per command; shell: a warm shell (default: the channel's mode)",
        },
    }
