"""The keyframe map's read side (`KeyframeMap.load`, the manifest and v3 table checks, the file
checks): every corrupt, inconsistent or wrong-version map is a `MapFormatError` naming the file
or record, and what loads reads back exactly what was written. Expected values are worked out
by hand here (rigid-transform tests, PNG/depth units, chunk tiling), not taken from the code."""

import hashlib
import json
import re
import io
import os

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mast3r_ros.core import keyframes as kfm
from mast3r_ros.core.errors import InputError, MapFormatError
from mast3r_ros.core.geometry import is_valid_pose, make_pose
from mast3r_ros.core.keyframes import KeyframeMap
from mast3r_ros.core.keyframes import table as kf_table
from mast3r_ros.core.keyframes.manifest import _invalid_poses
from mast3r_ros.core.keyframes.map_files import _stat_sizes
from mast3r_ros.core.keyframes.table import CHUNK_DTYPE, KEYFRAME_DTYPE, KeyframeTable
from mast3r_ros.core.types import CameraIntrinsics

from test_keyframes import CAM, H, W, _keyframes, _manifest, _write_manifest


def _edit(path, mutate):
    m = _manifest(path)
    mutate(m)
    _write_manifest(path, m)


def _put(path, rel, data):
    """Replace a map file and record its new sha256 and size, so that only its content is
    wrong (a stale size would be reported first, as a truncated file)."""
    with open(os.path.join(path, rel), "wb") as fh:
        fh.write(data)
    m = _manifest(path)
    m["files"][rel] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    _write_manifest(path, m)


def _rewrite_table(path, mutate):
    """Change keyframe_table.npy through ``mutate(rows)`` and record its checksum and size."""
    full = os.path.join(path, "keyframe_table.npy")
    rows = np.load(full).copy()
    mutate(rows)
    bio = io.BytesIO()
    np.save(bio, rows)
    _put(path, "keyframe_table.npy", bio.getvalue())


def _png(img):
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


@pytest.fixture
def v2(tmp_path):
    return kfm.write_map(str(tmp_path / "map2"), _keyframes(), version=2)


@pytest.fixture
def v3(tmp_path):
    return kfm.write_map(str(tmp_path / "map3"), _keyframes())


# ----------------------------------------------------------------------- rigid poses ---

def test_invalid_poses_are_the_ones_is_valid_pose_refuses():
    """Each pose is built to be rigid or not by hand; `_invalid_poses` (the vectorised check
    of every keyframe at open) and `is_valid_pose` must both say so, at the same 1e-4."""
    R = Rotation.from_euler("xyz", [10, -20, 30], degrees=True).as_matrix()
    rigid = make_pose(R, [1.0, -2.0, 3.0])

    def with_R(M):
        T = rigid.copy()
        T[:3, :3] = M
        return T

    shear = np.eye(3)
    shear[0, 1] = 1e-3  # R R^T off the diagonal by 1e-3; diagonal within 1e-6, det exactly 1
    last_row = rigid.copy()
    last_row[3] = [0, 0, 0, 2]
    last_row_x = rigid.copy()
    last_row_x[3, 0] = 1e-3
    nan_t = rigid.copy()
    nan_t[1, 3] = np.nan
    inf_last = rigid.copy()
    inf_last[3, 3] = np.inf
    cases = [
        (rigid, True),
        (with_R(R.astype(np.float32).astype(np.float64)), True),  # float32 round trip: ~1e-7
        (with_R(R * (1 + 2e-5)), True),  # R R^T = 1 + 4e-5, det = 1 + 6e-5: inside 1e-4
        (with_R(R @ np.diag([1.0, 1.0, -1.0])), False),  # a mirror: orthonormal, det -1
        (with_R(R[[1, 0, 2]]), False),  # two axes swapped: det -1
        (with_R(R * 1.001), False),  # scaled by 1.001: R R^T = 1.002
        (with_R(shear), False),
        (last_row, False),
        (last_row_x, False),
        (nan_t, False),
        (inf_last, False),
        (np.zeros((4, 4)), False),
    ]
    poses = np.stack([c[0] for c in cases])
    want = [i for i, (_, ok) in enumerate(cases) if not ok]
    assert [i for i, (T, _) in enumerate(cases) if not is_valid_pose(T)] == want
    np.testing.assert_array_equal(_invalid_poses(poses), want)
    assert _invalid_poses(np.zeros((0, 4, 4))).size == 0


def test_a_mirrored_pose_is_refused_naming_its_keyframe(v2, v3):
    """A left-handed pose (one axis flipped: a common frame-convention mistake) is orthonormal
    but not a rotation: refused at open, naming the keyframe (v2 record, v3 table row)."""
    flip = np.diag([1.0, 1.0, -1.0, 1.0])
    _edit(v2, lambda m: m["keyframes"][1].update(
        map_from_cam=(np.asarray(m["keyframes"][1]["map_from_cam"]).reshape(4, 4) @ flip)
        .reshape(-1).tolist()))
    with pytest.raises(MapFormatError, match=r"manifest.json: keyframes\[1\]: field "
                                             "'map_from_cam' is not a rigid transform"):
        KeyframeMap.load(v2)
    _rewrite_table(v3, lambda t: t["map_from_cam"].__setitem__(2, t["map_from_cam"][2] @ flip))
    with pytest.raises(MapFormatError, match=r"keyframe_table.npy: row 2: 'map_from_cam' is not "
                                             "a rigid transform"):
        KeyframeMap.load(v3, lazy=True)


@pytest.mark.parametrize("value, shown", [(float("nan"), "nan at [1, 3]"),
                                          (float("-inf"), "-inf at [1, 3]")])
def test_a_pose_holding_nan_or_inf_is_named_as_such_not_as_not_rigid(v2, v3, value, shown):
    """A NaN in a keyframe table's pose (its checksum right: written so) read "row 1:
    'map_from_cam' is not a rigid transform", as if a scale or a reflection were the problem.
    It now says the pose holds NaN/inf, where in the matrix, which keyframe (row, id, stamp),
    and the fix; a v2 manifest's record the same."""
    def says(err, where):
        msg = str(err.value)
        assert (f"{where} 'map_from_cam' holds NaN/inf ({shown} (1 of 16)) for keyframe id 1 "
                "(stamp 0.000001 s), not a pose: ") in msg, msg
        assert msg.endswith("; rebuild the map (build-map refuses such a pose, naming its "
                            "frame) or correct that pose"), msg
        assert "rigid" not in msg, msg

    _rewrite_table(v3, lambda t: t["map_from_cam"].__setitem__((1, 1, 3), value))
    with pytest.raises(MapFormatError) as err:
        KeyframeMap.load(v3)
    says(err, "keyframe_table.npy: row 1:")
    assert os.path.join(v3, "keyframe_table.npy") in str(err.value)
    _edit(v2, lambda m: m["keyframes"][1]["map_from_cam"].__setitem__(7, value))
    with pytest.raises(MapFormatError) as err:
        KeyframeMap.load(v2)
    says(err, "manifest.json: keyframes[1]: field")


