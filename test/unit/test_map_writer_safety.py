"""MapWriter safety (a fresh user's findings): one writer writes one map (a second commit wiped
the published map; add_keyframe after commit, abort or a failed ``with`` block went on silently);
``overwrite`` replaces only a keyframe map or an empty folder, checked at construction (it wiped a
folder holding thesis.tex, and replaced a plain file); depth in raw sensor units is refused (uint16
millimetres were stored as metres), a centimetre-looking depth is warned about, and the map
consistency check is reachable from Python (`MapWriter.check_consistency`, `check_map`)."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import stat

import numpy as np
import pytest

from mast3r_ros.core.config import MapCheckConfig
from mast3r_ros.core.errors import InputError
from mast3r_ros.core.keyframes import FORMAT_NAME, KeyframeMap, MapWriter, write_map
from mast3r_ros.core.map_check import MapConsistencyError
from mast3r_ros.replay.synthetic import default_intrinsics

W, H = 32, 24
CAM = default_intrinsics(W, H)


def _frame(i=0, depth=2.0):
    rgb = np.random.default_rng(i).integers(0, 256, (H, W, 3), dtype=np.uint8)
    pose = np.eye(4)
    pose[0, 3] = 0.1 * i
    return rgb, CAM, pose, 1000 + i, np.full((H, W), depth, np.float32)


def _write(path, n=2, **kw):
    return write_map(str(path), [_frame(i) for i in range(n)], **kw)


def _listing(folder):
    return sorted(os.listdir(folder))


# ------------------------------------------------------------------ one writer, one map ---

def test_second_commit_is_refused_and_the_map_survives(tmp_path):
    with MapWriter(str(tmp_path / "map")) as w:
        for i in range(2):
            w.add_keyframe(*_frame(i))
        path = w.commit()
        with pytest.raises(InputError, match="already committed.*create a new MapWriter"):
            w.commit()
    m = KeyframeMap.load(path)
    assert len(m) == 2 and m.image(1).shape == (H, W, 3)
    assert _listing(tmp_path) == ["map"]


def test_add_keyframe_after_commit_is_refused(tmp_path):
    w = MapWriter(str(tmp_path / "map"))
    w.add_keyframe(*_frame(0))
    w.commit()
    for call in (lambda: w.add_keyframe(*_frame(1)), lambda: w.set_manifest_field("x", 1),
                 lambda: w.encoding_dir("enc", 512)):
        with pytest.raises(InputError, match=f"MapWriter for {tmp_path / 'map'} is already "
                                             "committed"):
            call()
    w.abort()  # nothing after a commit: the published map stays
    assert _listing(tmp_path) == ["map"]  # no stray build folder
    assert len(KeyframeMap.load(str(tmp_path / "map"))) == 1


def test_writer_is_closed_after_an_exception_in_its_block(tmp_path):
    w = MapWriter(str(tmp_path / "map"))
    with pytest.raises(RuntimeError):
        with w:
            w.add_keyframe(*_frame(0))
            raise RuntimeError("encoder crashed")
    with pytest.raises(InputError, match="closed.*RuntimeError.*create a new MapWriter"):
        w.add_keyframe(*_frame(1))
    with pytest.raises(InputError, match="closed"):
        w.commit()
    assert _listing(tmp_path) == []  # nothing published, no build folder recreated


def test_writer_is_closed_after_abort(tmp_path):
    w = MapWriter(str(tmp_path / "map"))
    w.add_keyframe(*_frame(0))
    w.abort()
    with pytest.raises(InputError, match="aborted"):
        w.add_keyframe(*_frame(1))
    with pytest.raises(InputError, match="aborted"):
        w.commit()
    assert _listing(tmp_path) == []


def test_resumable_writer_closed_by_an_exception_keeps_its_build_and_says_how_to_resume(
        tmp_path):
    w = MapWriter(str(tmp_path / "map"), resumable=True)
    with pytest.raises(RuntimeError):
        with w:
            w.add_keyframe(*_frame(0))
            raise RuntimeError("killed")
    assert _listing(tmp_path) == ["map.partial"]
    with pytest.raises(InputError, match=r"map\.partial.*resume=True"):
        w.add_keyframe(*_frame(1))


# ------------------------------------------------------------------------- overwrite ---

def test_overwrite_refuses_a_folder_that_is_not_a_map_at_construction(tmp_path):
    folder = tmp_path / "thesis"
    folder.mkdir()
    (folder / "thesis.tex").write_text("years of work")
    with pytest.raises(InputError, match=r"thesis is not a keyframe map .*thesis\.tex"):
        MapWriter(str(folder), overwrite=True)
    assert (folder / "thesis.tex").read_text() == "years of work"
    assert _listing(tmp_path) == ["thesis"]  # refused before any build folder was made


def test_overwrite_refuses_a_plain_file(tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("keep me")
    with pytest.raises(InputError, match="notes.txt exists and is a file"):
        MapWriter(str(f), overwrite=True)
    assert f.read_text() == "keep me" and _listing(tmp_path) == ["notes.txt"]


def test_overwrite_refuses_another_tools_manifest(tmp_path):
    """An ONNX export folder also holds a manifest.json (format mast3r_ros-onnx)."""
    folder = tmp_path / "onnx"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"format": "mast3r_ros-onnx"}))
    (folder / "encoder.onnx").write_bytes(b"weights")
    with pytest.raises(InputError, match="not a keyframe map"):
        MapWriter(str(folder), overwrite=True)
    assert _listing(folder) == ["encoder.onnx", "manifest.json"]


def test_overwrite_replaces_a_map_or_an_empty_folder(tmp_path):
    _write(tmp_path / "map", n=2)
    assert json.loads((tmp_path / "map" / "manifest.json").read_text())["format"] == FORMAT_NAME
    _write(tmp_path / "map", n=3, overwrite=True)
    assert len(KeyframeMap.load(str(tmp_path / "map"))) == 3
    (tmp_path / "empty").mkdir()
    _write(tmp_path / "empty", n=1, overwrite=True)
    assert len(KeyframeMap.load(str(tmp_path / "empty"))) == 1
    assert _listing(tmp_path) == ["empty", "map"]


def test_overwrite_refuses_a_map_holding_files_no_build_writes(tmp_path):
    """A run kept inside the map folder (``localize --out MAP/run1``) and the user's notes were
    deleted by a rebuild with overwrite; now the map is kept and both are named."""
    path = _write(tmp_path / "map")
    (tmp_path / "map" / "run1").mkdir()
    (tmp_path / "map" / "run1" / "poses.txt").write_text("an evening of runs")
    (tmp_path / "map" / "notes.md").write_text("where the map was taken")
    with pytest.raises(InputError, match=r"the map .*map also holds notes\.md, run1/.*move "
                                         r"them out"):
        MapWriter(path, overwrite=True)
    assert (tmp_path / "map" / "run1" / "poses.txt").read_text() == "an evening of runs"
    assert len(KeyframeMap.load(path)) == 2
    assert _listing(tmp_path) == ["map"]


def test_overwrite_replaces_a_map_with_a_stale_temporary_file(tmp_path):
    """An interrupted manifest update leaves ``.tmp-XXXX`` in the map: ours, not the user's."""
    path = _write(tmp_path / "map")
    (tmp_path / "map" / ".tmp-abc123").write_bytes(b"half a manifest")
    assert _write(tmp_path / "map", n=3, overwrite=True) == path
    assert len(KeyframeMap.load(path)) == 3
    assert not (tmp_path / "map" / ".tmp-abc123").exists()


