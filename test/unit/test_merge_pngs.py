"""merge-maps copies the keyframe PNG files byte for byte (PNG is lossless: it decoded and
re-encoded each with OpenCV, and re-quantised the depth at the finest scale that fits, so the
merged map's files and depth scale differed from its inputs')."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from mast3r_ros.core.errors import MapFormatError
from mast3r_ros.core.keyframes import KeyframeMap, MapWriter
from mast3r_ros.core.retrieval import thumbnail_descriptor
from mast3r_ros.core.types import CameraIntrinsics
from mast3r_ros.replay import map_build

W, H = 64, 48
CAM = CameraIntrinsics(W, H, np.array([[50.0, 0, 32], [0, 50.0, 24], [0, 0, 1]]))


def _rgb(seed):
    rng = np.random.default_rng(seed)
    return cv2.resize(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), (W, H))


def _png(img):
    """Stored PNG (zlib level 0): not what OpenCV's default settings write."""
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    return cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 0])[1].tobytes()


def _pose(x):
    p = np.eye(4)
    p[0, 3] = x
    return p


def _map(path, seeds, version=3):
    """A map of one keyframe per seed (stamp = seed), depth 2.5 m at 1000 units/m (re-encoded,
    the writer would pick 5000 units/m)."""
    depth = np.full((H, W), 2500, np.uint16)
    with MapWriter(path, version=version) as w:
        for s in seeds:
            w.add_keyframe_png(_png(_rgb(s)), CAM, _pose(0.1 * s), s, _png(depth + s), 1000.0)
        return w.commit()


def _files(path):
    folder = os.path.join(path, "keyframes")
    return [open(os.path.join(folder, n), "rb").read() for n in sorted(os.listdir(folder))]


@pytest.mark.parametrize("version_a", [1, 3])
def test_merged_keyframe_files_equal_the_inputs_and_keep_their_depth_scale(tmp_path,
                                                                            version_a):
    a = _map(str(tmp_path / "a"), [0, 1, 2], version_a)
    b = _map(str(tmp_path / "b"), [2, 3])  # frame 2 is A's too: dropped, no overlap check
    assert map_build.merge_maps(a, b, str(tmp_path / "c")) == 4
    c = str(tmp_path / "c")
    a_files, b_files = _files(a), _files(b)
    assert _files(c) == a_files + b_files[2:]  # (image, depth) of b's frame 3
    m = KeyframeMap.load(c)
    assert [m.keyframe(i).depth_scale for i in range(4)] == [1000.0] * 4
    assert [m.keyframe(i).stamp_ns for i in range(4)] == [0, 1, 2, 3]
    assert np.allclose(m.depth(3), 2.503)
    # the thumbnails are the stored ones (v3) or computed from the images (v1): the same
    want = np.stack([thumbnail_descriptor(_rgb(s)) for s in range(4)])
    assert np.allclose(m.thumbnail_descriptors(), want, atol=1e-6)


def test_a_source_keyframe_damaged_after_the_load_is_refused_naming_its_file(tmp_path,
                                                                              monkeypatch):
    a = _map(str(tmp_path / "a"), [0, 1, 2])
    b = _map(str(tmp_path / "b"), [2, 3])
    load = KeyframeMap.load

    def load_then_damage(path, *args, **kwargs):  # another process rewrote it after the load
        m = load(path, *args, **kwargs)
        if path == b:
            with open(os.path.join(b, "keyframes", "000001.png"), "r+b") as fh:
                fh.seek(60)
                fh.write(b"\xff")
        return m

    monkeypatch.setattr(KeyframeMap, "load", staticmethod(load_then_damage))
    with pytest.raises(MapFormatError, match=r"map file corrupt \(checksum mismatch\): "
                                             + os.path.join(b, "keyframes", "000001.png")):
        map_build.merge_maps(a, b, str(tmp_path / "c"))
    assert not os.path.exists(tmp_path / "c")