def test_check_map_refuses_a_nan_pose_in_one_line_naming_it(v3, capsys):
    from mast3r_ros.replay.cli import main

    _rewrite_table(v3, lambda t: t["map_from_cam"].__setitem__((2, 0, 0), np.nan))
    assert main(["check-map", v3]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mast3r-ros check-map: error: map file ") and "\n" not in err, err
    assert "row 2: 'map_from_cam' holds NaN/inf (nan at [0, 0] (1 of 16)) for keyframe id 2" \
        in err, err


# ---------------------------------------------------------------- manifest records ---

@pytest.mark.parametrize("mutate, pattern", [
    # JSON true is not the number 1, nor a keyframe id
    (lambda k: k.update(id=True), r"keyframes\[0\]: field 'id' has the wrong type \(bool\)"),
    (lambda k: k.update(stamp_ns=1.5e9), r"keyframes\[0\]: field 'stamp_ns' has the wrong type "
                                         r"\(float\)"),
    (lambda k: k["intrinsics"]["K"].__setitem__(8, True),
     r"keyframes\[0\].intrinsics: field 'K' must be a list of 9 numbers"),
    (lambda k: k["map_from_cam"].__setitem__(15, True),
     r"keyframes\[0\]: field 'map_from_cam' must be a list of 16 numbers"),
    (lambda k: k["map_from_cam"].pop(), r"field 'map_from_cam' must be a list of 16 numbers"),
    (lambda k: k["map_from_cam"].__setitem__(3, float("nan")),
     r"keyframes\[0\]: field 'map_from_cam' holds NaN/inf \(nan at \[0, 3\]"),
    # depth_scale: depth-PNG units per metre, so 0 would divide by zero
    (lambda k: k.update(depth_scale=0.0), r"keyframes\[0\]: field 'depth_scale' must be "
                                          "positive, got 0.0"),
    (lambda k: k.update(depth_scale=float("inf")), r"'depth_scale' must be positive, got inf"),
    (lambda k: k.pop("depth_scale"), r"keyframes\[0\]: missing field 'depth_scale'"),
    (lambda k: k.update(depth="keyframes/elsewhere_depth.png"),
     r"keyframes\[0\]: file 'keyframes/elsewhere_depth.png' is not in the manifest's file "
     "table"),
])
def test_bad_keyframe_records_are_named(v2, mutate, pattern):
    _edit(v2, lambda m: mutate(m["keyframes"][0]))
    with pytest.raises(MapFormatError, match=pattern):
        KeyframeMap.load(v2)


def test_a_keyframe_record_that_is_not_an_object_is_named(v2):
    _edit(v2, lambda m: m["keyframes"].__setitem__(1, [1, 2, 3]))
    with pytest.raises(MapFormatError, match=r"keyframes\[1\]: must be an object"):
        KeyframeMap.load(v2)


@pytest.mark.parametrize("version", [1, 2, 3])
def test_each_keyframe_reads_back_its_own_camera(tmp_path, version):
    """Keyframes of one image size but other calibrations (two cameras of one model) keep their
    own K and distortion (v1/v2 share parsed intrinsics between identical records; v3 stores
    up to 14 coefficients per row)."""
    K2 = [[60.0, 0, 30.0], [0, 61.0, 22.0], [0, 0, 1]]
    cam2 = CameraIntrinsics(W, H, K2, [0.1, -0.05, 0.001, 0.002, 0.01, 0.2, -0.1, 0.03])
    cam3 = CameraIntrinsics(W, H, K2)
    src = _keyframes()
    frames = [src[0], (src[1][0], cam2) + src[1][2:], (src[2][0], cam3) + src[2][2:]]
    m = KeyframeMap.load(kfm.write_map(str(tmp_path / "m"), frames, version=version))
    for kf, cam in zip(m.keyframes, (CAM, cam2, cam3)):
        np.testing.assert_array_equal(kf.intrinsics.K, cam.K)
        np.testing.assert_array_equal(kf.intrinsics.dist, cam.dist)
        assert kf.intrinsics.distortion_model == cam.distortion_model
    assert cam2.distortion_model == "rational_polynomial"
    assert m.keyframes[1].intrinsics.dist.size == 8
    # cameras(): the distinct (width, height, fx, fy, cx, cy) rows, sorted
    np.testing.assert_array_equal(m.cameras(), [[W, H, 50.0, 50.0, 31.5, 23.5],
                                                [W, H, 60.0, 61.0, 30.0, 22.0]])


@pytest.mark.parametrize("version", [1, 2, 3])
def test_depth_is_the_png_value_divided_by_the_depth_scale(tmp_path, version):
    """Depth in metres = raw uint16 / depth_scale (units per metre), 0 = no depth (NaN):
    a hand-made depth PNG and scale read back as worked out here."""
    path = kfm.write_map(str(tmp_path / "m"), _keyframes(), version=version)
    raw = np.zeros((H, W), np.uint16)
    raw[0, 0], raw[0, 1], raw[1, 0], raw[H - 1, W - 1] = 1000, 2500, 65535, 1
    if version == 3:
        data = _png(raw)
        full = os.path.join(path, "keyframes/000000_depth.png")
        open(full, "wb").write(data)

        def mutate(t):
            t["depth_scale"][0] = 1000.0
            t["depth_bytes"][0] = len(data)
            t["depth_sha256"][0] = np.frombuffer(hashlib.sha256(data).digest(), np.uint8)
        _rewrite_table(path, mutate)
    else:
        _put(path, "keyframes/000000_depth.png", _png(raw))
        _edit(path, lambda m: m["keyframes"][0].update(depth_scale=1000.0))
    d = KeyframeMap.load(path).depth(0)
    assert d.dtype == np.float32 and d.shape == (H, W)
    assert d[0, 0] == 1.0 and d[0, 1] == 2.5 and d[1, 0] == np.float32(65.535)
    assert d[H - 1, W - 1] == np.float32(0.001)
    assert np.isnan(d).sum() == H * W - 4


def test_keyframe_index_by_id_on_every_version(tmp_path):
    """Ids need not be 0..K-1: the v1/v2 lookup (a dict) and the v3 one (sorted ids) give the
    map-list index, and an id above or below all of them is an InputError."""
    for version in (1, 2, 3):
        with kfm.MapWriter(str(tmp_path / f"m{version}"), version=version) as w:
            for rgb, cam, pose, stamp, depth in _keyframes():
                w.add_keyframe(rgb, cam, pose, stamp, depth)
            for rec, new_id in zip(w.records, (7, 3, 11)):
                rec["id"] = new_id
            m = KeyframeMap.load(w.commit())
        assert [m.keyframe_index(k) for k in (3, 7, 11)] == [1, 0, 2], version
        assert [k.id for k in m.keyframes] == [7, 3, 11]
        for missing in (0, 5, 12, 99):
            with pytest.raises(InputError, match=f"no keyframe with id {missing}"):
                m.keyframe_index(missing)


# ------------------------------------------------------------------- manifest level ---

@pytest.mark.parametrize("version", [0, "3", "4", 3.5, None, True, 1.0, 3.0])
def test_only_the_versions_this_code_reads_are_opened(v3, version):
    _edit(v3, lambda m: m.update(version=version))
    with pytest.raises(MapFormatError, match=f"format version {re.escape(json.dumps(version))}, "
                                             "this code reads "
                                             "versions 1, 2, 3; rebuild the map"):
        KeyframeMap.load(v3)


def test_a_manifest_without_a_version_says_it_is_missing(v3):
    """A missing "version" was reported as the JSON value null (a regression review's find)."""
    _edit(v3, lambda m: m.pop("version"))
    with pytest.raises(MapFormatError, match="format version missing, this code reads versions "
                                             "1, 2, 3; rebuild the map"):
        KeyframeMap.load(v3)
    _edit(v3, lambda m: m.update(version=None))
    with pytest.raises(MapFormatError, match="format version null, this code reads"):
        KeyframeMap.load(v3)


def test_a_map_of_a_newer_format_says_upgrade(v3):
    """Format version 4 said "rebuild the map with this version" (a fresh user's find): the map
    was written by a newer mast3r_ros, and the fix is to upgrade it."""
    from mast3r_ros import __version__

    _edit(v3, lambda m: m.update(version=4))
    with pytest.raises(MapFormatError) as e:
        KeyframeMap.load(v3)
    assert str(e.value) == (
        f"{os.path.join(v3, kfm.MANIFEST)}: format version 4, written by a newer mast3r_ros "
        f"(this one, {__version__}, reads versions 1, 2, 3): upgrade mast3r_ros to open it, or "
        "rebuild the map with this one")


def test_a_file_entry_without_a_checksum_is_named(v3):
    _edit(v3, lambda m: m["files"]["retrieval/thumbnail/descs.npy"].pop("sha256"))
    with pytest.raises(MapFormatError, match="file table entry 'retrieval/thumbnail/descs.npy' "
                                             "has no sha256"):
        KeyframeMap.load(v3)


@pytest.mark.parametrize("mutate, pattern", [
    (lambda kt: kt.update(num_keyframes=0), "the map has no keyframes"),
    (lambda kt: kt.update(num_keyframes=True), "'num_keyframes' has the wrong type"),
    # a count the file does not hold, allocated before its header was read: MemoryError
    # (7 TiB), ValueError (over numpy's largest dimension)
    (lambda kt: kt.update(num_keyframes=10 ** 12), "expected 1000000000000 rows .* found 3 rows"),
    (lambda kt: kt.update(num_keyframes=2 ** 70), "expected 1180591620717411303424 rows"),
    (lambda kt: kt.update(distortion_models=[1]), "'distortion_models' must be a list of names"),
    (lambda kt: kt.update(file="other.npy"), "file 'other.npy' is not in the file table"),
])
def test_keyframe_table_entry_problems_are_named(v3, mutate, pattern):
    _edit(v3, lambda m: mutate(m["keyframe_table"]))
    with pytest.raises(MapFormatError, match=pattern):
        KeyframeMap.load(v3, lazy=True)


@pytest.mark.parametrize("mutate, said", [
    (lambda m: m["keyframe_table"].update(num_keyframes=-1),
     "keyframe_table: 'num_keyframes' must be at least 1, got -1"),
    (lambda m: m["keyframe_table"].update(num_keyframes="eleven"),
     "keyframe_table: field 'num_keyframes' has the wrong type (str)"),
    (lambda m: m["keyframe_table"].update(file="nope.npy"),
     "keyframe_table: file 'nope.npy' is not in the file table"),
    (lambda m: m.pop("keyframe_table"), "missing field 'keyframe_table'"),
    (lambda m: m.update(consistency=[1]), "field 'consistency' has the wrong type (list)"),
])
def test_an_edited_manifest_field_says_what_to_do(v3, mutate, said):
    """A field a user edited (or a copy garbled): before, the one line named the field and
    stopped ('manifest.json: keyframe_table: field 'num_keyframes' has the wrong type (str)'),
    and -1 keyframes read 'the map has no keyframes'; now it names the field and the fix."""
    _edit(v3, mutate)
    for load in (lambda: KeyframeMap.load(v3, lazy=True), lambda: KeyframeMap.check_folder(v3)):
        with pytest.raises(MapFormatError) as e:
            load()
        assert str(e.value) == (f"{os.path.join(v3, kfm.MANIFEST)}: {said}; the manifest was "
                                "edited or damaged: rebuild the map, or copy it again")


@pytest.mark.parametrize("name", ["../outside.npy", "ABS"])
def test_file_names_that_leave_the_map_folder_are_refused(v3, tmp_path, name):
    """The manifest is user input: a file-table name with '..' or an absolute path is refused
    before anything outside the map folder is read (the keyframe table included)."""
    outside = os.path.join(os.path.dirname(v3), "outside.npy")
    name = outside if name == "ABS" else name
    with open(outside, "wb") as fh:
        fh.write(open(os.path.join(v3, "keyframe_table.npy"), "rb").read())
    meta = _manifest(v3)["files"]["keyframe_table.npy"]

    def mutate(m):
        m["files"][name] = meta
        m["keyframe_table"]["file"] = name
    _edit(v3, mutate)
    with pytest.raises(MapFormatError, match=f"'{name}' is not in the file table"):
        KeyframeMap.load(v3, lazy=True)
    _edit(v3, lambda m: m["keyframe_table"].update(file="keyframe_table.npy"))
    with pytest.raises(MapFormatError, match=f"file name '{name}' leaves the map folder"):
        KeyframeMap.load(v3, lazy=True)
    _edit(v3, lambda m: m["files"].pop(name))
    assert len(KeyframeMap.load(v3, lazy=True)) == 3


def test_v1_retrieval_thumbnails_must_be_one_finite_row_per_keyframe(tmp_path):
    path = kfm.write_map(str(tmp_path / "m"), _keyframes(), version=1)
    for thumbs in (np.ones((2, 8), np.float32), np.ones(8, np.float32),
                   np.array([[1.0, 2.0], [np.nan, 0.0], [0.0, 1.0]], np.float32)):
        bio = io.BytesIO()
        np.savez(bio, thumbnail=thumbs)
        _put(path, "retrieval.npz", bio.getvalue())
        with pytest.raises(MapFormatError, match=r"retrieval.npz: 'thumbnail' must be a finite "
                                                 r"\(3, D\) array"):
            KeyframeMap.load(path)


def test_encoding_and_asmk_files_outside_the_file_table_are_named(tmp_path):
    from test_map_v3 import _encodings, _map_with_asmk, _vectors

    v1 = kfm.write_map(str(tmp_path / "v1"), _keyframes(), version=1)
    KeyframeMap.load(v1).save_encodings(_encodings("ckptA"))
    rel = _manifest(v1)["encodings"][0]["file"]
    _edit(v1, lambda m: m["files"].pop(rel))
    with pytest.raises(MapFormatError, match=f"encodings file '{rel}' is not in the file table"):
        KeyframeMap.load(v1, lazy=True)
    path = _map_with_asmk(str(tmp_path / "a"), _keyframes(), _encodings("ckptA"), _vectors(3, 0))
    rel = _manifest(path)["asmk"][0]["file"]
    _edit(path, lambda m: m["files"].pop(rel))
    with pytest.raises(MapFormatError, match=f"ASMK file '{rel}' is not in the file table"):
        KeyframeMap.load(path, lazy=True)


@pytest.mark.parametrize("version", [1, 2, 3])
def test_thumbnails_of_an_older_kind_are_recomputed(tmp_path, monkeypatch, version):
    """The map's thumbnail descriptors are used when the manifest says they are of the kind
    this code computes (no image is read for them); another kind's are recomputed from the
    images."""
    from mast3r_ros.core.keyframes import loader
    from mast3r_ros.core.retrieval import thumbnail_descriptor

    calls = []

    def counted(rgb):
        calls.append(1)
        return thumbnail_descriptor(rgb)

    monkeypatch.setattr(loader, "thumbnail_descriptor", counted)
    path = kfm.write_map(str(tmp_path / "m"), _keyframes(), version=version)
    fresh = np.stack([thumbnail_descriptor(rgb) for rgb, *_ in _keyframes()])
    for lazy in (False, True):
        np.testing.assert_allclose(KeyframeMap.load(path, lazy=lazy).thumbnail_descriptors(),
                                   fresh, atol=1e-6)
    assert calls == []
    if version == 1:  # the stored ones are used as they are: replace them by a marker
        marker = np.tile(np.arange(fresh.shape[1], dtype=np.float32), (3, 1))
        bio = io.BytesIO()
        np.savez(bio, thumbnail=marker)
        _put(path, "retrieval.npz", bio.getvalue())
        np.testing.assert_array_equal(KeyframeMap.load(path).thumbnail_descriptors(), marker)
    _edit(path, lambda m: m["retrieval"].update(kind="thumb-v1"))
    for lazy in (False, True):
        calls.clear()
        m = KeyframeMap.load(path, lazy=lazy)
        np.testing.assert_allclose(m.thumbnail_descriptors(), fresh, atol=1e-6)
        assert len(calls) == 3 and len(m.thumbnail_index()) == 3


@pytest.mark.parametrize("version", [1, 2, 3])
def test_encodings_read_back_bit_for_bit(tmp_path, version):
    """to_orig homographies are float64 (0.1 and 1/3 are not float32 values), pooled
    descriptors float32, features float16, whatever the format version."""
    from test_keyframes import _encodings

    path = kfm.write_map(str(tmp_path / "m"), _keyframes(), version=version)
    enc = _encodings("ckptA")
    enc.to_orig = np.array([[[0.1, 0, 1 / 3], [0, 0.1, 2 / 3], [0, 0, 1]]] * 3)
    KeyframeMap.load(path).save_encodings(enc)
    got = KeyframeMap.load(path).load_encodings("ckptA", 224)
    assert np.asarray(got.to_orig).dtype == np.float64
    np.testing.assert_array_equal(got.to_orig, enc.to_orig)
    assert np.asarray(got.global_desc).dtype == np.float32
    np.testing.assert_array_equal(got.global_desc, enc.global_desc)
    for i in range(3):
        assert got.per_keyframe[i]["feats"].dtype == np.float16
        np.testing.assert_array_equal(got.per_keyframe[i]["feats"], enc.per_keyframe[i]["feats"])


def test_a_retrieval_index_of_another_map_is_refused(tmp_path):
    """The thumbnail index copied from a 2-keyframe map into a 3-keyframe one (checksums
    updated, so only the row count is wrong)."""
    import shutil

    big = kfm.write_map(str(tmp_path / "big"), _keyframes(), version=2)
    small = kfm.write_map(str(tmp_path / "small"), _keyframes(n=2, seed=3), version=2)
    shutil.rmtree(os.path.join(big, "retrieval/thumbnail"))
    shutil.copytree(os.path.join(small, "retrieval/thumbnail"),
                    os.path.join(big, "retrieval/thumbnail"))
    files = _manifest(small)["files"]
    _edit(big, lambda m: m["files"].update(
        {k: v for k, v in files.items() if k.startswith("retrieval/")}))
    with pytest.raises(MapFormatError, match=r"retrieval/thumbnail/index.json: 2 rows for 3 "
                                             "keyframes"):
        KeyframeMap.load(big, lazy=True)


def test_a_v1_map_is_in_the_map_frame(tmp_path):
    """v1 manifests have no map_frame: their poses are in 'map' (the documented default)."""
    m = KeyframeMap.load(kfm.write_map(str(tmp_path / "m"), _keyframes(), version=1))
    assert "map_frame" not in m.manifest and m.map_frame == "map" and m.version == 1


# ------------------------------------------------------------------------- v3 table ---

@pytest.mark.parametrize("mutate, pattern", [
    (lambda t: t["width"].__setitem__(1, 0), "row 1: image width and height must be positive"),
    (lambda t: t["height"].__setitem__(0, -48), "row 0: image width and height must be positive"),
    (lambda t: t["K"].__setitem__((1, 1, 1), 0.0), r"row 1: 'K' must be finite with fx, fy > 0"),
    (lambda t: t["K"].__setitem__((2, 0, 2), np.nan), r"row 2: 'K' must be finite"),
    (lambda t: t["dist"].__setitem__((1, 3), np.inf), r"row 1: 'dist' must be finite"),
    (lambda t: t["dist_count"].__setitem__(2, 15), r"row 2: 'dist' must be finite with 0..14"),
    (lambda t: t["dist_count"].__setitem__(0, -1), r"row 0: 'dist' must be finite with 0..14"),
    # one model in the manifest's list: index 1 is one past its end
    (lambda t: t["distortion_model"].__setitem__(1, 1), "row 1: 'distortion_model' is not an "
                                                        "index"),
    (lambda t: t["distortion_model"].__setitem__(0, -1), "row 0: 'distortion_model'"),
    (lambda t: t["image_bytes"].__setitem__(2, 0), "row 2: 'image_bytes' must be positive"),
    (lambda t: t["depth_scale"].__setitem__(1, 0.0), "row 1: 'depth_scale' must be positive"),
    (lambda t: t["depth_scale"].__setitem__(0, np.inf), "row 0: 'depth_scale' must be positive"),
    (lambda t: t["depth_scale"].__setitem__(0, np.nan), "row 0: 'depth_scale' must be positive"),
])
def test_keyframe_table_rows_are_checked_at_open(v3, mutate, pattern):
    _rewrite_table(v3, mutate)
    with pytest.raises(MapFormatError, match="keyframe_table.npy: " + pattern):
        KeyframeMap.load(v3, lazy=True)


def test_a_keyframe_without_depth_may_have_no_depth_scale(v3):
    _rewrite_table(v3, lambda t: t["depth_scale"].__setitem__(2, np.nan))  # keyframe 2: no depth
    m = KeyframeMap.load(v3)
    assert m.depth(2) is None and m.keyframes[2].depth_scale == 0.0


def test_table_rows_are_checked_across_read_blocks(v3, monkeypatch):
    """The table is streamed in blocks of _BLOCK_ROWS rows (8192): with blocks of 2, a row of
    the second block is named by its own index, and an id repeated across blocks is found."""
    monkeypatch.setattr(kf_table, "_BLOCK_ROWS", 2)
    m = KeyframeMap.load(v3, lazy=True)
    assert [k.id for k in m.keyframes] == [0, 1, 2]
    _rewrite_table(v3, lambda t: t["K"].__setitem__((2, 0, 0), -1.0))
    with pytest.raises(MapFormatError, match="keyframe_table.npy: row 2: 'K'"):
        KeyframeMap.load(v3, lazy=True)
    ids = [123456789, 987654321, 123456789]  # not values an uninitialised array holds

    def dup(t):
        t["K"][2, 0, 0] = 50.0
        t["id"] = ids
    _rewrite_table(v3, dup)
    with pytest.raises(MapFormatError, match="keyframe ids are not unique"):
        KeyframeMap.load(v3, lazy=True)


def _two_rows() -> np.ndarray:
    """Two keyframe-table rows a writer could give: ids 0 and 1, identity poses, no depth."""
    rows = np.zeros(2, KEYFRAME_DTYPE)
    rows["id"] = [0, 1]
    rows["map_from_cam"] = np.eye(4)
    rows["width"], rows["height"] = W, H
    rows["K"] = CAM.K
    rows["image_bytes"], rows["depth_bytes"] = 100, -1
    return rows


def test_a_table_with_bytes_appended_fails_its_checksum(tmp_path):
    rows = _two_rows()
    full = str(tmp_path / "keyframe_table.npy")
    np.save(full, rows)
    sha = hashlib.sha256(open(full, "rb").read()).hexdigest()
    assert len(KeyframeTable.open(full, 2, ["plumb_bob"], sha)) == 2
    open(full, "ab").write(b"\0" * 8)
    with pytest.raises(MapFormatError, match="corrupt \\(checksum mismatch\\)"):
        KeyframeTable.open(full, 2, ["plumb_bob"], sha)


@pytest.mark.parametrize("depth_bytes, depth_scale", [(0, 1000.0), (-2, 0.0)])
def test_a_table_row_with_a_depth_size_no_writer_gives_is_refused(tmp_path, depth_bytes,
                                                                  depth_scale):
    """The writer records -1 (and depth_scale 0) for a keyframe without depth and the PNG's
    size (> 0) for one with depth; 0 (an empty depth PNG) and -2 (neither) were accepted."""
    rows = _two_rows()
    rows["depth_bytes"][1], rows["depth_scale"][1] = depth_bytes, depth_scale
    full = str(tmp_path / "keyframe_table.npy")
    np.save(full, rows)
    sha = hashlib.sha256(open(full, "rb").read()).hexdigest()
    with pytest.raises(MapFormatError, match=r"keyframe_table.npy: row 1: 'depth_bytes' must be "
                                             r"positive \(a depth PNG's size\) or -1 \(no depth\)"):
        KeyframeTable.open(full, 2, ["plumb_bob"], sha)
    rows["depth_bytes"][1], rows["depth_scale"][1] = 2000, 1000.0  # a 2000-byte PNG: fine
    np.save(full, rows)
    sha = hashlib.sha256(open(full, "rb").read()).hexdigest()
    assert KeyframeTable.open(full, 2, ["plumb_bob"], sha).file_meta(1, True)["bytes"] == 2000


def test_v3_keyframes_count_from_the_end_and_do_not_alias_the_table(v3):
    """Negative indices count from the end (as a list's, and as `image` documents); poses are
    copies, not views of the memory-mapped table."""
    m = KeyframeMap.load(v3)
    src = _keyframes()
    assert m.keyframes[-1].id == 2 and m.keyframes[-3].id == 0
    np.testing.assert_array_equal(m.image(-1), src[2][0])
    with pytest.raises(IndexError, match=r"keyframe index -4 outside \[-3, 3\)"):  # was "-1"
        m.keyframes[-4]
    with pytest.raises(IndexError, match=r"keyframe index 3 outside \[-3, 3\)"):
        m.image(3)
    poses = m.poses()
    poses[0, 0, 3] = 99.0  # the caller's copy
    np.testing.assert_array_equal(m.poses()[0], src[0][2])
    kf = m.keyframes[1]
    np.testing.assert_array_equal(kf.map_from_cam, src[1][2])
    assert not np.shares_memory(kf.map_from_cam, m.keyframes.rows)


def test_v3_png_names_and_their_records(v3):
    """keyframes/<i:06d>.png and <i:06d>_depth.png: their sha256 and size come from row i of
    the table (what a lazy read checks them against); a name of no keyframe has none."""
    m = KeyframeMap.load(v3)
    for i, depth in ((0, False), (0, True), (1, True), (2, False)):
        rel = kf_table.image_name(i, depth)
        assert rel == f"keyframes/00000{i}{'_depth' if depth else ''}.png"
        assert kf_table.parse_image_name(rel) == (i, depth)
        data = open(os.path.join(v3, rel), "rb").read()
        assert m.keyframes.file_meta(i, depth) == {"sha256": hashlib.sha256(data).hexdigest(),
                                                   "bytes": len(data)}
    assert m.keyframes.file_meta(2, True) is None  # keyframe 2 has no depth
    assert m.keyframes.file_meta(3, False) is None
    for rel in ("keyframes/000001.png.tmp", "old/keyframes/000001.png", "keyframes/1_x.png"):
        assert kf_table.parse_image_name(rel) is None


def test_a_table_that_changes_between_its_check_and_its_mapping_is_refused(v3):
    full = os.path.join(v3, "keyframe_table.npy")
    assert len(kf_table._open_memmap(full, KEYFRAME_DTYPE, 3)) == 3
    with pytest.raises(MapFormatError, match="changed while the map was opened"):
        kf_table._open_memmap(full, KEYFRAME_DTYPE, 4)
    with pytest.raises(MapFormatError, match="changed while the map was opened"):
        kf_table._open_memmap(full, CHUNK_DTYPE, 3)


def test_the_pixel_cache_holds_at_most_16_arrays(tmp_path):
    """Images and depths are read on demand into a small LRU cache: reading a whole map keeps
    the last 16 (a map of 10^4 keyframes must not end up resident)."""
    cam = CameraIntrinsics(8, 6, [[8.0, 0, 3.5], [0, 8.0, 2.5], [0, 0, 1]])
    rng = np.random.default_rng(1)
    frames = [(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), cam, np.eye(4), i,
               np.full((6, 8), 1.0 + i, np.float32)) for i in range(12)]
    m = KeyframeMap.load(kfm.write_map(str(tmp_path / "m"), frames))
    for i in range(12):
        np.testing.assert_array_equal(m.image(i), frames[i][0])
        np.testing.assert_allclose(m.depth(i), 1.0 + i, rtol=1e-3)
    # 24 reads in the order image 0, depth 0, image 1, ...: the last 16 are image 4 .. depth 11
    order = [(kind, i) for i in range(12) for kind in ("image", "depth")]
    assert list(m._pixels) == order[8:]
    m.image(5)  # a hit moves it to the end: the next miss evicts ("image", 4), the oldest
    m.image(0)
    assert list(m._pixels) == order[9:10] + order[11:] + [("image", 5), ("image", 0)]


