"""atomic_write: the whole new content or the old one, with the mode from the start."""

from __future__ import annotations

import os
import stat

import pytest

from svcctl.files import atomic_write


def test_atomic_write_replaces_the_file_whole_with_its_mode_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "key.pem"
    path.write_text("old")
    before = os.umask(0)
    try:
        atomic_write(path, b"new key")
    finally:
        os.umask(before)
    assert path.read_bytes() == b"new key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    atomic_write(path, "text", mode=0o644)
    assert path.read_text() == "text" and stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["key.pem"]


def test_a_failed_write_keeps_the_old_content(tmp_path, monkeypatch):
    path = tmp_path / "ca.pem"
    path.write_text("old")

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        atomic_write(path, b"new")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["ca.pem"]
