"""Channel DSNs: ``alias://user:pass@host:port``, parsed by hand.

``urlsplit`` cannot be used: ``_`` is not a URL-scheme character, so ``my_box://host`` would not
be split at all, and passwords may contain every reserved character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from urllib.parse import quote, unquote

from sshpool.defaults import MODES
from sshpool.errors import DSNError

__all__ = ["ALIAS_RE", "DSN", "alias_for", "check_alias", "check_tag", "make_dsn", "unique_tags"]

ALIAS_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")
_FORM = "expected alias://[user[:password]@]host[:port][?mode=shell][&tags=a,b], e.g. web1://deploy@10.0.0.5:22"
_TAG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_HOST_RE = re.compile(r"^[A-Za-z0-9_.%-]+$")
#: URL schemes a user may type where the alias goes (``ssh://u@host``); refused, with the form.
_SCHEMES = frozenset({"ssh", "sftp", "scp"})


def _has_control(text: str) -> bool:
    return any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in text)


def check_alias(alias: str) -> str:
    """Return ``alias`` unchanged when it is valid, else raise DSNError saying what is allowed."""
    if not ALIAS_RE.match(alias):
        raise DSNError(
            f"invalid alias {alias!r}: use 1-64 letters, digits, '_', '.', '+' or '-', starting with a letter or digit"
        )
    return alias


def check_tag(tag: str) -> str:
    """Return ``tag`` unchanged when it is valid, else raise DSNError saying what is allowed: the
    alias grammar without '+', which joins tags in a selector (``@web+prod``)."""
    if not isinstance(tag, str):
        raise DSNError(f"a tag must be text, not {type(tag).__name__}")
    if not _TAG_RE.match(tag):
        raise DSNError(
            f"invalid tag {tag!r}: use 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit"
        )
    return tag


def unique_tags(tags: object) -> tuple[str, ...]:
    """``tags`` (an iterable of text) checked, once each (case-insensitively), in the order given."""
    if isinstance(tags, str) or not isinstance(tags, (list, tuple)):
        raise DSNError('tags must be a list of names, e.g. ["web", "prod"]')
    seen: dict[str, str] = {}
    for tag in tags:
        seen.setdefault(check_tag(tag).casefold(), tag)
    return tuple(seen.values())


@dataclass(frozen=True)
class DSN:
    """A parsed channel DSN. ``user`` and ``port`` are None when the text does not state them:
    they are resolved at connect time (ssh_config, then the OS user and 22). ``mode`` is the
    channel's own run mode (``?mode=shell``), None to follow the settings; ``tags`` name the
    groups it belongs to (``?tags=web,prod``: kept as typed, compared case-insensitively);
    other query parameters and any path are ignored."""

    alias: str
    host: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    port: int | None = None
    mode: str | None = None
    tags: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """Aliases are kept as typed but compared case-insensitively."""
        return self.alias.casefold()

    @classmethod
    def parse(cls, text: str, *, scheme_alias: bool = False) -> DSN:
        """``text`` as a DSN, or a DSNError naming the part that is wrong. An alias that reads as a
        URL scheme (``ssh://u@host``) is refused, as the slip it almost always is, unless
        ``scheme_alias`` (text sshpool stored itself, or only read to hide a password)."""
        if not isinstance(text, str):
            raise DSNError(f"a DSN must be text, not {type(text).__name__}; {_FORM}")
        if not text:
            raise DSNError(f"empty DSN; {_FORM}")
        alias, sep, rest = text.partition("://")
        if not sep:
            raise DSNError(f"missing alias: no '://' in the DSN; {_FORM}")
        if not alias:
            raise DSNError(f"missing alias before '://'; {_FORM}")
        if _has_control(alias):
            raise DSNError(f"the alias contains whitespace or control characters; {_FORM}")
        check_alias(alias)
        userinfo, at, hostpart = rest.rpartition("@")
        if not at:
            userinfo, hostpart = "", rest
        mode, tags = _query_options(hostpart)
        for cut in "/?#":
            hostpart = hostpart.split(cut, 1)[0]
        user: str | None = None
        password: str | None = None
        if at:
            if _has_control(userinfo):
                raise DSNError(f"the user or password contains whitespace or control characters; {_FORM}")
            raw_user, colon, raw_pass = userinfo.partition(":")
            user = unquote(raw_user) or None
            password = unquote(raw_pass) if colon and raw_pass else None
        if _has_control(hostpart):
            raise DSNError(f"the host contains whitespace or control characters; {_FORM}")
        host, port = _split_host_port(hostpart)
        dsn = cls(alias=alias, host=host, user=user, password=password, port=port, mode=mode, tags=tags)
        if alias.casefold() in _SCHEMES and not scheme_alias:
            named = dsn.with_(alias=alias_for(host), password=None)
            raise DSNError(
                f"{alias}:// is not a scheme here: a DSN starts with the channel's alias, "
                f"alias://user[:password]@host[:port]; name the channel, e.g. {named}"
            )
        return dsn

    def to_text(self, *, reveal_password: bool = False) -> str:
        """The DSN as text; the password appears only when asked for, percent-encoded."""
        userinfo = ""
        if self.user is not None or self.password is not None:
            userinfo = quote(self.user or "", safe="")
            if self.password is not None:
                userinfo += ":" + (quote(self.password, safe="") if reveal_password else "****")
            userinfo += "@"
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port is not None else ""
        options = [f"mode={self.mode}"] if self.mode is not None else []
        if self.tags:
            options.append("tags=" + ",".join(self.tags))
        query = "?" + "&".join(options) if options else ""
        return f"{self.alias}://{userinfo}{host}{port}{query}"

    def display(self, user: str | None = None, port: int | None = None) -> str:
        """The classic log form ``alias://user:None@host:port`` with resolved user and port;
        ``****`` stands for a password."""
        pw = "****" if self.password else "None"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.alias}://{user or self.user}:{pw}@{host}:{port or self.port or 22}"

    def with_(self, **changes: object) -> DSN:
        return replace(self, **changes)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return self.to_text()


def _query_options(hostpart: str) -> tuple[str | None, tuple[str, ...]]:
    """``mode`` and ``tags`` from the query after the host (``?mode=shell&tags=web,prod``): the
    last ``mode`` wins, as in URLs; every ``tags`` adds its comma-separated names."""
    query = hostpart.partition("?")[2].partition("#")[0]
    mode: str | None = None
    tags: list[str] = []
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        if name == "mode":
            if value not in MODES:
                raise DSNError(f"invalid mode {value!r} in the DSN: use ?mode=exec or ?mode=shell")
            mode = value
        elif name == "tags":
            tags.extend(unquote(t).strip() for t in value.split(",") if t.strip())
    return mode, unique_tags(tags)


def _split_host_port(hostpart: str) -> tuple[str, int | None]:
    if not hostpart:
        raise DSNError(f"missing host; {_FORM}")
    port_text: str | None = None
    if hostpart.startswith("["):
        end = hostpart.find("]")
        if end < 0:
            raise DSNError(f"unclosed '[' in the host {hostpart!r}: write IPv6 as [::1]; {_FORM}")
        host = hostpart[1:end]
        after = hostpart[end + 1 :]
        if after:
            if not after.startswith(":"):
                raise DSNError(f"unexpected {after!r} after the host [{host}]; {_FORM}")
            port_text = after[1:]
        if not host or not all(c in "0123456789abcdefABCDEF:.%" or c.isalnum() for c in host):
            raise DSNError(f"invalid IPv6 host [{host}]; {_FORM}")
    else:
        if hostpart.count(":") > 1:
            raise DSNError(f"IPv6 hosts go in brackets, like [{hostpart}]; {_FORM}")
        host, colon, port_text_ = hostpart.partition(":")
        port_text = port_text_ if colon else None
        if not host:
            raise DSNError(f"missing host; {_FORM}")
        if not _HOST_RE.match(host):
            raise DSNError(f"invalid host {host!r}: use a host name, an IP address or an ssh_config Host; {_FORM}")
    port: int | None = None
    if port_text is not None:
        if not port_text.isascii() or not port_text.isdigit():
            raise DSNError(f"invalid port {port_text!r}: the port must be a number from 1 to 65535")
        port = int(port_text)
        if not 1 <= port <= 65535:
            raise DSNError(f"invalid port {port}: the port must be a number from 1 to 65535")
    return host, port


_NOT_ALIAS = re.compile(r"[^A-Za-z0-9_.+-]+")


def alias_for(name: str, fallback: str = "remote") -> str:
    """An alias made from a host or machine name: characters an alias cannot hold become ``-``."""
    return (_NOT_ALIAS.sub("-", name).strip("-._+") or fallback)[:64]


def make_dsn(target: str, *, user: str | None = None, port: int | None = None, password: str | None = None) -> DSN:
    """A DSN from ``alias://...``, ``[user@]host[:port]`` or a Host alias; explicit keyword
    arguments win over what the text says. Without a DSN the alias is made from the host."""
    if not isinstance(target, str) or not target.strip():
        raise ValueError("connect() needs a target: a DSN (alias://user@host:port), a host or an ssh_config Host")
    if "://" in target:
        dsn = DSN.parse(target)
    else:
        hostpart = target.rpartition("@")[2]
        host = hostpart[1 : hostpart.find("]")] if hostpart.startswith("[") else hostpart.partition(":")[0]
        dsn = DSN.parse(f"{alias_for(host)}://{target}")
    changes: dict[str, object] = {}
    if user is not None:
        changes["user"] = user
    if port is not None:
        changes["port"] = DSN.parse(f"x://h:{port}").port  # validated like a DSN's port
    if password is not None:
        changes["password"] = password
    return dsn.with_(**changes) if changes else dsn