def test_images_and_depths_are_read_only(v3):
    """They are cached: a caller writing into one would change what every later reader gets."""
    m = KeyframeMap.load(v3)
    img, depth = m.image(0), m.depth(0)
    assert not img.flags.writeable and not depth.flags.writeable
    with pytest.raises(ValueError):
        img[0, 0, 0] = 1


# --------------------------------------------------------------------- chunk tables ---

def _chunk_table(tmp_path, firsts, counts, sizes=None):
    arr = np.zeros(len(firsts), CHUNK_DTYPE)
    arr["first"], arr["count"] = firsts, counts
    arr["bytes"] = sizes if sizes is not None else [1000 + j for j in range(len(firsts))]
    for j in range(len(firsts)):
        arr["sha256"][j] = j + 1
    full = str(tmp_path / "chunk_table.npy")
    np.save(full, arr)
    return full, hashlib.sha256(open(full, "rb").read()).hexdigest()


def test_a_chunk_table_that_tiles_the_keyframes_is_read_by_chunk_name(tmp_path):
    full, sha = _chunk_table(tmp_path, [0, 2, 5], [2, 3, 1])
    table = kf_table.open_chunk_table(full, 6, sha, 3)
    assert table.num_keyframes == 6
    assert [(c.file, c.first, c.count) for c in table.chunks] == [
        ("chunk_000000.npy", 0, 2), ("chunk_000002.npy", 2, 3), ("chunk_000005.npy", 5, 1)]
    assert list(table.files) == ["chunk_000000.npy", "chunk_000002.npy", "chunk_000005.npy"]
    assert table.files["chunk_000002.npy"] == {"sha256": "02" * 32, "bytes": 1001}
    assert table.files["chunk_000005.npy"]["bytes"] == 1002
    for name in ("chunk_000001.npy", "chunk_000006.npy", "chunk_2.npy", "x.npy"):
        assert name not in table.files
        with pytest.raises(KeyError):
            table.files[name]