@pytest.mark.parametrize("version_a", [2, 3])
def test_only_keyframes_sharing_a_stamp_are_decoded_to_find_copies(tmp_path, monkeypatch,
                                                                    version_a):
    """The copy search decoded every keyframe of both maps (then the merge decoded the kept
    ones again): only a keyframe whose stamp another has can be a copy. A's frame 2 is B's
    too (dropped); B's stamp 1 holds other pixels (simulated time): kept. Of those, only the
    ones whose PNG files differ are decoded: frame 2's two files hold the same bytes (their
    recorded sha256), so the same pixels (`map_merge._PixelKeys`)."""
    a = _map(str(tmp_path / "a"), [0, 1, 2], version_a)
    b = str(tmp_path / "b")
    with MapWriter(b) as w:
        w.add_keyframe_png(_png(_rgb(2)), CAM, _pose(0.2), 2)
        w.add_keyframe_png(_png(_rgb(7)), CAM, _pose(0.7), 1)
        w.add_keyframe_png(_png(_rgb(3)), CAM, _pose(0.3), 3)
        w.commit()
    decoded = []
    image = KeyframeMap.image

    def counted(self, index):
        decoded.append((self.path, int(index)))
        return image(self, index)

    monkeypatch.setattr(KeyframeMap, "image", counted)
    assert map_build.merge_maps(a, b, str(tmp_path / "c")) == 5
    assert sorted(decoded) == sorted([(a, 1), (b, 1)])
    monkeypatch.undo()
    m = KeyframeMap.load(str(tmp_path / "c"))
    assert [m.keyframe(i).stamp_ns for i in range(5)] == [0, 1, 2, 1, 3]
    assert np.array_equal(m.image(3), _rgb(7))


def _png_hashes(monkeypatch):
    """A list of the keyframe PNG bytes sha256 is computed of from then on (map reads and
    the writer's file table)."""
    from mast3r_ros.core.keyframes import layout, map_files, writer

    hashed = []
    sha256_hex = layout.sha256_hex

    def counted(data):
        if bytes(data[:8]) == b"\x89PNG\r\n\x1a\n":
            hashed.append(bytes(data))
        return sha256_hex(data)
    for module in (map_files, writer):
        monkeypatch.setattr(module, "sha256_hex", counted)
    return hashed


@pytest.mark.parametrize("version_a", [1, 3])
def test_each_keyframe_png_is_hashed_once_by_a_merge(tmp_path, monkeypatch, version_a):
    """A full open checksummed every PNG, `keyframe_pngs` again and the writer a third time:
    now each is verified once, when the merge reads it (a copy dropped included), and the
    writer lists the checksum it was verified against."""
    a = _map(str(tmp_path / "a"), [0, 1, 2], version_a)
    b = _map(str(tmp_path / "b"), [2, 3])  # b's frame 2: dropped, still verified
    hashed = _png_hashes(monkeypatch)
    assert map_build.merge_maps(a, b, str(tmp_path / "c")) == 4
    files = _files(a) + _files(b)
    assert sorted(hashed) == sorted(files)
    monkeypatch.undo()
    assert KeyframeMap.load(str(tmp_path / "c")).file_problems() == []


def test_a_corrupt_copy_dropped_is_still_refused(tmp_path):
    """A keyframe PNG of B that the merge drops as A's copy is checked as a full open
    checked it: the merge refuses a damaged map, copied keyframe or not."""
    a = _map(str(tmp_path / "a"), [0, 1, 2])
    b = _map(str(tmp_path / "b"), [2, 3])
    with open(os.path.join(b, "keyframes", "000000_depth.png"), "r+b") as fh:
        fh.seek(60)
        fh.write(b"\xff")
    with pytest.raises(MapFormatError, match=r"map file corrupt \(checksum mismatch\): "
                                             + os.path.join(b, "keyframes", "000000_depth")):
        map_build.merge_maps(a, b, str(tmp_path / "c"))
    assert not os.path.exists(tmp_path / "c")


def test_file_problems_without_images_leaves_png_checksums_to_their_first_read(tmp_path):
    """``file_problems(images=False)`` (what a merge checks up front) finds a keyframe PNG
    there at its size though its bytes changed, its checksum left to its read; the full check
    names it. `verify_unread_images` checks only the PNGs not read yet."""
    a = _map(str(tmp_path / "a"), [0, 1])
    with open(os.path.join(a, "keyframes", "000001_depth.png"), "r+b") as fh:
        fh.seek(60)
        fh.write(b"\xff")
    m = KeyframeMap.load(a, lazy=True)
    assert m.file_problems(images=False) == []
    assert any("000001_depth" in p for p in m.file_problems())
    m = KeyframeMap.load(a, lazy=True)
    m.keyframe_pngs(0)
    checked = []
    real = m._check_image_header
    m._check_image_header = lambda kf, only=None: (checked.append(only), real(kf, only=only))[1]
    with pytest.raises(MapFormatError, match="000001_depth"):
        m.verify_unread_images()
    assert not [r for r in checked if r.startswith("keyframes/000000")], checked
