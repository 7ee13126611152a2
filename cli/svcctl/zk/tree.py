"""Pure tree rendering for znode hierarchies (no I/O): `zk tree`, scenarios and reports share it."""

from __future__ import annotations

import json
from typing import Any

BRANCH = "├── "
LAST = "└── "
PIPE = "│   "
SPACE = "    "


def join_path(parent: str, child: str) -> str:
    return ("" if parent == "/" else parent.rstrip("/")) + "/" + child


def base_name(path: str) -> str:
    return "/" if path == "/" else path.rstrip("/").rsplit("/", 1)[-1]


def render_tree(root: str, children: dict[str, list[str]], labels: dict[str, str] | None = None) -> str:
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


def payload_summary(data: bytes | str | None, max_len: int = 80) -> str:
    """A one-line summary of a znode's data: a registration shows `Name container port→port`,
    other JSON shows compact JSON, text shows itself; all cut to `max_len`."""
    if data is None:
        return ""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    if not text.strip():
        return ""
    try:
        value: Any = json.loads(text)
    except ValueError:
        return _cut(" ".join(text.split()), max_len)
    if isinstance(value, dict) and "Name" in value and "PublicPort" in value:
        return _cut(registration_summary(value), max_len)
    return _cut(json.dumps(value, separators=(",", ":"), sort_keys=True), max_len)


def registration_summary(payload: dict) -> str:
    ours = payload.get("svcctl") if isinstance(payload.get("svcctl"), dict) else {}
    container = ours.get("container_name") or (payload.get("ContainerID") or "?")
    proto = ours.get("protocol") or "tcp"
    return (
        f"[{payload.get('Name')} {container} "
        f"{payload.get('PublicPort')}->{payload.get('PrivatePort')}/{proto}]"
    )


def _cut(text: str, max_len: int) -> str:
    return text if len(text) <= max_len else text[: max_len - 1] + "…"