def test_overwrite_through_a_link_replaces_the_linked_map_and_keeps_the_link(tmp_path):
    """MapWriter(link, overwrite=True) where link -> maps/v1: the map behind the link is replaced
    and the link stays a link (it used to be replaced by a real folder, leaving the old map
    behind the link's old target)."""
    _write(tmp_path / "maps" / "v1", n=2)
    link = tmp_path / "current"
    link.symlink_to(tmp_path / "maps" / "v1", target_is_directory=True)
    _write(str(link) + "/", n=3, overwrite=True)
    assert link.is_symlink()
    assert len(KeyframeMap.load(str(tmp_path / "maps" / "v1"))) == 3
    assert _listing(tmp_path) == ["current", "maps"] and _listing(tmp_path / "maps") == ["v1"]


def test_a_link_to_nothing_is_still_refused(tmp_path):
    link = tmp_path / "current"
    link.symlink_to(tmp_path / "missing", target_is_directory=True)
    with pytest.raises(InputError, match="link to nothing"):
        MapWriter(str(link), overwrite=True)
    assert _listing(tmp_path) == ["current"]


@pytest.mark.parametrize("stamp", [1.5e9, 1000.0, True, "1000", None])
def test_a_stamp_that_is_not_integer_nanoseconds_is_refused(tmp_path, stamp):
    """A float stamp (most often seconds) was silently truncated by int(); the map stored
    1 ns for 1.5 s."""
    rgb, cam, pose, _, depth = _frame(0)
    with MapWriter(str(tmp_path / "map")) as w:
        with pytest.raises(InputError, match=r"keyframe 0: stamp_ns must be an integer number "
                                             r"of nanoseconds.*int\(round\(t \* 1e9\)\)"):
            w.add_keyframe(rgb, cam, pose, stamp, depth)
        w.add_keyframe(rgb, cam, pose, np.int64(1_500_000_000), depth)  # numpy ints are fine
        path = w.commit()
    assert KeyframeMap.load(path).keyframes[0].stamp_ns == 1_500_000_000


