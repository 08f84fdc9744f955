"""merge-maps' copy search (`map_merge._unique_keyframes`) decodes a keyframe only where the
PNG files' recorded checksums cannot tell whether two keyframes at one stamp hold the same
pixels: it decoded every keyframe whose stamp another has, image and (for each copy) both
depths, 27 s for 2 x 10^3 shared 512x384 keyframes. Counted through the map's decoder, not
timed."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from mast3r_ros.core.keyframes import KeyframeMap, MapWriter
from mast3r_ros.core.types import CameraIntrinsics

W, H = 64, 48
CAM = CameraIntrinsics(W, H, np.array([[60.0, 0, 32], [0, 60.0, 24], [0, 0, 1]]))


def _frame(i: int):
    rng = np.random.default_rng(i)
    rgb = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    depth = (rng.uniform(1.0, 3.0, (H, W)) * 1000).astype(np.uint16)
    pose = np.eye(4)
    pose[0, 3] = 0.1 * i
    return rgb, depth, pose


def _png(a: np.ndarray, level: int = 3) -> bytes:
    ok, buf = cv2.imencode(".png", a, [cv2.IMWRITE_PNG_COMPRESSION, level])
    assert ok
    return buf.tobytes()


def _map(path, idx, level: int = 3) -> str:
    with MapWriter(str(path)) as w:
        for i in idx:
            rgb, depth, pose = _frame(i)
            w.add_keyframe_png(_png(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), level), CAM, pose,
                               i * 10 ** 8, _png(depth), 1000.0)
        return w.commit()


@pytest.fixture
def decodes(monkeypatch):
    """Counts of `KeyframeMap._decode` calls by kind ('image', 'depth')."""
    counts = {"image": 0, "depth": 0}
    real = KeyframeMap._decode

    def counting(self, rel, kf=None):
        counts["depth" if rel.endswith("_depth.png") else "image"] += 1
        return real(self, rel, kf)

    monkeypatch.setattr(KeyframeMap, "_decode", counting)
    return counts


def test_copies_with_the_same_files_are_found_without_decoding(tmp_path, decodes, caplog):
    from mast3r_ros.replay import map_merge

    a, b = _map(tmp_path / "a", range(0, 12)), _map(tmp_path / "b", range(4, 16))
    maps = [KeyframeMap.load(a), KeyframeMap.load(b)]
    with caplog.at_level("INFO"):
        keep = map_merge._unique_keyframes(maps, (a, b), keep_duplicates=False)
    assert keep[0].all() and keep[1].tolist() == [False] * 8 + [True] * 4
    assert "8 keyframe(s)" in caplog.text
    assert decodes == {"image": 0, "depth": 0}  # was 16 images and 16 depths


def test_copies_written_with_other_png_bytes_are_decoded_once_per_file(tmp_path, decodes):
    """The same pixels in PNGs of another compression level: still the same frame (a map
    re-encoded by another writer), so those are decoded, each file once."""
    from mast3r_ros.replay import map_merge

    a = _map(tmp_path / "a", range(0, 6))
    b = _map(tmp_path / "b", range(3, 9), level=9)
    maps = [KeyframeMap.load(a), KeyframeMap.load(b)]
    keep = map_merge._unique_keyframes(maps, (a, b), keep_duplicates=False)
    assert keep[1].tolist() == [False] * 3 + [True] * 3
    assert decodes["image"] == 6  # 3 shared stamps, 2 distinct files each
    assert decodes["depth"] == 0  # the depth PNGs are the same bytes


def test_a_copy_whose_depth_differs_is_still_compared(tmp_path, decodes, caplog):
    """Same image, another depth file (another depth scale): the depths are decoded and the
    scale warning given, as before."""
    from mast3r_ros.replay import map_merge

    a = _map(tmp_path / "a", range(0, 4))
    with MapWriter(str(tmp_path / "b")) as w:
        for i in range(2, 6):
            rgb, depth, pose = _frame(i)
            w.add_keyframe_png(_png(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)), CAM, pose,
                               i * 10 ** 8, _png(depth), 500.0)  # read as twice as deep
        b = w.commit()
    maps = [KeyframeMap.load(a), KeyframeMap.load(b)]
    with caplog.at_level("WARNING"):
        keep = map_merge._unique_keyframes(maps, (a, b), keep_duplicates=False)
    assert keep[1].tolist() == [False, False, True, True]
    assert decodes == {"image": 0, "depth": 4}
    assert "with depth 2 times theirs" in caplog.text
