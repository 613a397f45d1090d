"""The channel endpoints (start, info, update, stop, host key), the file endpoints, and the
operational pages: health, readiness, metrics and the local /docs."""

from __future__ import annotations

import asyncio
import contextlib
import json
from importlib import resources
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from sshpool.daemon.allowlist import check_allowed
from sshpool.daemon.answers import json_answer
from sshpool.daemon.bodies import number, read_body
from sshpool.daemon.dirs import change_mode, list_tree, make_directory
from sshpool.daemon.docspage import DOCS_HTML
from sshpool.daemon.endpoints import Endpoints, client_key
from sshpool.daemon.imports import check_servable
from sshpool.daemon.metrics import CONTENT_TYPE as METRICS_TYPE
from sshpool.daemon.terminaldoc import AUDIT_LIMIT
from sshpool.daemon.transfer import download, upload
from sshpool.defaults import UNSET
from sshpool.dsn import DSN, unique_tags
from sshpool.errors import AliasInUseError, DSNError, RequestError, UnknownAliasError

__all__ = ["ChannelEndpoints"]

_STATIC_TYPES = {".js": "application/javascript", ".css": "text/css", ".png": "image/png"}


class ChannelEndpoints(Endpoints):
    """Everything but running commands."""

    async def list_channels(self) -> Response:
        """Status of every channel."""
        return JSONResponse({alias: info.to_dict() for alias, info in self.pool.status().items()})

    async def get_channel(self, alias: str) -> Response:
        """Status of one channel."""
        return JSONResponse(self.pool.get(alias).info().to_dict())

    async def start_channel(self, request: Request) -> Response:
        """Start a channel from a DSN."""
        self.refuse_while_draining()
        body = await read_body(request, "dsn", ("wait", "tags"))
        wait = number(body.fields, "wait")
        dsn = check_servable(_tagged(DSN.parse(body.text), body.fields))
        if dsn.alias in self.pool:
            existing = self.pool.get(dsn.alias)
            if existing.dsn.to_text(reveal_password=True) == dsn.to_text(reveal_password=True):
                # The same DSN again (a script that starts what it needs, a retried request):
                # nothing changes, and the answer is the one a first start would give now.
                info = existing.info()
                return _started(dsn.alias, info.state, info.last_error)
            raise AliasInUseError(
                f"alias {existing.alias!r} is already in use by {existing.dsn.to_text()}, not {dsn.to_text()}; "
                "PATCH /channels/<alias> (sshpoolctl update) changes its DSN, or stop it first, "
                "or pick another alias",
                alias=dsn.alias,
            )
        await check_allowed(dsn, self.state.allow_networks, self.state.settings)
        info = await self.pool.start(dsn, wait=UNSET if "wait" not in body.fields else wait)
        await self.persist(dsn)
        self.audit(request, "start", alias=dsn.alias, dsn=dsn.to_text(), state=info.state)
        return _started(dsn.alias, info.state, info.last_error)

    async def update_channel(self, request: Request, alias: str) -> Response:
        """Replace a channel's DSN (new password, port...) keeping its start_time; ``{"tags":
        [...]}`` alone changes only its tags, on the links it has."""
        self.refuse_while_draining()
        channel = self.pool.get(alias)
        tags = await _tags_alone(request)
        if tags is not None:
            channel = self.pool.retag(channel.alias, tags)
            await self.persist(channel.dsn)
            self.audit(request, "tags", alias=channel.alias, tags=list(channel.dsn.tags))
            # The tags are in place whatever the link's state: a down channel's retry is not news here.
            return PlainTextResponse("OK", headers={"Location": f"/channels/{channel.alias}"})
        body = await read_body(request, "dsn", ("wait", "tags"))
        wait = number(body.fields, "wait")
        dsn = _tagged(DSN.parse(body.text), body.fields)
        if dsn.key != channel.dsn.key:
            raise RequestError(f"the DSN's alias {dsn.alias!r} differs from {alias!r}: PATCH cannot rename a channel")
        await check_allowed(dsn, self.state.allow_networks, self.state.settings)
        info = await self.pool.update(alias, dsn, wait=UNSET if "wait" not in body.fields else wait)
        await self.persist(dsn)
        self.audit(request, "update", alias=dsn.alias, dsn=dsn.to_text(), state=info.state)
        return _started(dsn.alias, info.state, info.last_error)

    async def stop_channel(self, request: Request, alias: str) -> Response:
        """Stop a channel and forget it."""
        channel = self.pool.get(alias)
        if self.state.store is not None:
            await asyncio.to_thread(self.state.store.delete, channel.alias)
        with contextlib.suppress(UnknownAliasError):
            await self.pool.stop(channel.alias)
        self.audit(request, "stop", alias=channel.alias)
        return PlainTextResponse("OK")

    async def accept_host_key(self, request: Request, alias: str) -> Response:
        """Trust the host key the channel's host offers now."""
        channel = self.pool.get(alias)
        fingerprint = await self.pool.accept_host_key(channel.alias)
        self.audit(request, "hostkey", alias=channel.alias, fingerprint=fingerprint)
        return JSONResponse({"alias": channel.alias, "fingerprint": fingerprint})

    async def put_file(self, request: Request, alias: str) -> Response:
        """Upload a file to the channel's host (the body, streamed; --file-limit). A shutdown
        waits for it as for a command (--drain-timeout)."""
        self.refuse_while_draining()
        channel = self.pool.get(alias)
        with self.draining_waits():
            answer, fields = await upload(channel, request, self.state.settings.file_limit, client_key(request))
        self.audit(request, "put", alias=channel.alias, **fields)
        return answer

    async def get_file(self, request: Request, alias: str) -> Response:
        """Download a file from the channel's host (streamed). A shutdown waits for it (up to
        --drain-timeout) as for an upload: the request's task ends when the last byte is sent."""
        self.refuse_while_draining()
        channel = self.pool.get(alias)
        task = asyncio.current_task()
        if task is not None:
            self.state.in_flight.add(task)
            task.add_done_callback(self.state.in_flight.discard)
        answer, fields = await download(channel, request, self.state.settings.file_limit, client_key(request))
        self.audit(request, "get", alias=channel.alias, **fields)
        return answer

    async def list_dir(self, request: Request, alias: str) -> Response:
        """List the tree at a path on the channel's host (JSON; ``depth`` levels at most)."""
        self.refuse_while_draining()
        channel = self.pool.get(alias)
        answer, fields = await list_tree(channel, request, client_key(request))
        self.audit(request, "list", alias=channel.alias, **fields)
        return answer

    async def make_dir(self, request: Request, alias: str) -> Response:
        """Make a directory on the channel's host, unless there is one (``mode``)."""
        self.refuse_while_draining()
        channel = self.pool.get(alias)
        with self.draining_waits():
            answer, fields = await make_directory(channel, request, client_key(request))
        self.audit(request, "mkdir", alias=channel.alias, **fields)
        return answer

    async def chmod_file(self, request: Request, alias: str) -> Response:
        """Set the mode of a file or directory on the channel's host."""
        self.refuse_while_draining()
        channel = self.pool.get(alias)
        with self.draining_waits():
            answer, fields = await change_mode(channel, request, client_key(request))
        self.audit(request, "chmod", alias=channel.alias, **fields)
        return answer

    async def healthz(self) -> Response:
        """The process is up."""
        return PlainTextResponse("")

    async def readyz(self) -> Response:
        """Ready: state loaded, listening, not draining."""
        return PlainTextResponse("", status_code=200 if self.state.ready and not self.state.draining else 503)

    async def metrics_page(self) -> Response:
        """Prometheus metrics."""
        return Response(self.metrics.render(), media_type=METRICS_TYPE)

    async def channel_audit(self, request: Request, alias: str) -> Response:
        """Recent audit lines about a channel, oldest first: who ran what, when, and how it ended."""
        channel = self.pool.get(alias)
        given = request.query_params.get("limit", "20")
        if not given.isdigit() or not 1 <= int(given) <= AUDIT_LIMIT:
            raise RequestError(f"limit must be a whole number from 1 to {AUDIT_LIMIT}, not {given!r}")
        audit = self.state.audit
        lines = await asyncio.to_thread(audit.recent, channel.alias, int(given)) if audit is not None else []
        return await json_answer({"alias": channel.alias, "lines": lines})

    async def docs(self) -> Response:
        return Response(DOCS_HTML, media_type="text/html")

    async def ui(self) -> Response:
        page = (resources.files("sshpool.daemon") / "static" / "ui.html").read_bytes()
        return Response(page, media_type="text/html", headers={"Cache-Control": "no-cache"})

    async def static(self, name: str) -> Response:
        kind = next((t for ext, t in _STATIC_TYPES.items() if name.endswith(ext)), None)
        try:
            data = (
                (resources.files("sshpool.daemon") / "static" / name).read_bytes() if kind and "/" not in name else None
            )
        except (FileNotFoundError, IsADirectoryError):
            data = None
        if data is None:
            return PlainTextResponse("NOT FOUND", status_code=404)
        return Response(data, media_type=kind, headers={"Cache-Control": "public, max-age=86400"})