def test_intrinsics_that_are_not_camera_intrinsics_are_refused(tmp_path):
    rgb, cam, pose, stamp, depth = _frame(0)
    with MapWriter(str(tmp_path / "map")) as w:
        with pytest.raises(InputError, match="keyframe 0: intrinsics must be a CameraIntrinsics"
                                             ".*got ndarray"):
            w.add_keyframe(rgb, cam.K, pose, stamp, depth)
        w.abort()
    assert _listing(tmp_path) == []


def test_commit_refuses_a_folder_that_appeared_after_construction(tmp_path):
    out = tmp_path / "map"
    with MapWriter(str(out)) as w:
        w.add_keyframe(*_frame(0))
        out.mkdir()
        (out / "data.csv").write_text("1,2")
        with pytest.raises(InputError, match="already exists"):
            w.commit()
    assert _listing(out) == ["data.csv"]


def test_resumable_build_refuses_a_partial_folder_that_is_not_a_build(tmp_path):
    partial = tmp_path / "map.partial"
    partial.mkdir()
    (partial / "results.jsonl").write_text("{}\n")
    for resume in (False, True):
        with pytest.raises(InputError, match=r"not an unfinished map build.*results\.jsonl"):
            MapWriter(str(tmp_path / "map"), resumable=True, resume=resume)
    assert _listing(partial) == ["results.jsonl"]


def test_published_map_folder_is_readable_by_other_users(tmp_path):
    old = os.umask(0o022)
    try:
        path = _write(tmp_path / "map")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o755  # was mkdtemp's 0700


# ---------------------------------------------------------------------------- depth ---

@pytest.mark.parametrize("dtype", [np.uint16, np.int32])
def test_integer_depth_is_refused_with_the_conversion(tmp_path, dtype):
    rgb, cam, pose, stamp, _ = _frame()
    depth_mm = np.full((H, W), 450, dtype)  # 0.45 m in millimetres, was stored as 450 m
    with MapWriter(str(tmp_path / "map")) as w:
        with pytest.raises(InputError) as e:
            w.add_keyframe(rgb, cam, pose, stamp, depth_mm)
        msg = str(e.value)
        assert "keyframe 0's depth" in msg and "millimetres" in msg
        assert "depth.astype(np.float32) / 1000" in msg and "\n" not in msg
        assert w.records == [] and w.files == {}
        assert os.listdir(os.path.join(w.tmp, "keyframes")) == []  # nothing half-written
        assert w.add_keyframe(rgb, cam, pose, stamp, depth_mm.astype(np.float32) / 1000) == 0
        w.commit()
    np.testing.assert_allclose(KeyframeMap.load(str(tmp_path / "map")).depth(0), 0.45,
                               atol=1e-3)


def test_bool_depth_is_refused(tmp_path):
    rgb, cam, pose, stamp, _ = _frame()
    with MapWriter(str(tmp_path / "map")) as w:
        with pytest.raises(InputError, match="bool array .*metres"):
            w.add_keyframe(rgb, cam, pose, stamp, np.ones((H, W), bool))


def test_refused_depth_shape_leaves_no_image_behind(tmp_path):
    rgb, cam, pose, stamp, depth = _frame()
    with MapWriter(str(tmp_path / "map")) as w:
        with pytest.raises(InputError, match="depth"):
            w.add_keyframe(rgb, cam, pose, stamp, depth[:10])
        assert w.files == {} and os.listdir(os.path.join(w.tmp, "keyframes")) == []


def test_depth_beyond_the_16_bit_format_suggests_metres(tmp_path):
    rgb, cam, pose, stamp, _ = _frame()
    with MapWriter(str(tmp_path / "map")) as w:
        with pytest.raises(InputError, match="millimetres or centimetres.*must be metres"):
            w.add_keyframe(rgb, cam, pose, stamp, np.full((H, W), 2500.0, np.float32))


