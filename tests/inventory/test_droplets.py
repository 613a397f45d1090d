"""The digitalocean source against the loopback fake API: a tag filter asked of the API and checked
again, droplet tags made tags, a droplet with no public address skipped, a failed call refused."""

from __future__ import annotations

import pytest

from sshpool.errors import RequestError
from sshpool.inventory import droplets
from tests.support.library import FakeAPI, droplet


def test_droplets_by_tag_with_their_tags_and_the_ones_without_an_address_skipped() -> None:
    api = FakeAPI([droplet(1, "a b") | {"tags": ["web", "k8s:pool"]}, droplet(2, "c") | {"tags": ["db"]}])
    try:
        found = droplets.read("web", token="t", endpoint=api.url)
        assert [d.to_text() for d in found.dsns] == ["a-b://root@127.0.0.1?tags=web,k8s-pool"]
        assert api.requests[0][1]["tag_name"] == ["web"]
    finally:
        api.close()


def test_no_token_and_an_api_that_is_not_there_are_refusals() -> None:
    with pytest.raises(RequestError, match="no DigitalOcean API token"):
        droplets.read(token="", endpoint="http://127.0.0.1:9")
    with pytest.raises(RequestError, match="the DigitalOcean API call failed"):
        droplets.read(token="t", endpoint="http://127.0.0.1:9")