@pytest.mark.parametrize("firsts, counts, sizes", [
    ([0, 3, 5], [2, 2, 2], None),  # a gap: keyframe 2 is in no chunk
    ([0, 1, 5], [2, 4, 1], None),  # an overlap
    ([0, 2, 5], [2, 3, 2], None),  # 7 keyframes for a map of 6
    ([0, 2, 5], [2, 3, 0], None),  # ... or 5, with an empty chunk at the end
    ([0, 0, 2, 5], [0, 2, 3, 1], None),  # an empty chunk: it tiles, but holds nothing
    ([0, 2, 5], [2, 3, 1], [1000, 0, 1000]),  # a chunk file of no size
])
def test_a_chunk_table_that_does_not_tile_the_keyframes_is_refused(tmp_path, firsts, counts,
                                                                   sizes):
    full, sha = _chunk_table(tmp_path, firsts, counts, sizes)
    with pytest.raises(MapFormatError, match="chunks do not tile the 6 keyframes"):
        kf_table.open_chunk_table(full, 6, sha, len(firsts))


# --------------------------------------------------------------------- file checks ---

def test_a_file_of_another_size_is_named_with_both_sizes(v3):
    """A file grown (bytes appended by a bad copy) is as wrong as a truncated one: reported at
    open with the size found and the size the map records."""
    full = os.path.join(v3, "keyframes/000001.png")
    size = os.path.getsize(full)
    open(full, "ab").write(b"\0" * 7)
    with pytest.raises(MapFormatError) as e:
        KeyframeMap.load(v3, lazy=True)
    assert str(e.value).startswith(f"map file larger than the map records, not cut short "
                                   f"({size + 7} bytes, the map says {size}): {full}; ")


