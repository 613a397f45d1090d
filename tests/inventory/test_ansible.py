"""The ansible source on its own: hosts, tags from groups and their parents, what is skipped, and
a password that is taken only when asked and never appears in a refusal."""

from __future__ import annotations

import pytest

from sshpool.errors import RequestError
from sshpool.inventory import ansible

SECRET = "hunter2-not-shown"


def test_children_make_parent_groups_tags_but_all_and_ungrouped_are_not() -> None:
    doc = {
        "_meta": {"hostvars": {"a": {"ansible_host": "10.0.0.1", "ansible_port": "2222", "ansible_user": "ops"}}},
        "all": {"children": ["ungrouped", "eu"]},
        "eu": {"children": ["eu_web"]},
        "eu_web": {"hosts": ["a", "b"]},
        "ungrouped": {"hosts": ["c"]},
    }
    found = ansible.read(doc)
    assert [d.to_text() for d in found.dsns] == [
        "a://ops@10.0.0.1:2222?tags=eu,eu_web",
        "b://b?tags=eu,eu_web",
        "c://c",
    ]


def test_templates_vault_values_and_bad_ports_are_skipped_without_the_password() -> None:
    hostvars = {
        "t": {"ansible_host": "{{ lookup('env', 'IP') }}"},
        "p": {"ansible_port": "ssh"},
        "v": {"ansible_password": {"__ansible_vault": "$ANSIBLE_VAULT;1.1"}},
        "x": {"ansible_port": 70000, "ansible_password": SECRET},
    }
    found = ansible.read({"_meta": {"hostvars": hostvars}}, with_passwords=True)
    reasons = {s.name: s.reason for s in found.skipped}
    assert set(reasons) == {"t", "p", "v", "x"} and found.dsns == []
    assert "template" in reasons["t"] and "not a number" in reasons["p"] and "vault" in reasons["v"]
    assert all(SECRET not in r for r in reasons.values())


def test_the_password_is_taken_only_when_asked() -> None:
    doc = {"_meta": {"hostvars": {"db": {"ansible_ssh_pass": SECRET, "ansible_user": "u"}}}}
    assert ansible.read(doc).dsns[0].password is None
    taken = ansible.read(doc, with_passwords=True).dsns[0]
    assert taken.password == SECRET and SECRET not in taken.to_text()


@pytest.mark.parametrize(
    ("doc", "said"),
    [
        ("{", "not JSON"),
        ("[]", "must be a JSON object, not an array"),
        ({}, "no groups and no _meta.hostvars"),
        ({"_meta": {"hostvars": []}}, "_meta.hostvars"),
        ({"web": ["a"]}, "group 'web' of the ansible inventory must be an object"),
        ({"web": {"children": "db"}}, "'children' must be a list"),
    ],
)
def test_what_is_not_an_inventory_is_a_refusal_naming_the_part(doc: object, said: str) -> None:
    with pytest.raises(RequestError, match=said.replace("(", r"\(")):
        ansible.read(doc)
