"""Keyframes added from their PNG files' bytes (`MapWriter.add_keyframe_png`, what merge-maps
copies keyframes with) and read back as bytes (`KeyframeMap.keyframe_pngs`): the files are
written as they are, checked from their headers only, and refused with the keyframe named."""

from __future__ import annotations

import os
import struct

import cv2
import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.keyframes import KeyframeMap, MapWriter
from mast3r_ros.core.retrieval import thumbnail_descriptor
from mast3r_ros.core.types import CameraIntrinsics

W, H = 64, 48
CAM = CameraIntrinsics(W, H, np.array([[50.0, 0, 32], [0, 50.0, 24], [0, 0, 1]]))


def _rgb(seed=0):
    rng = np.random.default_rng(seed)
    return cv2.resize(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), (W, H))


def _png(img, level=0):
    """PNG bytes at zlib ``level`` (0: stored; the writer's `add_keyframe` uses OpenCV's
    default, so bytes at 0 differ from what it would write)."""
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, level])
    assert ok
    return buf.tobytes()


def _depth_raw():
    d = np.full((H, W), 2500, np.uint16)  # 2.5 m at 1000 units/m
    d[:4] = 0  # no depth
    return d


def _files(folder):
    return {n: open(os.path.join(folder, "keyframes", n), "rb").read()
            for n in sorted(os.listdir(os.path.join(folder, "keyframes")))}


def test_the_pngs_are_written_as_they_are_with_their_depth_scale(tmp_path):
    image, depth = _png(_rgb()), _png(_depth_raw())
    assert image != _png(_rgb(), 1)  # what a re-encode would write differs
    with MapWriter(str(tmp_path / "m")) as w:
        assert w.add_keyframe_png(image, CAM, np.eye(4), 7, depth, 1000.0) == 0
        assert w.add_keyframe_png(image, CAM, np.eye(4), 8) == 1
        w.commit()
    assert _files(str(tmp_path / "m")) == {"000000.png": image, "000000_depth.png": depth,
                                           "000001.png": image}
    m = KeyframeMap.load(str(tmp_path / "m"))
    assert m.keyframe_pngs(0) == (image, depth, 1000.0)
    assert m.keyframe_pngs(1) == (image, None, 0.0)
    assert np.array_equal(m.image(0), _rgb())
    d = m.depth(0)
    assert np.isnan(d[:4]).all() and np.allclose(d[4:], 2.5)
    # the thumbnail computed from the decoded image, as add_keyframe computes it
    assert np.allclose(m.thumbnail_descriptors()[0], thumbnail_descriptor(_rgb()), atol=1e-6)


def test_a_numpy_depth_scale_is_taken(tmp_path):
    """A table's float32 or int column value is a depth scale as a Python float is."""
    with MapWriter(str(tmp_path / "m")) as w:
        w.add_keyframe_png(_png(_rgb()), CAM, np.eye(4), 7, _png(_depth_raw()), np.float32(1000))
        w.add_keyframe_png(_png(_rgb()), CAM, np.eye(4), 8, _png(_depth_raw()), np.uint16(5000))
        w.commit()
    m = KeyframeMap.load(str(tmp_path / "m"))
    assert [m.keyframe(i).depth_scale for i in (0, 1)] == [1000.0, 5000.0]
    assert np.allclose(m.depth(1)[4:], 0.5)


def test_a_given_thumbnail_is_stored_and_a_malformed_one_refused(tmp_path):
    thumb = thumbnail_descriptor(_rgb(1))
    with MapWriter(str(tmp_path / "m")) as w:
        w.add_keyframe_png(_png(_rgb()), CAM, np.eye(4), 7, thumbnail=thumb)
        for bad in (thumb[:-1], np.full_like(thumb, np.nan)):
            with pytest.raises(InputError, match=r"map A keyframe 3: thumbnail must be a "
                                                 r"finite \(352,\)"):
                w.add_keyframe_png(_png(_rgb()), CAM, np.eye(4), 8, thumbnail=bad,
                                   source="map A keyframe 3")
        w.commit()
    assert np.allclose(KeyframeMap.load(str(tmp_path / "m")).thumbnail_descriptors()[0],
                       thumb, atol=1e-6)