def test_file_problems_lists_each_file_once(v3):
    for rel in ("keyframes/000000.png", "keyframes/000001_depth.png"):
        os.remove(os.path.join(v3, rel))
    problems = KeyframeMap.load(v3, lazy=True, check_files=False).file_problems()
    assert problems == [f"map file missing: {os.path.join(v3, 'keyframes', n)}"
                        for n in ("000000.png", "000001_depth.png")]


@pytest.mark.parametrize("ext, mode", [(".bmp", "RGB"), (".png", "L"), (".png", "RGBA")])
def test_a_keyframe_image_must_be_an_rgb_png(v2, ext, mode):
    """Right size, right checksum, wrong container or pixel format: named with what was
    expected (an 8-bit grey or RGBA PNG would not convert to the RGB image a matcher gets)."""
    rgb = _keyframes()[0][0]
    img = {"RGB": rgb[..., ::-1], "L": rgb[..., 0], "RGBA": np.dstack([rgb, rgb[..., :1]])}[mode]
    ok, buf = cv2.imencode(ext, img)
    _put(v2, "keyframes/000000.png", buf.tobytes())
    with pytest.raises(MapFormatError, match=r"000000.png: .* keyframe 0 expects PNG 64x48 RGB"):
        KeyframeMap.load(v2)


