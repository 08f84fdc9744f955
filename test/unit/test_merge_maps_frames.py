"""merge-maps on maps written in two map frames ('map' and 'world': built with another
map_frame parameter) said only "are in different frames; only maps in one frame can be
merged", with no way out, and only after hashing both maps' files (minutes for 10^4
keyframes). Now refused from the manifests, before any hashing, naming the map_frame
parameter that set each frame."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.keyframes import KeyframeMap, write_map
from mast3r_ros.replay import map_build
from mast3r_ros.replay.synthetic import default_intrinsics

CAM = default_intrinsics(32, 24)


def _map(path, x, frame):
    m = np.eye(4)
    m[0, 3] = x
    out = write_map(path, [(np.random.default_rng(7).integers(0, 256, (24, 32, 3),
                                                            dtype=np.uint8), CAM, m, 1000, None)])
    man = os.path.join(out, "manifest.json")
    with open(man) as fh:
        doc = json.load(fh)
    doc["map_frame"] = frame
    with open(man, "w") as fh:
        json.dump(doc, fh)
    return out


def test_maps_in_two_frames_are_refused_before_hashing_naming_the_parameter(tmp_path,
                                                                            monkeypatch):
    a, b = _map(str(tmp_path / "a"), 0.0, "map"), _map(str(tmp_path / "b"), 1.0, "world")
    hashed = []
    monkeypatch.setattr(KeyframeMap, "verify_files", lambda self, **k: hashed.append(1))
    with pytest.raises(InputError) as err:
        map_build.merge_maps(a, b, str(tmp_path / "c"))
    text = str(err.value)
    assert "'map'" in text and "'world'" in text and "map_frame" in text, text
    assert "--params" in text, text
    assert not hashed
    assert sorted(os.listdir(tmp_path)) == ["a", "b"]