def _bad_crc(data):
    return data[:29] + struct.pack(">I", struct.unpack(">I", data[29:33])[0] ^ 1) + data[33:]


@pytest.mark.parametrize("image, depth, scale, match", [
    (b"GIF89a" + bytes(60), None, 0.0, r"image is not a PNG file"),
    (_png(_rgb())[:-20], None, 0.0, r"image is a truncated PNG"),
    (_bad_crc(_png(_rgb())), None, 0.0, r"image is a corrupt PNG \(its IHDR"),
    (_png(cv2.resize(_rgb(), (W, H + 2))), None, 0.0,
     r"image is a 64x50 8-bit RGB PNG, the keyframe expects 64x48 8-bit RGB"),
    (_png(_depth_raw()), None, 0.0, r"image is a 64x48 16-bit greyscale PNG, the keyframe "
                                    r"expects 64x48 8-bit RGB"),
    (_png(_rgb()), _png(_rgb()), 1000.0, r"depth is a 64x48 8-bit RGB PNG, the keyframe "
                                         r"expects 64x48 16-bit greyscale"),
    (_png(_rgb()), _png((_depth_raw() // 256).astype(np.uint8)), 1000.0,
     r"depth is a 64x48 8-bit greyscale PNG"),
    (_png(_rgb()), _png(_depth_raw()), 0.0, r"depth_scale must be the depth PNG's units"),
    (_png(_rgb()), _png(_depth_raw()), float("nan"), r"depth_scale must be"),
    (_png(_rgb()), _png(_depth_raw()), True, r"depth_scale must be"),
    (_png(_rgb()), _png(_depth_raw()), "1000", r"depth_scale must be"),
    ("000000.png", None, 0.0, r"image must be the PNG file's bytes, got str"),
])
def test_a_bad_png_is_refused_naming_the_keyframe_and_nothing_is_stored(tmp_path, image,
                                                                         depth, scale, match):
    with MapWriter(str(tmp_path / "m")) as w:
        with pytest.raises(InputError, match=r"^map B keyframe 12: " + match):
            w.add_keyframe_png(image, CAM, np.eye(4), 7, depth, scale,
                               source="map B keyframe 12")
        assert not w.records and not w.files
        assert os.listdir(os.path.join(w.tmp, "keyframes")) == []
        assert w.add_keyframe_png(_png(_rgb()), CAM, np.eye(4), 7) == 0  # still usable


def test_without_a_thumbnail_undecodable_pixels_are_refused(tmp_path):
    good = _png(_rgb())
    # IHDR intact and IEND last, the compressed pixels zeroed: only a decode sees it
    ihdr_end = 33
    broken = good[:ihdr_end + 8] + bytes(len(good) - ihdr_end - 8 - 12) + good[-12:]
    with MapWriter(str(tmp_path / "m")) as w:
        with pytest.raises(InputError, match=r"^keyframe 0: image is a corrupt PNG \(its "
                                             r"pixels do not decode\)"):
            w.add_keyframe_png(broken, CAM, np.eye(4), 7)


def test_the_record_checks_of_add_keyframe_apply_naming_the_source(tmp_path):
    with MapWriter(str(tmp_path / "m")) as w:
        with pytest.raises(InputError, match=r"^map A keyframe 2: intrinsics must be a "):
            w.add_keyframe_png(_png(_rgb()), (W, H), np.eye(4), 7, source="map A keyframe 2")
        with pytest.raises(InputError, match=r"^map A keyframe 2: pose map_from_cam is not a "
                                             r"rigid transform"):
            w.add_keyframe_png(_png(_rgb()), CAM, 2 * np.eye(4), 7, source="map A keyframe 2")
        with pytest.raises(InputError, match=r"^keyframe 0: stamp_ns"):
            w.add_keyframe_png(_png(_rgb()), CAM, np.eye(4), 7.5)
        w.add_keyframe_png(_png(_rgb()), CAM, np.eye(4), 7)
        w.commit()
    with pytest.raises(InputError, match=r"is already committed"):
        w.add_keyframe_png(_png(_rgb()), CAM, np.eye(4), 7)