def test_a_png_whose_pixel_data_is_cut_short_is_named_on_first_use(v2):
    """The header is whole (the open checks headers only) but the pixel data stops after 200
    bytes, the checksum recorded for those bytes: the first read names the file."""
    data = open(os.path.join(v2, "keyframes/000000.png"), "rb").read()
    _put(v2, "keyframes/000000.png", data[:200])
    m = KeyframeMap.load(v2)
    with pytest.raises(MapFormatError, match=r"keyframes/000000.png: not a readable PNG"):
        m.image(0)


def test_a_depth_png_must_be_16_bit(v2):
    """An 8-bit PNG stored as the depth (checksum and size right) is named (it would read as
    depth in units of 1/depth_scale m of another range)."""
    _put(v2, "keyframes/000001_depth.png", _png(np.full((H, W), 7, np.uint8)))
    with pytest.raises(MapFormatError, match=r"000001_depth.png: PNG 64x48 L, keyframe 1 expects "
                                             "PNG 64x48 I;16 or I"):
        KeyframeMap.load(v2)


def test_a_lazy_map_checks_an_image_header_on_first_use(v2):
    """Lazily opened, a keyframe whose recorded size is not its PNG's is named on first use
    (an eager open names it at open)."""
    _edit(v2, lambda m: m["keyframes"][1]["intrinsics"].update(width=65))
    m = KeyframeMap.load(v2, lazy=True)
    m.image(0)
    with pytest.raises(MapFormatError, match=r"000001.png: PNG 64x48 RGB, keyframe 1 expects "
                                             "PNG 65x48 RGB"):
        m.image(1)


