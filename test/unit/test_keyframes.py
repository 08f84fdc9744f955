import json
import logging
import os

import numpy as np

import pytest
from scipy.spatial.transform import Rotation

from mast3r_ros.core import keyframes as kfm
from mast3r_ros.core.keyframes import pixels as kf_pixels
from mast3r_ros.core.keyframes import writer as kf_writer
from mast3r_ros.core.errors import InputError, MapFormatError
from mast3r_ros.core.geometry import make_pose
from mast3r_ros.core.types import CameraIntrinsics

W, H = 64, 48
CAM = CameraIntrinsics(W, H, [[50.0, 0, 31.5], [0, 50.0, 23.5], [0, 0, 1]], [0.01, 0, 0, 0, 0])


def _keyframes(n=3, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        rgb = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
        depth = rng.uniform(0.5, 4.0, (H, W)).astype(np.float32)
        depth[0, :5] = np.nan
        pose = make_pose(Rotation.from_euler("z", 10 * i, degrees=True).as_matrix(), [i, 0, 0])
        out.append((rgb, CAM, pose, 1000 + i, depth if i != 2 else None))
    return out


@pytest.fixture
def map_path(tmp_path):
    return kfm.write_map(str(tmp_path / "map"), _keyframes())


@pytest.fixture
def map_v1(tmp_path):
    """A map in format version 1 (one retrieval.npz, one .npz per encoding set)."""
    return kfm.write_map(str(tmp_path / "map"), _keyframes(), version=1)


@pytest.fixture
def map_v2(tmp_path):
    """A map in format version 2 (keyframe records in the JSON manifest)."""
    return kfm.write_map(str(tmp_path / "map"), _keyframes(), version=2)


@pytest.fixture(params=[1, 2, 3])
def any_map(request, tmp_path):
    return kfm.write_map(str(tmp_path / "map"), _keyframes(), version=request.param)


def _manifest(path):
    with open(os.path.join(path, kfm.MANIFEST)) as fh:
        return json.load(fh)


def _write_manifest(path, m):
    with open(os.path.join(path, kfm.MANIFEST), "w") as fh:
        json.dump(m, fh)


def test_round_trip(any_map):
    map_path = any_map
    src = _keyframes()
    m = kfm.KeyframeMap.load(map_path)
    assert len(m) == 3 and [k.id for k in m.keyframes] == [0, 1, 2]
    np.testing.assert_allclose(m.poses(), np.stack([s[2] for s in src]))
    for i, (rgb, cam, pose, stamp, depth) in enumerate(src):
        kf = m.keyframes[i]
        np.testing.assert_array_equal(kf.map_from_cam, pose)
        assert kf.stamp_ns == stamp
        np.testing.assert_array_equal(kf.intrinsics.K, cam.K)
        np.testing.assert_array_equal(kf.intrinsics.dist, cam.dist)
        np.testing.assert_array_equal(m.image(i), rgb)
        if depth is None:
            assert m.depth(i) is None
        else:
            d = m.depth(i)
            assert d.dtype == np.float32 and np.isnan(d[0, :5]).all()
            np.testing.assert_allclose(d[1:], depth[1:], atol=0.5 / 5000 + 1e-6)
    assert not m.has_depth()
    assert m.thumbnail_descriptors().shape[0] == 3
    assert m.encoding_keys() == []
    assert m.load_encodings("x", 512) is None


def test_depth_takes_the_finest_scale_that_holds_it_and_reads_back():
    """5000 units/m up to 13.1 m, 1000 up to 65.5 m, 100 beyond: a scale chosen past the
    uint16 range would wrap (20 m at 5000 units/m reads back as 6.9 m) without a word."""
    import cv2

    for top, scale in ((13.0, 5000.0), (13.2, 1000.0), (65.6, 100.0)):
        depth = np.ones((4, 4), np.float32)
        depth[0, 0] = top
        data, got = kf_pixels.depth_to_png(depth)
        assert got == scale, top
        raw = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        np.testing.assert_allclose(raw / scale, depth, atol=0.5 / scale + 1e-5)


def test_keyframe_lookup_by_id_and_index(tmp_path):
    writer = kfm.MapWriter(str(tmp_path / "map"))
    with writer as w:
        for rgb, cam, pose, stamp, depth in _keyframes():
            w.add_keyframe(rgb, cam, pose, stamp, depth)
        for rec, new_id in zip(w.records, (7, 3, 11)):  # ids need not be 0..K-1
            rec["id"] = new_id
        path = w.commit()
    m = kfm.KeyframeMap.load(path)
    assert [m.keyframe_index(k) for k in (7, 3, 11)] == [0, 1, 2]
    assert m.keyframe(1) is m.keyframes[1] and m.keyframe(2).id == 11
    with pytest.raises(InputError, match="no keyframe with id 0"):
        m.keyframe_index(0)
    assert m.keyframe_index(np.int64(11)) == 2
    for bad in (3.7, "3", True, None):  # 3.7 and '3' were keyframe 1, id 3, without a word
        with pytest.raises(InputError, match="keyframe id must be an int"):
            m.keyframe_index(bad)
    for bad in (-1, 3):
        with pytest.raises(InputError, match="outside"):
            m.keyframe(bad)


@pytest.mark.parametrize("n, said", [(1, "(1 keyframe)"), (3, "(3 keyframes)")])
def test_the_written_map_is_counted_in_words(tmp_path, caplog, n, said):
    """A one-keyframe map was logged 'wrote map ... (1 keyframes)' (a new user's find)."""
    with kfm.MapWriter(str(tmp_path / "map")) as w:
        for rgb, cam, pose, stamp, depth in _keyframes()[:n]:
            w.add_keyframe(rgb, cam, pose, stamp, depth)
        with caplog.at_level(logging.INFO, logger="mast3r_ros.core.keyframes.writer"):
            w.commit()
    assert [r.getMessage().endswith(said) for r in caplog.records
            if r.getMessage().startswith("wrote map")] == [True], caplog.text


def test_existing_folder_is_not_overwritten_unless_asked(map_path):
    with pytest.raises(InputError, match="already exists"):
        kfm.MapWriter(map_path)
    kfm.write_map(map_path, _keyframes(n=2, seed=5), overwrite=True)
    assert len(kfm.KeyframeMap.load(map_path)) == 2
    assert sorted(os.listdir(os.path.dirname(map_path))) == ["map"]


def test_interrupted_build_leaves_nothing(tmp_path, monkeypatch):
    out = str(tmp_path / "map")
    calls = {"n": 0}
    real = kf_pixels._encode_png

    def flaky(img):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return real(img)

    # the image is encoded by add_keyframe (writer.py), the depth by depth_to_png (pixels.py)
    monkeypatch.setattr(kf_writer, "_encode_png", flaky)
    monkeypatch.setattr(kf_pixels, "_encode_png", flaky)
    with pytest.raises(RuntimeError):
        kfm.write_map(out, _keyframes())
    assert os.listdir(tmp_path) == []
    with pytest.raises(MapFormatError, match="not found"):
        kfm.KeyframeMap.load(out)


def test_crash_during_publish_leaves_no_map(tmp_path, monkeypatch):
    out = str(tmp_path / "map")

    def no_dir_rename(real):
        def rename(a, b):
            if os.path.isdir(a):
                raise OSError("power cut")
            return real(a, b)
        return rename

    # a folder's rename fails, whichever call renames it (os.rename onto nothing or an empty
    # folder, os.replace over a map with overwrite)
    for name in ("replace", "rename"):
        monkeypatch.setattr(kf_writer.os, name, no_dir_rename(getattr(os, name)))
    with pytest.raises(OSError):
        kfm.write_map(out, _keyframes())
    assert not os.path.exists(out)
    assert os.listdir(tmp_path) == []


def test_empty_map_is_refused(tmp_path):
    with pytest.raises(InputError, match="no keyframes"):
        with kfm.MapWriter(str(tmp_path / "m")) as w:
            w.commit()
    assert os.listdir(tmp_path) == []


def test_bad_keyframe_inputs(tmp_path):
    rgb, cam, pose, stamp, depth = _keyframes()[0]
    with kfm.MapWriter(str(tmp_path / "m")) as w:
        with pytest.raises(InputError, match="does not match"):
            w.add_keyframe(rgb[:, :10], cam, pose, stamp)
        bad = pose.copy()
        bad[0, 0] = 3
        with pytest.raises(InputError, match="rigid"):
            w.add_keyframe(rgb, cam, bad, stamp)
        with pytest.raises(InputError, match="depth"):
            w.add_keyframe(rgb, cam, pose, stamp, depth[:10])


@pytest.mark.parametrize("version, rel", [
    (3, "keyframes/000000.png"), (3, "keyframes/000001_depth.png"),
    (3, "keyframe_table.npy"), (3, "retrieval/thumbnail/descs.npy"),
    (2, "keyframes/000000.png"), (2, "keyframes/000001_depth.png"),
    (2, "retrieval/thumbnail/descs.npy"), (2, "retrieval/thumbnail/index.json"),
    (1, "keyframes/000000.png"), (1, "retrieval.npz")])
def test_missing_or_corrupt_file_is_named(tmp_path, version, rel):
    map_path = kfm.write_map(str(tmp_path / "map"), _keyframes(), version=version)
    full = os.path.join(map_path, rel)
    data = open(full, "rb").read()
    open(full, "wb").write(data[: len(data) // 2])
    with pytest.raises(MapFormatError) as e:
        kfm.KeyframeMap.load(map_path)
    assert rel in str(e.value) and str(e.value).startswith("map file truncated or corrupt")
    os.remove(full)
    with pytest.raises(MapFormatError) as e:  # (not `match`: tmp_path's name says "missing")
        kfm.KeyframeMap.load(map_path)
    assert rel in str(e.value) and str(e.value).startswith("map file missing"), str(e.value)


def test_missing_or_short_keyframe_table_is_not_called_a_checksum_mismatch(tmp_path):
    """A removed or truncated keyframe_table.npy read "map file corrupt (checksum mismatch)" (a
    fresh user's find): it is missing / truncated, with check-map's pointer, as a PNG is, in
    the words of a map copied only in part (`incomplete_map_error`)."""
    map_path = kfm.write_map(str(tmp_path / "map"), _keyframes(), version=3)
    full = os.path.join(map_path, "keyframe_table.npy")
    data = open(full, "rb").read()
    fix = (f"; map {map_path} is incomplete (copied only in part?): rebuild it or copy it "
           "again")
    pointer = f" (`mast3r-ros check-map {map_path}` lists every problem)"
    unchecked = "; the files keyframe_table.npy lists cannot be checked until it is restored"
    open(full, "wb").write(data[:-10])
    for lazy in (False, True):
        with pytest.raises(MapFormatError) as e:
            kfm.KeyframeMap.load(map_path, lazy=lazy)
        assert str(e.value) == (f"map file truncated or corrupt ({len(data) - 10} bytes, the "
                                f"map says {len(data)}): {full}{fix}{pointer}{unchecked}")
    os.remove(full)
    with pytest.raises(MapFormatError) as e:
        kfm.KeyframeMap.load(map_path, lazy=True)
    assert str(e.value) == f"map file missing: {full}{fix}{pointer}{unchecked}"
    with pytest.raises(MapFormatError) as e:  # check-map's own open: no pointer to itself
        kfm.KeyframeMap.load(map_path, lazy=True, check_files=False)
    assert str(e.value) == f"map file missing: {full}{fix}{unchecked}"


@pytest.mark.parametrize("version", [2, 3])
def test_file_corrupted_after_open_names_the_fix(tmp_path, version):
    """A keyframe image corrupted while the localizer runs (lazy map: checked on first use) is
    named with the fix, as a missing file is at open; check-map's listing stays one fact a
    line."""
    map_path = kfm.write_map(str(tmp_path / "map"), _keyframes(), version=version)
    kmap = kfm.KeyframeMap.load(map_path, lazy=True)
    full = os.path.join(map_path, "keyframes", "000001.png")
    data = bytearray(open(full, "rb").read())
    data[-20] ^= 0xFF  # same size: only the checksum tells
    open(full, "wb").write(bytes(data))
    with pytest.raises(MapFormatError) as e:
        kmap.image(1)
    assert str(e.value) == (f"map file corrupt (checksum mismatch): {full}; `mast3r-ros "
                            f"check-map {map_path}` lists every problem; rebuild the map or "
                            "re-copy the file")
    problems = kfm.KeyframeMap.load(map_path, lazy=True, check_files=False).file_problems()
    assert problems == [f"map file corrupt (checksum mismatch): {full}"]


@pytest.mark.parametrize("version", [2, 3])
def test_check_map_listing_reaches_past_a_corrupt_retrieval_index(tmp_path, version):
    """A corrupt retrieval index (read at every open) does not stop check-map's listing at the
    first bad file: a truncated keyframe image beside it is listed too, each one a line."""
    map_path = kfm.write_map(str(tmp_path / "map"), _keyframes(), version=version)
    manifest = json.load(open(os.path.join(map_path, kfm.MANIFEST)))
    index = os.path.join(map_path, manifest["retrieval"]["index"], "index.json")
    data = bytearray(open(index, "rb").read())
    data[-2:] = b"  "  # same size, still JSON: only the checksum tells
    open(index, "wb").write(bytes(data))
    image = os.path.join(map_path, "keyframes", "000001.png")
    head = open(image, "rb").read()[:100]
    open(image, "wb").write(head)
    with pytest.raises(MapFormatError):
        kfm.KeyframeMap.load(map_path, lazy=True)  # a normal open refuses it at the first
    problems = kfm.KeyframeMap.load(map_path, lazy=True, check_files=False).file_problems()
    assert len(problems) == 2, problems
    assert f"map file corrupt (checksum mismatch): {index}" in problems
    assert any(p.startswith("map file truncated or corrupt") and p.endswith(image)
               for p in problems), problems


def test_manifest_problems_are_named(map_v2):
    map_path = map_v2
    os.rename(os.path.join(map_path, kfm.MANIFEST), os.path.join(map_path, "x.json"))
    with pytest.raises(MapFormatError, match="manifest.json: missing"):
        kfm.KeyframeMap.load(map_path)
    # a recording passed as the map (a fresh user's TUM folder as --map): said so, with the fix
    for marker, kind in (("rgb.txt", "a TUM RGB-D folder: it has rgb.txt"),
                         ("metadata.yaml", "a rosbag2: it has metadata.yaml"),
                         ("rec_0.mcap", "a rosbag2: it has rec_0.mcap")):
        rec = os.path.join(os.path.dirname(map_path), "rec_" + marker.replace(".", "_"))
        os.makedirs(rec)
        open(os.path.join(rec, marker), "w").write("")
        with pytest.raises(MapFormatError) as e:
            kfm.KeyframeMap.load(rec)
        assert str(e.value) == (
            f"{os.path.join(rec, kfm.MANIFEST)}: missing; {rec} looks like a recording ({kind}), "
            f"not a keyframe map: build a map from it with `mast3r-ros build-map {rec} --out "
            "MAP` and pass MAP")
    open(os.path.join(map_path, kfm.MANIFEST), "w").write("{not json")
    with pytest.raises(MapFormatError, match="not valid JSON .*rebuild the map or re-copy"):
        kfm.KeyframeMap.load(map_path)
    good = json.load(open(os.path.join(map_path, "x.json")))

    def check(mutate, pattern):
        m = json.loads(json.dumps(good))
        mutate(m)
        _write_manifest(map_path, m)
        with pytest.raises(MapFormatError, match=pattern):
            kfm.KeyframeMap.load(map_path)

    check(lambda m: m.update(version=99), "version 99")
    check(lambda m: m.update(format="other"), "not a mast3r_ros.keyframe_map")
    check(lambda m: m.update(keyframes=[]), "no keyframes")
    check(lambda m: m["keyframes"][1].pop("intrinsics"), r"keyframes\[1\]: missing field "
                                                          "'intrinsics'")
    check(lambda m: m["keyframes"][0]["intrinsics"].update(K=[1, 2, 3]), r"'K' must be")
    check(lambda m: m["keyframes"][0]["intrinsics"].update(K=[0] * 9), r"intrinsics: .*fx")
    check(lambda m: m["keyframes"][0]["intrinsics"]["K"].__setitem__(0, float("nan")),
          "non-finite")
    check(lambda m: m["keyframes"][2]["map_from_cam"].__setitem__(0, 2.0), "rigid transform")
    check(lambda m: m["keyframes"][0].update(stamp_ns="soon"), "'stamp_ns' has the wrong type")
    check(lambda m: m["keyframes"][0].update(depth_scale=-1.0), "depth_scale")
    check(lambda m: m["keyframes"][0].update(image="../../etc/passwd"), "not in the manifest")
    check(lambda m: m["files"].pop("retrieval/thumbnail/index.json"), "retrieval index file")
    check(lambda m: m["keyframes"][1].update(id=0), "ids are not unique")
    check(lambda m: m["keyframes"][0]["intrinsics"].update(width=65), "expects PNG 65x48")


def _replace_file(map_path, rel, data):
    """Replace a map file, recording its checksum and size: only its content is wrong (with
    the old size kept, the open reported a truncated file before looking at the content)."""
    import hashlib

    open(os.path.join(map_path, rel), "wb").write(data)
    m = _manifest(map_path)
    m["files"][rel] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    _write_manifest(map_path, m)


def test_wrong_pixel_format_is_refused(map_v2):
    map_path = map_v2
    _replace_file(map_path, "keyframes/000001_depth.png",
                  open(os.path.join(map_path, "keyframes/000001.png"), "rb").read())
    with pytest.raises(MapFormatError, match=r"000001_depth.png: PNG 64x48 RGB, keyframe 1 "
                                             "expects PNG 64x48 I;16 or I"):
        kfm.KeyframeMap.load(map_path)


def test_v1_manifest_without_retrieval_file_is_named(map_v1):
    m = _manifest(map_v1)
    m["files"].pop("retrieval.npz")
    _write_manifest(map_v1, m)
    with pytest.raises(MapFormatError, match="retrieval file"):
        kfm.KeyframeMap.load(map_v1)


def test_pickled_npz_is_refused(map_v1):
    map_path = map_v1
    import io

    bio = io.BytesIO()
    np.savez(bio, thumbnail=np.array([{"a": 1}], dtype=object))
    _replace_file(map_path, "retrieval.npz", bio.getvalue())
    with pytest.raises(MapFormatError, match="retrieval.npz: not a readable npz"):
        kfm.KeyframeMap.load(map_path)


def _encodings(identity, n=3, size=224, c=8, seed=0):
    rng = np.random.default_rng(seed)
    per = [{"feats": rng.normal(size=(196, c)).astype(np.float16),
            "true_shape": np.array([224, 224])} for _ in range(n)]
    glob = rng.normal(size=(n, c)).astype(np.float32)
    return kfm.EncodingSet(identity, size, per, np.tile(np.eye(3), (n, 1, 1)), glob)


def test_encodings_are_keyed_by_checkpoint_and_size(any_map):
    map_path = any_map
    m = kfm.KeyframeMap.load(map_path)
    enc = _encodings("ckptA")
    m.save_encodings(enc)
    m2 = kfm.KeyframeMap.load(map_path)
    assert m2.encoding_keys() == [("ckptA", 224)]
    got = m2.load_encodings("ckptA", 224)
    for a, b in zip(got.per_keyframe, enc.per_keyframe):
        np.testing.assert_array_equal(a["feats"], b["feats"])
        assert a["feats"].dtype == np.float16
    assert m2.load_encodings("ckptB", 224) is None
    assert m2.load_encodings("ckptA", 512) is None
    m2.save_encodings(_encodings("ckptB", seed=1))
    m2.save_encodings(_encodings("ckptA", seed=2))  # replaces, does not duplicate
    m3 = kfm.KeyframeMap.load(map_path)
    assert sorted(m3.encoding_keys()) == [("ckptA", 224), ("ckptB", 224)]
    np.testing.assert_array_equal(m3.load_encodings("ckptA", 224).global_desc,
                                  _encodings("ckptA", seed=2).global_desc)
    with pytest.raises(InputError):
        m3.save_encodings(_encodings("ckptC", n=2))


def test_encodings_file_from_another_checkpoint_is_detected(map_v1):
    map_path = map_v1
    m = kfm.KeyframeMap.load(map_path)
    m.save_encodings(_encodings("ckptA"))
    m.save_encodings(_encodings("ckptB"))
    man = _manifest(map_path)
    a, b = man["encodings"]
    a["file"], b["file"] = b["file"], a["file"]  # swapped: each entry names the other's file
    _write_manifest(map_path, man)
    m = kfm.KeyframeMap.load(map_path)
    with pytest.raises(MapFormatError, match="another checkpoint"):
        m.load_encodings("ckptA", 224)


def test_keyframe_selection_by_distance_and_rotation():
    line = [make_pose(np.eye(3), [0.1 * i, 0, 0]) for i in range(10)]
    assert kfm.select_keyframes(line, 0.25, 90) == [0, 3, 6, 9]
    turn = [make_pose(Rotation.from_euler("z", 7 * i, degrees=True).as_matrix(), [0, 0, 0])
            for i in range(10)]
    assert kfm.select_keyframes(turn, 1.0, 20) == [0, 3, 6, 9]
    assert kfm.select_keyframes([], 0.1, 1) == []


def test_keyframe_selection_threshold_is_at_least():
    """'New keyframe after this much travel' (config): a move of exactly the threshold is a
    keyframe (0.5 m is exact in binary), and thresholds of 0 keep every frame, a repeated
    pose included."""
    poses = [make_pose(np.eye(3), [x, 0, 0]) for x in (0.0, 0.25, 0.5, 1.0)]
    assert kfm.select_keyframes(poses, 0.5, 90) == [0, 2, 3]
    same = [np.eye(4)] * 3
    assert kfm.select_keyframes(same, 0.0, 0.0) == [0, 1, 2]


def test_keyframe_selector_keeps_a_copy_of_the_last_keyframe():
    """A caller that reuses one pose buffer (a ROS callback filling the same array) must not
    move the selector's last keyframe with it."""
    sel = kfm.KeyframeSelector(0.3, 20)
    buf = np.eye(4)
    assert sel.offer(buf)
    buf[0, 3] = 1.0
    assert sel.offer(buf)
    buf[0, 3] = 1.1
    assert not sel.offer(buf)


def test_a_map_path_with_a_tilde_is_expanded(map_path, monkeypatch):
    """map_path: ~/maps/office in a parameter file (the launch file expands map:=, the YAML
    value was taken literally: 'map folder not found: ~/...')."""
    import os

    monkeypatch.setenv("HOME", os.path.dirname(map_path))
    m = kfm.KeyframeMap.load("~/" + os.path.basename(map_path))
    assert len(m) > 0


def test_map_and_run_files_are_readable_by_other_users(tmp_path):
    """Atomic writes went through tempfile.mkstemp, whose 0600 the rename kept: manifest.json,
    the tables, encoding chunks and trajectory.tum were unreadable to a ROS service account
    (a fresh user's find). Files now get 0666 minus the umask, as open() gives."""
    import os
    import stat

    from mast3r_ros.core.fileio import atomic_write_bytes
    from mast3r_ros.replay.tum import write_tum_trajectory

    old = os.umask(0o022)
    try:
        path = kfm.write_map(str(tmp_path / "map"), _keyframes())
        write_tum_trajectory(str(tmp_path / "t.tum"), [0], [np.eye(4)])
        atomic_write_bytes(str(tmp_path / "b.bin"), b"x")
        os.umask(0o077)
        atomic_write_bytes(str(tmp_path / "private.bin"), b"x")
    finally:
        os.umask(old)
    files = [os.path.join(r, f) for r, _, fs in os.walk(path) for f in fs]
    files += [str(tmp_path / "t.tum"), str(tmp_path / "b.bin")]
    modes = {f: stat.S_IMODE(os.stat(f).st_mode) for f in files}
    assert len(files) > 5 and all(m == 0o644 for m in modes.values()), modes
    assert stat.S_IMODE(os.stat(tmp_path / "private.bin").st_mode) == 0o600  # umask honoured


def test_keyframe_index_must_be_an_int(tmp_path):
    cam = CameraIntrinsics(32, 24, [[30.0, 0, 15.5], [0, 30.0, 11.5], [0, 0, 1]])
    path = kfm.write_map(str(tmp_path / "m"), [(np.zeros((24, 32, 3), np.uint8), cam, np.eye(4),
                                                 k, None) for k in (0, 1)])  # not one frame twice
    m = kfm.KeyframeMap.load(path)
    assert m.keyframe(np.int64(1)).id == 1
    for bad in (0.5, "1", True):  # 0.5 was keyframe 0, "x" a bare ValueError
        with pytest.raises(InputError, match="keyframe index must be an int"):
            m.keyframe(bad)


def test_keyframe_selector_refuses_a_malformed_first_pose():
    """`KeyframeSelector.offer` kept its first pose unchecked: a (3, 3) rotation (or a NaN
    pose) became a keyframe, and the second offer failed with "pose_error: a must be a 4x4
    pose", blaming a pose the caller had not just passed. The first is refused at once, named."""
    from mast3r_ros.core.keyframes import KeyframeSelector, select_keyframes

    for bad in (np.eye(3), np.full((4, 4), np.nan)):
        sel = KeyframeSelector(0.1, 5.0)
        with pytest.raises(InputError, match="KeyframeSelector.offer: map_from_cam"):
            sel.offer(bad)
        assert sel.last is None
    assert select_keyframes([np.eye(4)] * 3, 0.1, 5.0) == [0]


@pytest.mark.parametrize("shape", [(4, 4, 3), (5,), (), (0, 4)])
def test_depth_to_png_refuses_what_is_not_a_depth_image(shape):
    """`depth_to_png` (exported by core.keyframes) encoded whatever it got: a (4, 4, 3) array
    became a 3-channel 16-bit PNG, a (5,) row or a scalar a PNG too, each returned with a
    scale as if it were a depth map (add_keyframe checks the shape first; a direct caller got
    nothing back). Each is an `InputError` naming the shape; (H, W, 1) is still its (H, W)."""
    with pytest.raises(InputError, match=r"must be a non-empty \(H, W\) z-depth image"):
        kfm.depth_to_png(np.ones(shape, np.float32))
    one = kfm.depth_to_png(np.ones((4, 4, 1), np.float32))
    assert one == kfm.depth_to_png(np.ones((4, 4), np.float32))


@pytest.mark.parametrize("given", ["site", "site/"])
def test_a_missing_map_beside_its_interrupted_build_names_the_build(tmp_path, given):
    """`build-map --resume` interrupted leaves MAP.partial and no MAP: 'map folder not found:
    MAP (build one with build-map)' sent the user to start over; the open (and localize's
    check before a bag is indexed) names MAP.partial and --resume."""
    os.mkdir(tmp_path / "site.partial")
    for opener in (kfm.KeyframeMap.load, kfm.KeyframeMap.check_folder):
        with pytest.raises(MapFormatError) as e:
            opener(os.path.join(str(tmp_path), given))  # pathlib drops a trailing '/'
        msg = str(e.value)
        assert "map folder not found" in msg and "site.partial" in msg and "--resume" in msg, msg
