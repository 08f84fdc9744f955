"""Keeping maps over months (an operator's review): encodings a localizer caches into a map are
readable by other users and leave nothing behind when writing them fails."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from mast3r_ros.core import keyframes as kfm
from mast3r_ros.core.keyframes import KeyframeMap

from test_keyframes import _encodings, _keyframes


@pytest.fixture
def map_path(tmp_path):
    return kfm.write_map(str(tmp_path / "map"), _keyframes())


def _walk(root):
    return sorted(os.path.relpath(os.path.join(dp, n), root)
                  for dp, ds, fs in os.walk(root) for n in ds + fs)


def test_cached_encodings_are_readable_by_other_users(map_path):
    """The store folder a localizer added was mkdtemp's 0700: the node running as another user
    (or a copy kept with its modes) could not read the map's encodings."""
    old = os.umask(0o022)
    try:
        assert KeyframeMap.load(map_path).save_encodings(_encodings("ckptA"))
    finally:
        os.umask(old)
    store = KeyframeMap.load(map_path).encoding_store("ckptA", 224).folder
    assert stat.S_IMODE(os.stat(store).st_mode) == 0o755


def test_encodings_that_fail_to_be_written_leave_no_store_behind(map_path, monkeypatch):
    """A full disk while a localizer cached encodings left a half-written store folder in
    MAP/encodings that no manifest lists: never used, never removed, on a disk already full."""
    from mast3r_ros.core.keyframes import encodings as enc_mod

    before = _walk(map_path)

    def full_disk(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(enc_mod.RetrievalIndex, "save", full_disk)
    with pytest.raises(OSError, match="No space"):
        KeyframeMap.load(map_path).save_encodings(_encodings("ckptA"))
    assert [p for p in _walk(map_path) if p != "encodings"] == before  # (an empty one is fine)
    assert KeyframeMap.load(map_path).encoding_keys() == []
