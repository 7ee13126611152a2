"""Tree rendering and payload summaries (pure)."""

from __future__ import annotations

import json

from svcctl.registry.payload import RegistrationPayload
from svcctl.zk.tree import join_path, render_tree


def test_render_nested_tree_sorted_with_connectors():
    children = {
        "/services": ["service_2", "service_1"],
        "/services/service_1": ["127.0.0.1:32791"],
        "/services/service_2": ["127.0.0.1:32797", "127.0.0.1:32796"],
    }
    labels = {"/services/service_1/127.0.0.1:32791": "[service_1 c1 32791->8080/tcp]"}
    assert render_tree("/services", children, labels) == "\n".join(
        [
            "/services",
            "├── service_1",
            "│   └── 127.0.0.1:32791  [service_1 c1 32791->8080/tcp]",
            "└── service_2",
            "    ├── 127.0.0.1:32796",
            "    └── 127.0.0.1:32797",
        ]
    )


def test_render_root_and_leaf():
    assert render_tree("/", {"/": ["a"]}) == "/\n└── a"
    assert render_tree("/x", {}) == "/x"
    assert join_path("/", "a") == "/a" and join_path("/a", "b") == "/a/b"


def test_deep_tree_does_not_recurse():
    children = {}
    path = "/d"
    for i in range(3000):
        children[path] = [f"n{i}"]
        path = f"{path}/n{i}"
    out = render_tree("/d", children)
    assert out.count("\n") == 3000


def test_payload_summary_registration_and_others():
    payload = {
        "Name": "service_1",
        "IP": "127.0.0.1",
        "PublicPort": 32791,
        "PrivatePort": 8080,
        "ContainerID": "abcdef123456",
        "Tags": [],
        "Attrs": {},
        "svcctl": {"container_name": "svcctl-service_1-1", "protocol": "tcp"},
    }
    summary_of = RegistrationPayload.summary_of
    assert summary_of(json.dumps(payload).encode()) == "[service_1 svcctl-service_1-1 32791->8080/tcp]"
    del payload["svcctl"]
    assert summary_of(json.dumps(payload)) == "[service_1 abcdef123456 32791->8080/tcp]"
    assert summary_of(b"") == "" and summary_of(None) == ""
    assert summary_of(b'{"b": 1, "a": 2}') == '{"a":2,"b":1}'
    assert summary_of(b"hello\nworld") == "hello world"
    assert summary_of(b"x" * 200, max_len=10) == "x" * 9 + "…"
