"""The ``digitalocean`` source: droplets (all, or those with one tag), their tags as tags.

Also the DigitalOcean API client itself, as :mod:`sshpool.digitalocean` uses it: pydo (the
``sshpool[digitalocean]`` extra, imported on first use), the token from ``DIGITALOCEAN_TOKEN``
(else ``DIGITALOCEAN_API_KEY``), the endpoint from ``DIGITALOCEAN_API_URL``, every page read.

A droplet becomes ``name://root@address`` (its first public IPv4; the user is left to ssh_config
when it sets one for the address), its name made an alias as the library makes it. A droplet tag
that is no valid tag (``k8s:worker``) has its other characters made ``-``.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from sshpool.core.target import configured_user
from sshpool.dsn import alias_for
from sshpool.errors import DSNError, RequestError
from sshpool.inventory.plan import Found, dsn_for, tag_for

__all__ = ["DEFAULT_ENDPOINT", "MAX_PAGES", "api_client", "loopback_http", "pages", "public_ipv4", "read"]

DEFAULT_ENDPOINT = "https://api.digitalocean.com"
MAX_PAGES = 1000
_HINT = "pip install 'sshpool[digitalocean]'"


def api_client(
    token: str | None = None, endpoint: str | None = None, **options: Any
) -> tuple[Any, str, dict[str, Any]]:
    """``(pydo.Client, endpoint, options for each call)``. ValueError without a token, ImportError
    without pydo."""
    token = token or os.environ.get("DIGITALOCEAN_TOKEN") or os.environ.get("DIGITALOCEAN_API_KEY")
    if not token:
        raise ValueError("no DigitalOcean API token: pass token=... or set DIGITALOCEAN_TOKEN")
    endpoint = (endpoint or os.environ.get("DIGITALOCEAN_API_URL") or DEFAULT_ENDPOINT).rstrip("/")
    try:
        import pydo
    except ImportError:
        raise ImportError(f"the droplets API needs pydo: {_HINT}") from None
    call_options: dict[str, Any] = {}
    if loopback_http(endpoint):
        # pydo refuses a bearer token over plain http; allowed for a loopback endpoint only.
        call_options["enforce_https"] = False
    return pydo.Client(token=token, endpoint=endpoint, **options), endpoint, call_options


def loopback_http(endpoint: str) -> bool:
    parts = urlsplit(endpoint)
    if parts.scheme != "http":
        return False
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def pages(api: Any, call_options: dict[str, Any], **query: Any) -> Iterator[dict[str, Any]]:
    """Every droplet the query gives, page after page."""
    for page in range(1, MAX_PAGES + 1):
        answer = api.droplets.list(page=page, per_page=200, **query, **call_options)
        items = answer.get("droplets") or []
        yield from items
        following = ((answer.get("links") or {}).get("pages") or {}).get("next")
        if not items or not following:
            return


def public_ipv4(data: dict[str, Any]) -> str | None:
    """A droplet's first public IPv4 address, None while it has none."""
    for net in (data.get("networks") or {}).get("v4") or []:
        if net.get("type") == "public" and net.get("ip_address"):
            return str(net["ip_address"])
    return None


def read(tag: str | None = None, *, token: str | None = None, endpoint: str | None = None) -> Found:
    """The droplets (with ``tag`` only, when given); RequestError when the API cannot be asked."""
    if tag is not None and (not tag or len(tag) > 255 or any(ch.isspace() or ord(ch) < 32 for ch in tag)):
        raise RequestError(f"invalid DigitalOcean tag {tag!r}: give a tag name as the API spells it")
    try:
        api, _, options = api_client(token, endpoint, retry_total=0, timeout=30)
        droplets = list(pages(api, options, **({"tag_name": tag} if tag else {})))
    except (ValueError, ImportError) as exc:
        raise RequestError(f"the daemon cannot ask DigitalOcean: {exc}") from None
    except Exception as exc:  # pydo's own errors (azure-core's HttpResponseError...) and the network's
        raise RequestError(f"the DigitalOcean API call failed: {type(exc).__name__}: {exc}") from None
    found = Found()
    for data in droplets:
        name = str(data.get("name", ""))
        tags = [str(t) for t in data.get("tags") or []]
        if tag is not None and tag not in tags:
            continue  # the API filters by tag already; an answer that did not is filtered here
        address = public_ipv4(data)
        if address is None:
            found.skip(name, f"droplet {data.get('id')} has no public IPv4 address yet")
            continue
        try:
            dsn = dsn_for(
                alias_for(name, "droplet"),
                address,
                user=None if configured_user(address) else "root",
                tags=[t for t in (tag_for(x) for x in tags) if t],
            )
        except DSNError as exc:
            found.skip(name, str(exc))
            continue
        found.add(dsn)
    return found
