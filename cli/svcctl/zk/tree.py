"""Pure tree rendering for znode hierarchies (no I/O): `zk tree`, scenarios and reports share it."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

from svcctl.zk.znode import decode_json

if TYPE_CHECKING:
    from svcctl.zk.znode import ZnodeSnapshot

BRANCH = "├── "
LAST = "└── "
PIPE = "│   "
SPACE = "    "


def join_path(parent: str, child: str) -> str:
    return ("" if parent == "/" else parent.rstrip("/")) + "/" + child


def base_name(path: str) -> str:
    return "/" if path == "/" else path.rstrip("/").rsplit("/", 1)[-1]


def render_tree(root: str, children: dict[str, Collection[str]], labels: dict[str, str] | None = None) -> str:
    """Draw `root` and its descendants.

    `children` maps a full path to its child *names* (not paths); a path missing from the map is a
    leaf. `labels` maps a full path to a short annotation shown after the name. Children are drawn
    sorted so that the output is stable across runs.
    """
    labels = labels or {}
    lines = [_line(root, root, labels)]

    # Iterative walk: deep trees must not hit the recursion limit.
    stack: list[tuple[str, str, bool]] = []
    for i, name in reversed(list(enumerate(sorted(children.get(root, []))))):
        stack.append((join_path(root, name), "", i == len(children.get(root, [])) - 1))
    while stack:
        path, prefix, is_last = stack.pop()
        lines.append(prefix + (LAST if is_last else BRANCH) + _line(path, base_name(path), labels))
        kids = sorted(children.get(path, []))
        child_prefix = prefix + (SPACE if is_last else PIPE)
        for i, name in reversed(list(enumerate(kids))):
            stack.append((join_path(path, name), child_prefix, i == len(kids) - 1))
    return "\n".join(lines)


def _line(path: str, name: str, labels: dict[str, str]) -> str:
    label = labels.get(path)
    return f"{name}  {label}" if label else name


def node_labels(
    nodes: dict[str, ZnodeSnapshot],
    data: bool = False,
    max_len: int = 80,
    summarize: Callable[[bytes | str | None, int], str] | None = None,
) -> dict[str, str]:
    """Labels for render_tree from walked nodes: summaries that start with `[` (a registration's,
    from RegistrationPayload.summary_of in svcctl.registry.payload) always, other data only with
    `data`; ephemeral nodes say so. `summarize` defaults to data_summary."""
    summarize = summarize or data_summary
    labels: dict[str, str] = {}
    for path, node in nodes.items():
        summary = summarize(node.data, max_len)
        if summary and (data or summary.startswith("[")):
            labels[path] = summary
        if node.ephemeral:
            labels[path] = (labels.get(path, "") + "  (ephemeral)").strip()
    return labels


def data_summary(data: bytes | str | None, max_len: int = 80) -> str:
    """A one-line summary of a znode's data: JSON shows compact JSON, text shows itself; all cut
    to `max_len`."""
    return decoded_summary(*decode_json(data), max_len)


def decoded_summary(text: str, value: Any | None, max_len: int = 80) -> str:
    """data_summary of data decode_json has already read (text, parsed JSON or None)."""
    if not text.strip():
        return ""
    if value is None:
        return cut(" ".join(text.split()), max_len)
    return cut(json.dumps(value, separators=(",", ":"), sort_keys=True), max_len)


def cut(text: str, max_len: int) -> str:
    return text if len(text) <= max_len else text[: max_len - 1] + "…"
