"""The OpenAPI description of ``POST /tickets``, beside :mod:`sshpool.daemon.apidoc` (the
terminal's WebSocket is not an OpenAPI operation: the README describes it)."""

from __future__ import annotations

from typing import Any, Final

from sshpool.daemon.importdoc import error_doc

__all__ = ["TICKET_BODY", "TICKET_RESPONSES"]

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