@pytest.mark.parametrize("version", [1, 2, 3])
def test_a_lazy_map_reads_each_keyframe_file_once_on_first_use(tmp_path, monkeypatch, version):
    """A lazy map's first use of a keyframe decodes the bytes its header check read: the depth
    PNG too (the check read image and depth at the image's first use, the depth's own first
    use read it again: two reads and checksums of every depth, and three in check-map)."""
    path = kfm.write_map(str(tmp_path / "map"), _keyframes(), version=version)
    m = KeyframeMap.load(path, lazy=True)
    reads = []
    read = m._read
    monkeypatch.setattr(m, "_read", lambda rel: reads.append(rel) or read(rel))
    for i in range(len(m)):
        m.image(i)
        m.depth(i)
    files = [f for k in m.keyframes for f in (k.image_file, k.depth_file) if f is not None]
    assert len(files) == 5 and sorted(reads) == sorted(files)  # keyframe 2 has no depth


def test_stat_sizes_agrees_with_getsize_in_one_thread_and_in_several(tmp_path):
    """Sizes of the files, -1 where missing, in the names' order; above 2000 names the list is
    split over threads and must come back whole and in order."""
    names = [f"f{i:05d}" for i in range(2503)]
    for i in range(0, len(names), 3):
        (tmp_path / names[i]).write_bytes(b"x" * (i % 17))
    want = [os.path.getsize(tmp_path / n) if os.path.exists(tmp_path / n) else -1
            for n in names]
    for count in (1, 7, 1999, 2000, 2001, 2503):
        got = _stat_sizes(str(tmp_path), names[:count])
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, want[:count])
    np.testing.assert_array_equal(_stat_sizes(str(tmp_path / "none"), names[:3]), [-1] * 3)


def test_sha256_is_the_fips_sha256():
    """Map checksums are SHA-256 (FIPS 180-2 test vector 'abc'): maps written before stay
    readable."""
    from mast3r_ros.core.keyframes.layout import sha256_hex

    assert sha256_hex(b"abc") == ("ba7816bf8f01cfea414140de5dae2223"
                                  "b00361a396177a9cb410ff61f20015ad")


def test_a_manifest_type_error_names_the_full_manifest_path(v3):
    """'manifest.json: keyframe_table: ...' named no folder: with two maps in a launch file the
    user could not tell which one is broken."""
    _edit(v3, lambda m: m["keyframe_table"].update(num_keyframes="3"))
    with pytest.raises(MapFormatError) as e:
        KeyframeMap.load(v3)
    assert str(e.value).startswith(os.path.join(v3, kfm.MANIFEST) + ": keyframe_table: field "
                                   "'num_keyframes' has the wrong type (str)"), str(e.value)


def test_a_localize_run_folder_is_named_as_one(tmp_path):
    run = tmp_path / "runs" / "kitchen"
    run.mkdir(parents=True)
    (run / "results.jsonl").write_text("")
    (run / "metrics.json").write_text("{}")
    with pytest.raises(MapFormatError) as e:
        KeyframeMap.load(str(run))
    msg = str(e.value)
    assert "is a localize run's output" in msg and "results.jsonl" in msg, msg
    assert "interrupted build" not in msg and "\n" not in msg


# no manifest.json and nothing we know: said as what the folder holds (it said "an interrupted
# build?", which a build never leaves at MAP)
NOT_A_MAP = r"is not a mast3r_ros keyframe map \(no manifest.json; it holds "


def test_a_folder_inside_a_map_names_the_map(tmp_path, monkeypatch):
    """A fresh user's finding: --map MAP/keyframes said 'not a complete keyframe map (an
    interrupted build?)'; the folder is inside a complete map, which is named instead."""
    m = tmp_path / "kitchen_map"
    (m / "keyframes" / "sub").mkdir(parents=True)
    (m / kfm.MANIFEST).write_text(json.dumps({"format": kfm.FORMAT_NAME}))
    for given, parent in ((str(m / "keyframes"), str(m)),
                          (str(m / "keyframes" / "sub"), str(m)),
                          ("kitchen_map/keyframes/", "kitchen_map")):
        monkeypatch.chdir(tmp_path)
        with pytest.raises(MapFormatError) as e:
            KeyframeMap.load(given)
        assert str(e.value) == (f"{given} is inside the keyframe map {parent}: pass that "
                                "folder"), str(e.value)
    # a manifest.json of something else (a dataset, an ONNX export) does not make a map
    for other in ('{"name": "my-dataset"}', "[1, 2]", "not json"):
        (m / kfm.MANIFEST).write_text(other)
        with pytest.raises(MapFormatError, match=NOT_A_MAP):
            KeyframeMap.load(str(m / "keyframes"))
    (m / kfm.MANIFEST).unlink()  # an interrupted build: no manifest anywhere
    with pytest.raises(MapFormatError, match=NOT_A_MAP):
        KeyframeMap.load(str(m / "keyframes"))


