"""The OpenAPI description of what the web page adds: ``POST /tickets`` and ``GET
/channels/{alias}/audit``, beside :mod:`sshpool.daemon.apidoc` (the terminal's WebSocket is not an
OpenAPI operation: the README describes it)."""

from __future__ import annotations

from typing import Any, Final

from sshpool.daemon.importdoc import error_doc

__all__ = ["AUDIT_LIMIT", "AUDIT_PARAMS", "AUDIT_RESPONSES", "TICKET_BODY", "TICKET_RESPONSES"]

#: The most audit lines one GET /channels/{alias}/audit answers.
AUDIT_LIMIT: Final = 500

_TICKET: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["ticket", "alias", "expires"],
    "properties": {
        "ticket": {"type": "string", "description": "present it once as ?ticket= on WS /channels/<alias>/terminal"},
        "alias": {"type": "string"},
        "expires": {"type": "string", "format": "date-time", "description": "30 seconds from now"},
    },
}

TICKET_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    200: {"description": "a one-time ticket for the alias", "content": {"application/json": {"schema": _TICKET}}},
    400: error_doc('bad request: the body is not {"alias": "<alias>"}'),
    401: error_doc("missing or wrong token"),
    404: error_doc("unknown alias"),
    413: error_doc("body over --body-limit"),
}

TICKET_BODY: Final[dict[str, Any]] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["alias"],
                    "additionalProperties": False,
                    "properties": {"alias": {"type": "string", "minLength": 1}},
                    "example": {"alias": "web1"},
                }
            }
        },
    }
}

AUDIT_PARAMS: Final[dict[str, Any]] = {
    "parameters": [
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "description": f"how many of the latest lines (default 20, at most {AUDIT_LIMIT})",
            "schema": {"type": "integer", "minimum": 1, "maximum": AUDIT_LIMIT},
        }
    ]
}

_AUDIT_LINE: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["time", "event"],
    "properties": {
        "time": {"type": "string", "format": "date-time"},
        "event": {"type": "string", "description": "run, start, update, stop, tags, terminal, ticket..."},
        "alias": {"type": "string"},
        "command": {"type": "string"},
        "exit_code": {"type": ["integer", "null"]},
        "error": {"type": ["string", "null"]},
        "duration": {"type": ["number", "null"]},
        "client": {"type": ["string", "null"]},
        "request_id": {"type": ["string", "null"]},
    },
}

AUDIT_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    200: {
        "description": "the channel's latest audit lines, oldest first (never output, a password or a token)",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["alias", "lines"],
                    "properties": {"alias": {"type": "string"}, "lines": {"type": "array", "items": _AUDIT_LINE}},
                }
            }
        },
    },
    400: error_doc("bad request: limit is not a whole number from 1 to 500"),
    401: error_doc("missing or wrong token"),
    404: error_doc("unknown alias"),
}