def test_centimetre_looking_depth_is_warned_about_once(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="mast3r_ros.core.keyframes.writer"):
        with MapWriter(str(tmp_path / "map")) as w:
            w.add_keyframe(*_frame(0, depth=2.0))
            assert not caplog.records
            for i in (1, 2):
                w.add_keyframe(*_frame(i, depth=250.0))  # 2.5 m in centimetres
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "keyframe 1's depth has a median of 250 m" in warnings[0]
    assert "centimetres" in warnings[0] and "check_consistency" in warnings[0]


# ------------------------------------------------------------------- consistency check ---

@pytest.fixture(scope="module")
def walk():
    from mast3r_ros.replay.synthetic import render_frames

    return list(render_frames(40, default_intrinsics(96, 72), indices=range(0, 8, 2)))


def test_check_consistency_finds_centimetre_depth_before_commit(tmp_path, walk):
    with MapWriter(str(tmp_path / "cm")) as w:
        for f in walk:
            w.add_keyframe(f.rgb, f.intrinsics, f.map_from_cam, f.stamp_ns,
                           f.depth_m * np.float32(100))  # metres * 100: centimetres
        with pytest.raises(MapConsistencyError, match="map inconsistent"):
            w.check_consistency()
    assert _listing(tmp_path) == []
    with MapWriter(str(tmp_path / "forced")) as w:
        for f in walk:
            w.add_keyframe(f.rgb, f.intrinsics, f.map_from_cam, f.stamp_ns, f.depth_m * 100)
        report = w.check_consistency(force=True)
        w.commit()
    assert not report.ok
    assert KeyframeMap.load(str(tmp_path / "forced")).manifest["consistency"]["forced"] is True


def test_check_consistency_passes_metres_and_the_documented_call_works(tmp_path, walk):
    with MapWriter(str(tmp_path / "m")) as w:
        for f in walk:
            w.add_keyframe(f.rgb, f.intrinsics, f.map_from_cam, f.stamp_ns, f.depth_m)
        cfg = dataclasses.replace(MapCheckConfig(), neighbours=1)
        assert w.check_consistency(cfg).verdict == "consistent"
        path = w.commit()
    check = KeyframeMap.load(path).manifest["consistency"]
    assert check["verdict"] == "consistent" and check["forced"] is False
    # the call the MapWriter docstring shows for a written map
    doc = MapWriter.__doc__
    assert "check_consistency" in doc
    assert 'report = check_map(KeyframeMap.load("maps/kitchen"), MapCheckConfig())' in doc
    from mast3r_ros.core.map_check import check_map

    check_map(KeyframeMap.load(path), MapCheckConfig()).raise_if_inconsistent()


def test_one_channel_depth_is_accepted_as_frame_accepts_it(tmp_path):
    """Frame takes (H, W, 1) depth as its (H, W) view; MapWriter refused the same array."""
    rgb, cam, pose, stamp, depth = _frame()
    with MapWriter(str(tmp_path / "map")) as w:
        w.add_keyframe(rgb, cam, pose, stamp, depth[:, :, None])
        w.commit()
    stored = KeyframeMap.load(str(tmp_path / "map")).depth(0)
    assert stored.shape == (H, W) and np.allclose(stored, depth)
    with MapWriter(str(tmp_path / "map2")) as w:
        with pytest.raises(InputError, match=r"\(24, 32, 2\) does not match its image"):
            w.add_keyframe(rgb, cam, pose, stamp, np.stack([depth, depth], axis=2))
        w.abort()


def test_a_stop_in_on_published_still_releases_the_maps_lock(tmp_path):
    """A Ctrl-C (or any error) in ``commit``'s ``on_published`` (build-map deleting its resume
    markers from the published map) skipped the lock's release: ``MAP.lock`` stayed on disk
    and held by this process, so a later writer of MAP in it was refused as busy."""
    from mast3r_ros.core.fileio import _HELD, acquire_output_lock, lock_file

    path = str(tmp_path / "map")
    w = MapWriter(path)
    for i in range(2):
        w.add_keyframe(*_frame(i))

    def stopped(_):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        w.commit(on_published=stopped)
    assert w.committed and KeyframeMap.load(path) is not None
    assert lock_file(path) not in _HELD and not os.path.exists(lock_file(path))
    acquire_output_lock(path).release()  # another writer of the map takes it