def test_an_unfinished_builds_partial_folder_given_as_the_map_says_to_resume(tmp_path):
    """After Ctrl-C, `ls` shows MAP.partial (the finished shards a --resume goes on from);
    given as --map it was called 'copied only in part? copy the map again': it is a stopped
    build, finished by build-map --resume, and then MAP is the map."""
    part = tmp_path / "site.partial"
    (part / "keyframes").mkdir(parents=True)
    (part / "encodings").mkdir()
    with pytest.raises(MapFormatError) as e:
        KeyframeMap.load(str(part))
    assert str(e.value) == (f"{part} is an unfinished map build (build-map stopped before it "
                            f"wrote {tmp_path / 'site'}): rerun that build-map with --resume "
                            f"to finish it, then pass {tmp_path / 'site'}"), str(e.value)


def test_a_killed_writers_temporary_folder_given_as_the_map_says_what_it_is(tmp_path):
    """After `kill -9` (or the OOM killer) of build-map or merge-maps, `ls` shows
    MAP.tmp-m3r-XXXXXXXX; given as --map (or to merge-maps, check-map) it was called 'copied
    only in part? copy the map again': it is the killed writer's unfinished output, which the
    next writer of MAP removes; the fix is to rerun that command. The same folder exists while
    the writer still runs, so the words hold for both; a user's folder of another form is not
    named so."""
    tmp = tmp_path / "site.tmp-m3r-ab12cd_9"
    (tmp / "keyframes").mkdir(parents=True)
    site = tmp_path / "site"
    with pytest.raises(MapFormatError) as e:
        KeyframeMap.load(str(tmp))
    assert str(e.value) == (
        f"{tmp} is the unfinished output of a build-map or merge-maps to {site} that was killed "
        f"or is still running, not a map: if that command still runs, wait for it to finish; "
        f"if it was killed (kill -9, the OOM killer, a power cut), rerun it (it removes this "
        f"folder); then pass {site}"), str(e.value)
    # a user's own folders, not of mkdtemp's form (8 of [a-z0-9_] after the infix): the words
    # of a partial copy, never 'unfinished output' (which the next writer would not remove)
    for name in ("site.tmp-backup", "site.tmp-m3r-backup", "site.tmp-m3r-backup_01",
                 "site.tmp-m3r-Ab12cd_9", "site.tmp-m3r-ab12-d_9"):
        other = tmp_path / name
        (other / "keyframes").mkdir(parents=True)
        with pytest.raises(MapFormatError) as e:
            KeyframeMap.load(str(other))
        assert "copied only in part" in str(e.value), (name, str(e.value))
        assert "unfinished output" not in str(e.value), (name, str(e.value))


def test_a_run_folder_or_deep_folder_inside_a_map_names_the_map(tmp_path, monkeypatch):
    """A new user's finding: `--map M/run1` (a localize run kept inside its map) said only
    'looks like a localize run folder ... pass the map folder' without naming M, and a folder
    three levels down (M/run1/plots/png) said 'an interrupted build?'; both name M."""
    m = tmp_path / "kitchen_map"
    (m / "run1" / "plots" / "png").mkdir(parents=True)
    (m / kfm.MANIFEST).write_text(json.dumps({"format": kfm.FORMAT_NAME}))
    (m / "run1" / "results.jsonl").write_text("")
    (m / "run1" / "metrics.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    for given in ("kitchen_map/run1", "kitchen_map/run1/", "kitchen_map/run1/plots/png"):
        with pytest.raises(MapFormatError) as e:
            KeyframeMap.load(given)
        assert str(e.value) == (f"{given} is inside the keyframe map kitchen_map: pass that "
                                "folder"), str(e.value)
    (m / kfm.MANIFEST).unlink()  # a run folder in no map: said as one, as before
    with pytest.raises(MapFormatError, match=r"kitchen_map/run1 is a localize run's output"):
        KeyframeMap.load("kitchen_map/run1")
    with pytest.raises(MapFormatError, match=NOT_A_MAP):
        KeyframeMap.load("/")


def test_a_folder_holding_a_map_names_the_map(tmp_path, monkeypatch):
    """A new user's finding: after the quick start (`mast3r-ros demo --out demo_out`, which
    prints 'map demo_out/map'), `--map demo_out` said 'not a complete keyframe map (an
    interrupted build?)'; the folder holds a complete map, which is named instead."""
    out = tmp_path / "demo_out"
    for sub in ("map", "run", "data"):
        (out / sub).mkdir(parents=True)
    (out / "map" / kfm.MANIFEST).write_text(json.dumps({"format": kfm.FORMAT_NAME}))
    (out / "data" / kfm.MANIFEST).write_text('{"name": "my-dataset"}')  # not a map
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MapFormatError) as e:
        KeyframeMap.load("demo_out")
    assert str(e.value) == (os.path.join("demo_out", kfm.MANIFEST) + ": missing; demo_out is "
                            "not a keyframe map but holds one: pass it ("
                            + os.path.join("demo_out", "map") + ")"), str(e.value)
    (out / "map" / kfm.MANIFEST).unlink()  # no map inside: as before
    with pytest.raises(MapFormatError, match=NOT_A_MAP):
        KeyframeMap.load("demo_out")


def test_the_pixel_cache_keeps_a_looked_up_keyframe_while_another_thread_evicts(v3,
                                                                              monkeypatch):
    """Localizers on two threads sharing one map (two cameras): between one thread finding a
    keyframe's image in the LRU and moving it to the end, the other's insertions evicted it,
    and `move_to_end` raised KeyError. The other thread is started at exactly that point (the
    `in` test) and given 0.5 s; with the cache locked it waits, and the lookup completes."""
    import threading
    from collections import OrderedDict

    m = kfm.KeyframeMap.load(v3, lazy=True)
    monkeypatch.setattr(m, "_CACHE", 1)
    m.image(0)
    fired = []

    def evict():
        m.image(1)   # the cache holds one: keyframe 0's image goes

    class Racing(OrderedDict):
        def __contains__(self, key):
            found = super().__contains__(key)
            if found and not fired:
                fired.append(True)
                other = threading.Thread(target=evict)
                other.start()
                other.join(0.5)
            return found

    m._pixels = Racing(m._pixels)
    img = m.image(0)
    assert fired and img.shape == m.image(1).shape