def _tag_field(value: Any) -> tuple[str, ...]:
    """The ``tags`` field: a list of tag names, each checked (a bad one is a 400 naming it)."""
    try:
        return unique_tags(value)
    except DSNError as exc:
        raise RequestError(f"field 'tags': {exc}") from None


def _tagged(dsn: DSN, fields: dict[str, Any]) -> DSN:
    """The DSN with the body's ``tags`` added to its own ``?tags``, once each."""
    if "tags" not in fields:
        return dsn
    return dsn.with_(tags=unique_tags([*dsn.tags, *_tag_field(fields["tags"])]))


async def _tags_alone(request: Request) -> tuple[str, ...] | None:
    """The tags of a PATCH whose JSON body is ``{"tags": [...]}`` and nothing else; None for any
    other body (a DSN to put in place, read by the one rule of :func:`read_body`)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not (ctype == "application/json" or (ctype.startswith("application/") and ctype.endswith("+json"))):
        return None
    try:
        doc = json.loads(await request.body())
    except (ValueError, RecursionError):
        return None  # read_body says why
    if not isinstance(doc, dict) or "tags" not in doc or "dsn" in doc:
        return None
    if set(doc) != {"tags"}:
        extra = sorted(set(doc) - {"tags"})[0]
        raise RequestError(f'unknown field {extra!r} beside \'tags\'; send {{"tags": [...]}} alone or with a "dsn"')
    return _tag_field(doc["tags"])


def _started(alias: str, state: str, why: str | None) -> Response:
    where = {"Location": f"/channels/{alias}"}
    if state == "up":
        return PlainTextResponse("OK", headers=where)
    return PlainTextResponse(f"added; not connected: {why or state}; retrying", status_code=202, headers=where)
