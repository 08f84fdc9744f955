"""Map format v3 (issue 11): per-keyframe records and chunk checksums in memory-mapped binary
tables, validated at open; missing or truncated files reported at open; checksums still lazy."""

import builtins
import hashlib
import json
import os

import numpy as np
import pytest

from mast3r_ros.core import keyframes as kfm
from mast3r_ros.core.errors import MapFormatError
from mast3r_ros.core.keyframes import KeyframeMap
from mast3r_ros.core.keyframes.table import KEYFRAME_DTYPE, KeyframeTable
from mast3r_ros.replay.cli import main

from test_keyframes import _encodings, _keyframes


@pytest.fixture
def map_v3(tmp_path):
    path = kfm.write_map(str(tmp_path / "map"), _keyframes())
    KeyframeMap.load(path).save_encodings(_encodings("ckptA"))
    return path


def _manifest(path):
    with open(os.path.join(path, kfm.MANIFEST)) as fh:
        return json.load(fh)


def _rewrite_table(path, mutate):
    """Change keyframe_table.npy and record its new checksum, so only the content is wrong."""
    full = os.path.join(path, "keyframe_table.npy")
    table = mutate(np.load(full).copy())
    with open(full, "wb") as fh:
        np.save(fh, table)
    man = _manifest(path)
    man["files"]["keyframe_table.npy"]["sha256"] = hashlib.sha256(
        open(full, "rb").read()).hexdigest()
    man["files"]["keyframe_table.npy"]["bytes"] = os.path.getsize(full)
    with open(os.path.join(path, kfm.MANIFEST), "w") as fh:
        json.dump(man, fh)


def _chunks(path):
    enc = [os.path.join(dp, f) for dp, _, fs in os.walk(os.path.join(path, "encodings"))
           for f in fs if f.startswith("chunk_0")]
    return sorted(enc)


def test_v3_manifest_holds_no_per_keyframe_entries(map_v3):
    m = KeyframeMap.load(map_v3)
    assert m.version == 3 and "keyframes" not in m.manifest
    assert not any(f.startswith("keyframes/") or "chunk_0" in f for f in m.manifest["files"])
    assert m.manifest["keyframe_table"]["num_keyframes"] == 3
    assert isinstance(m.keyframes, KeyframeTable)
    enc = m.load_encodings("ckptA", 224)
    for i in range(3):
        np.testing.assert_array_equal(enc.per_keyframe[i]["feats"],
                                      _encodings("ckptA").per_keyframe[i]["feats"])


def test_a_store_record_read_once_gives_the_keyframe_entry(map_v3):
    """merge-maps reads each store record once for both the arrays and to_orig: the arrays it
    takes from that record are the keyframe's entry as per_keyframe gives it."""
    m = KeyframeMap.load(map_v3)
    enc, store = m.load_encodings("ckptA", 224), m.encoding_store("ckptA", 224)
    for i in range(3):
        got, want = enc.per_keyframe.arrays(store.get(i)), enc.per_keyframe[i]
        assert sorted(got) == sorted(want) == ["feats", "true_shape"] and "to_orig" not in got
        for k in want:
            np.testing.assert_array_equal(got[k], want[k])


def test_keyframe_table_keeps_its_documented_field_types_and_epoch_stamps(tmp_path):
    """The on-disk dtype is the format other versions read (table.py's docstring): stamp_ns
    int64 (an epoch stamp in ns needs 61 bits: float64 would drop its last digits), the pose
    and depth_scale float64, little-endian."""
    kfs = _keyframes(n=2)
    stamp = 1_700_000_000_123_456_789
    kfs[0] = kfs[0][:3] + (stamp,) + kfs[0][4:]
    path = kfm.write_map(str(tmp_path / "map"), kfs)
    f = np.load(os.path.join(path, "keyframe_table.npy"), mmap_mode="r").dtype.fields
    assert [f[k][0] for k in ("id", "stamp_ns", "depth_scale", "width")] == [
        np.dtype("<i8"), np.dtype("<i8"), np.dtype("<f8"), np.dtype("<i4")]
    assert f["map_from_cam"][0] == np.dtype(("<f8", (4, 4)))
    assert KeyframeMap.load(path).keyframe(0).stamp_ns == stamp


def test_encodings_copied_from_a_map_of_other_keyframes_are_refused_naming_the_counts(tmp_path):
    """A 2-keyframe map's encoding store listed by a 3-keyframe map: the store is named with
    both counts (not a later index's row count)."""
    import shutil

    a = kfm.write_map(str(tmp_path / "a"), _keyframes())
    b = kfm.write_map(str(tmp_path / "b"), _keyframes(n=2))
    KeyframeMap.load(b).save_encodings(_encodings("ckptA", n=2))
    ma, mb = _manifest(a), _manifest(b)
    shutil.copytree(os.path.join(b, "encodings"), os.path.join(a, "encodings"))
    ma["encodings"] = mb["encodings"]
    ma["files"].update({k: v for k, v in mb["files"].items() if k.startswith("encodings/")})
    with open(os.path.join(a, kfm.MANIFEST), "w") as fh:
        json.dump(ma, fh)
    with pytest.raises(MapFormatError, match=r"encodings store '.*': 2 keyframes, the map has 3"):
        KeyframeMap.load(a)


def test_keyframe_objects_are_made_on_access(map_v3):
    m = KeyframeMap.load(map_v3, lazy=True)
    assert len(m.keyframes._made) == 0  # opening made no per-keyframe object
    kf = m.keyframes[1]
    assert len(m.keyframes._made) == 1 and m.keyframe(1) is kf
    assert m.keyframe_index(2) == 2 and m.poses().shape == (3, 4, 4)


def test_a_keyframe_read_every_frame_is_built_once_not_per_access(map_v3, monkeypatch):
    # a localizer reads its candidates' records every frame and drops them: the weak cache
    # alone rebuilt each one (its CameraIntrinsics checked again) on every frame (issue 9)
    from mast3r_ros.core.keyframes import table

    m = KeyframeMap.load(map_v3, lazy=True)
    built = []
    real = table.CameraIntrinsics
    monkeypatch.setattr(table, "CameraIntrinsics", lambda *a: built.append(a) or real(*a))
    first = m.keyframes[1].map_from_cam.copy()
    for _ in range(5):  # nobody holds the record between accesses
        assert np.array_equal(m.keyframes[1].map_from_cam, first)
    assert len(built) == 1
    monkeypatch.setattr(KeyframeTable, "RECENT", 2)  # bounded: the oldest is built again
    for i in (0, 2, 0):  # 1 is the least recently read when 2 comes
        m.keyframes[i]
    assert len(built) == 3 and list(m.keyframes._recent) == [2, 0]
    m.keyframes[1]
    assert len(built) == 4


def test_lazy_v3_open_reads_only_the_tables_and_the_index(map_v3, monkeypatch):
    opened = []
    real = builtins.open

    def spy(file, *a, **k):
        opened.append(os.path.relpath(os.fspath(file), map_v3))
        return real(file, *a, **k)

    monkeypatch.setattr(builtins, "open", spy)
    KeyframeMap.load(map_v3, lazy=True)
    monkeypatch.setattr(builtins, "open", real)
    assert not any(f.startswith("keyframes/") or "chunk_0" in f for f in opened), opened
    assert "keyframe_table.npy" in opened


@pytest.mark.parametrize("mutate, pattern", [
    (lambda t: (t["map_from_cam"].__setitem__((2, 0, 0), 2.0), t)[1],
     r"keyframe_table.npy: row 2: 'map_from_cam' is not a rigid transform"),
    (lambda t: (t["K"].__setitem__((1, 0, 0), 0.0), t)[1], r"row 1: 'K' must be finite"),
    (lambda t: (t["id"].__setitem__(1, 0), t)[1], "ids are not unique"),
    (lambda t: (t["distortion_model"].__setitem__(0, 5), t)[1], "distortion_models"),
    (lambda t: (t["depth_scale"].__setitem__(1, -1.0), t)[1], "depth_scale"),
    (lambda t: t[:2], r"keyframe_table.npy: expected 3 rows"),
    (lambda t: t["map_from_cam"], r"keyframe_table.npy: expected 3 rows"),
])
def test_keyframe_table_problems_are_named(map_v3, mutate, pattern):
    _rewrite_table(map_v3, mutate)
    with pytest.raises(MapFormatError, match=pattern):
        KeyframeMap.load(map_v3, lazy=True)


def test_keyframe_table_checksum_and_manifest_count(map_v3):
    man = _manifest(map_v3)
    man["keyframe_table"]["num_keyframes"] = 4
    with open(os.path.join(map_v3, kfm.MANIFEST), "w") as fh:
        json.dump(man, fh)
    with pytest.raises(MapFormatError, match="expected 4 rows"):
        KeyframeMap.load(map_v3, lazy=True)
    man["keyframe_table"]["num_keyframes"] = 3
    with open(os.path.join(map_v3, kfm.MANIFEST), "w") as fh:
        json.dump(man, fh)
    full = os.path.join(map_v3, "keyframe_table.npy")
    data = bytearray(open(full, "rb").read())
    data[-1] ^= 1
    open(full, "wb").write(bytes(data))
    with pytest.raises(MapFormatError, match="corrupt .*keyframe_table.npy"):
        KeyframeMap.load(map_v3, lazy=True)
    assert KEYFRAME_DTYPE.itemsize < 512  # fixed size per keyframe


def test_an_edited_keyframe_count_names_the_manifest_and_sizes_per_row(map_v3, capsys):
    """manifest.json's num_keyframes edited (3 -> 4) said 'expected 4 rows of 14 fields
    (428 B), found 3 rows of 14 fields (428 B); rebuild the map or re-copy the file': one row's
    size read as the file's, and re-copying the table (which is whole) does not help."""
    man = _manifest(map_v3)
    man["keyframe_table"]["num_keyframes"] = 4
    with open(os.path.join(map_v3, kfm.MANIFEST), "w") as fh:
        json.dump(man, fh)
    full = os.path.join(map_v3, "keyframe_table.npy")
    size, fields = KEYFRAME_DTYPE.itemsize, len(KEYFRAME_DTYPE.names)
    with pytest.raises(MapFormatError) as e:
        KeyframeMap.load(map_v3, lazy=True)
    assert str(e.value) == (
        f"map file {full}: expected 4 rows of {fields} fields ({size} B per row, {4 * size} B in "
        f"all), found 3 rows of {fields} fields ({size} B per row, {3 * size} B in all); the file "
        "matches its checksum, so manifest.json's keyframe_table.num_keyframes (4) disagrees "
        "with it: an edited manifest? set it back to 3, or rebuild the map"), str(e.value)
    assert main(["check-map", map_v3]) == 2
    assert "set it back to 3, or rebuild the map" in capsys.readouterr().err
    # an encoding store's chunk count alike (the keyframe count restored)
    man["keyframe_table"]["num_keyframes"] = 3
    man["encodings"][0]["table"]["num_chunks"] = 2
    with open(os.path.join(map_v3, kfm.MANIFEST), "w") as fh:
        json.dump(man, fh)
    with pytest.raises(MapFormatError) as e:
        KeyframeMap.load(map_v3, lazy=True).load_encodings("ckptA", 224)
    assert str(e.value).endswith(
        "found 1 row of 4 fields (56 B); the file matches its checksum, so manifest.json's "
        "encodings[].table.num_chunks (2) disagrees with it: an edited manifest? set it back "
        "to 1, or rebuild the map"), str(e.value)


def test_damaged_table_bytes_are_reported_as_corruption_not_as_a_bad_pose(map_v3, tmp_path):
    """Bytes of a pose flipped on disk (the manifest's checksum untouched) fail the rigidity
    check first while streaming; the error must say the file is corrupt (fresh-user finding:
    it read as if the source poses were wrong). A file given as the map is named as such."""
    full = os.path.join(map_v3, "keyframe_table.npy")
    table = np.load(full)
    offset = len(open(full, "rb").read()) - table.nbytes
    pose_at = offset + KEYFRAME_DTYPE.itemsize * 1 + KEYFRAME_DTYPE.fields["map_from_cam"][1]
    data = bytearray(open(full, "rb").read())
    data[pose_at:pose_at + 8] = np.float64(7.0).tobytes()
    open(full, "wb").write(bytes(data))
    with pytest.raises(MapFormatError, match=r"corrupt \(checksum mismatch\): .*keyframe_table"):
        KeyframeMap.load(map_v3, lazy=True)
    not_a_map = tmp_path / "model.pth"
    not_a_map.write_bytes(b"x")
    with pytest.raises(MapFormatError, match="is a file, not a map folder"):
        KeyframeMap.load(str(not_a_map), lazy=True)


@pytest.mark.parametrize("which", ["image", "chunk"])
def test_missing_or_truncated_files_are_named_at_open(map_v3, which, capsys):
    full = (os.path.join(map_v3, "keyframes/000002.png") if which == "image"
            else _chunks(map_v3)[0])
    data = open(full, "rb").read()
    open(full, "wb").write(data[:-10])
    with pytest.raises(MapFormatError, match="truncated") as e:
        KeyframeMap.load(map_v3, lazy=True)
    assert full in str(e.value) and "check-map" in str(e.value)
    os.remove(full)
    os.remove(os.path.join(map_v3, "keyframes/000000.png"))
    with pytest.raises(MapFormatError, match="missing") as e:
        KeyframeMap.load(map_v3, lazy=True)
    assert "1 more" in str(e.value) and "check-map" in str(e.value)
    # check-map lists every problem, then exits 2 with one line
    assert main(["check-map", map_v3]) == 2
    out = capsys.readouterr()
    assert full in out.out and "000000.png" in out.out and "2 map files" in out.err


def test_same_size_corruption_is_named_on_first_use(map_v3, capsys):
    chunk = _chunks(map_v3)[0]
    data = bytearray(open(chunk, "rb").read())
    data[-3] ^= 0xFF
    open(chunk, "wb").write(bytes(data))
    m = KeyframeMap.load(map_v3, lazy=True)  # sizes are right: opening reads no chunk
    enc = m.load_encodings("ckptA", 224)
    with pytest.raises(MapFormatError, match="corrupt") as e:
        enc.per_keyframe[0]
    assert chunk in str(e.value)
    with pytest.raises(MapFormatError, match="corrupt") as e:
        KeyframeMap.load(map_v3)  # an eager open verifies every chunk
    assert chunk in str(e.value)
    assert main(["check-map", map_v3]) == 2
    assert chunk in capsys.readouterr().out


def test_v2_map_still_loads_and_converts_by_merge(tmp_path):
    from mast3r_ros.replay.map_build import merge_maps

    a = kfm.write_map(str(tmp_path / "a"), _keyframes(), version=2)
    b = kfm.write_map(str(tmp_path / "b"), _keyframes(n=2, seed=4), version=3)
    assert KeyframeMap.load(a).version == 2
    assert merge_maps(a, b, str(tmp_path / "c")) == 5
    m = KeyframeMap.load(str(tmp_path / "c"))
    assert m.version == 3 and len(m) == 5 and [k.id for k in m.keyframes] == list(range(5))
    np.testing.assert_array_equal(m.image(3), KeyframeMap.load(b).image(0))


def _vectors(n, seed):
    """n random ASMK vectors (16 words, 32-dim codes)."""
    from mast3r_ros.core.asmk import AsmkVector

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        words = np.sort(rng.choice(16, size=int(rng.integers(1, 6)), replace=False))
        out.append(AsmkVector(words, rng.integers(0, 256, (len(words), 4), dtype=np.uint8)))
    return out


def _map_with_asmk(path, frames, enc, vecs):
    from mast3r_ros.core.asmk import AsmkIndex

    with kfm.MapWriter(path) as w:
        for rgb, cam, pose, stamp, depth in frames:
            w.add_keyframe(rgb, cam, pose, stamp, depth)
        w.add_asmk(AsmkIndex.build(vecs, 16, 32, "asmk-test"), "ckptA", 224)
        w.commit()
    KeyframeMap.load(path).save_encodings(enc)
    return path


def test_merge_of_two_maps_of_one_recording_drops_the_shared_frames(tmp_path, caplog):
    """Two maps built from one recording share frames (same stamp, same pixels): the merged
    map holds each frame once, with its encodings and ASMK entries, and says how many went."""
    from mast3r_ros.core.asmk import AsmkIndex
    from mast3r_ros.replay.map_build import merge_maps

    frames = _keyframes(n=5)
    enc = _encodings("ckptA", n=5)
    vecs = _vectors(5, seed=1)
    sub = lambda e, idx: kfm.EncodingSet(  # noqa: E731
        "ckptA", 224, [e.per_keyframe[i] for i in idx], e.to_orig[idx], e.global_desc[idx])
    a_idx, b_idx = [0, 1, 2], [1, 3, 2, 4]  # B shares frames 1 and 2 with A
    a = _map_with_asmk(str(tmp_path / "a"), [frames[i] for i in a_idx], sub(enc, a_idx),
                       [vecs[i] for i in a_idx])
    b = _map_with_asmk(str(tmp_path / "b"), [frames[i] for i in b_idx], sub(enc, b_idx),
                       [vecs[i] for i in b_idx])
    with caplog.at_level("INFO"):
        assert merge_maps(a, b, str(tmp_path / "c")) == 5
    assert "2 keyframe(s)" in caplog.text and "dropped" in caplog.text
    assert "not in one frame" not in caplog.text
    m = KeyframeMap.load(str(tmp_path / "c"))
    want = [0, 1, 2, 3, 4]  # A's three, then B's frames 3 and 4
    assert [k.stamp_ns for k in m.keyframes] == [frames[i][3] for i in want]
    for j, i in enumerate(want):
        np.testing.assert_array_equal(m.image(j), frames[i][0])
    got = m.load_encodings("ckptA", 224)
    np.testing.assert_array_equal(got.global_desc, enc.global_desc[want])
    for j, i in enumerate(want):
        np.testing.assert_array_equal(got.per_keyframe[j]["feats"], enc.per_keyframe[i]["feats"])
    asmk, ref = m.load_asmk("asmk-test", "ckptA", 224), AsmkIndex.build(vecs, 16, 32)
    for name in ("offsets", "image_ids", "codes", "words_per_image"):
        np.testing.assert_array_equal(getattr(asmk, name), getattr(ref, name))
    # kept on request (the CLI option): A's and B's keyframes all there
    assert main(["merge-maps", a, b, "--out", str(tmp_path / "d"), "--keep-duplicates"]) == 0
    assert KeyframeMap.load(str(tmp_path / "d")).load_asmk(
        "asmk-test", "ckptA", 224).num_images == 7


def test_merge_keeps_what_every_contributing_map_holds_and_warns_of_the_rest(tmp_path, caplog):
    """merge-maps A B with B lacking A's encodings and ASMK index dropped them without a word,
    even when every keyframe of B was a copy of one of A's (B giving nothing, A's stores were
    whole). Now: kept when every map that gives keyframes holds them, else a warning per store."""
    from mast3r_ros.core.asmk import AsmkIndex
    from mast3r_ros.replay.map_build import merge_maps

    frames, enc, vecs = _keyframes(n=4), _encodings("ckptA", n=4), _vectors(4, seed=2)
    a = _map_with_asmk(str(tmp_path / "a"), frames[:3], kfm.EncodingSet(
        "ckptA", 224, enc.per_keyframe[:3], enc.to_orig[:3], enc.global_desc[:3]), vecs[:3])
    dup = kfm.write_map(str(tmp_path / "dup"), [frames[1], frames[2]])  # A's frames, no stores
    with caplog.at_level("WARNING"):
        assert merge_maps(a, dup, str(tmp_path / "c")) == 3
    assert "merge-maps" not in caplog.text  # nothing lost: B gave no keyframe
    m = KeyframeMap.load(str(tmp_path / "c"))
    np.testing.assert_array_equal(m.load_encodings("ckptA", 224).global_desc,
                                  enc.global_desc[:3])
    ref = AsmkIndex.build(vecs[:3], 16, 32)
    assert np.array_equal(m.load_asmk("asmk-test", "ckptA", 224).codes, ref.codes)
    # B gives a new frame and lacks both: both dropped, each with a warning naming B
    new = kfm.write_map(str(tmp_path / "new"), [frames[3]])
    caplog.clear()
    with caplog.at_level("WARNING"):
        assert merge_maps(a, new, str(tmp_path / "d")) == 4
    warned = [r.getMessage() for r in caplog.records if "merged map has none" in r.getMessage()]
    assert len(warned) == 2, warned  # (and one that the random frames share no view)
    assert any(f"cached encodings ckptA/224 of {a} are not in {new}" in w for w in warned)
    # (it said "index ... are not in")
    assert any(f"ASMK retrieval index asmk-test/ckptA/224 of {a} is not in {new}" in w
               and "build-map" in w for w in warned)
    m = KeyframeMap.load(str(tmp_path / "d"))
    assert m.encoding_keys() == [] and m.asmk_keys() == []


def test_keyframe_pixels_take_integer_indices_only(map_v3):
    """KeyframeMap.image(0.5) returned keyframe 0's image (the table truncated the float),
    while keyframe(0.5) raised: a float index is refused as a list refuses it."""
    m = KeyframeMap.load(map_v3)
    for bad in (0.5, 1.0, "1"):
        with pytest.raises(TypeError):
            m.image(bad)
        with pytest.raises(TypeError):
            m.depth(bad)
    np.testing.assert_array_equal(m.image(np.int64(2)), m.image(-1))
    assert m.keyframes[np.int32(1)].id == m.keyframes[1].id


def test_merge_warns_when_copies_of_one_frame_disagree_on_the_pose(tmp_path, caplog):
    from mast3r_ros.replay.map_build import merge_maps

    frames = _keyframes(n=2)
    moved = [(rgb, cam, pose.copy(), stamp, depth) for rgb, cam, pose, stamp, depth in frames]
    for f in moved:
        f[2][0, 3] += 0.05  # 5 cm along the map's x
    a = kfm.write_map(str(tmp_path / "a"), frames)
    b = kfm.write_map(str(tmp_path / "b"), moved)
    with caplog.at_level("INFO"):
        assert merge_maps(a, b, str(tmp_path / "c")) == 2
    assert "0.05 m" in caplog.text and "not in one frame" in caplog.text


def test_merge_warns_when_a_dropped_copy_has_depth_at_another_scale(tmp_path, capsys):
    """`merge-maps A B` with B built from the same frames at another depth scale dropped B's
    copies with an INFO line only (a pose difference is warned about, a depth scale was not):
    now a warning names both maps and the ratio; equal depths say nothing."""
    frames = _keyframes(n=4)  # frame 2 has no depth
    scaled = [(rgb, cam, pose, stamp, None if depth is None else depth * 5)
              for rgb, cam, pose, stamp, depth in frames]
    a = kfm.write_map(str(tmp_path / "a"), frames)
    b = kfm.write_map(str(tmp_path / "b"), scaled[1:])
    same = kfm.write_map(str(tmp_path / "same"), frames[1:])
    capsys.readouterr()
    assert main(["merge-maps", a, b, "--out", str(tmp_path / "c")]) == 0
    err = capsys.readouterr().err.splitlines()
    warned = [ln for ln in err if ln.startswith("[WARNING]")]
    assert len(warned) == 1, err
    assert (f"2 keyframe(s) of {b} are frames {a} holds too, but with depth 5 times theirs: the "
            "maps were built with different depth scales") in warned[0], warned
    assert f"the merged map keeps {a}'s depth and drops {b}'s" in warned[0]
    assert len(KeyframeMap.load(str(tmp_path / "c"))) == 4
    assert main(["merge-maps", a, same, "--out", str(tmp_path / "d")]) == 0
    err = capsys.readouterr().err
    assert "dropped" in err and "[WARNING]" not in err, err


@pytest.mark.parametrize("rel, damage, expected", [
    # one field's byte order flipped: the two dtypes differ only inside their long field lists
    ("chunk_table.npy", lambda d: d.replace(b"'<i8'", b"'>i8'", 1),
     "expected 1 row of 4 fields (56 B), found 1 row of 4 fields (56 B) with other field "
     "types"),
    # (a byte of the header's padding taken for the one added: a table not its recorded size
    # is refused as cut short before it is parsed, `incomplete_map_error`)
    ("chunk_table.npy", lambda d: d.replace(b"'shape': (", b"'shape': (1", 1).replace(
        b" \n", b"\n", 1),
     "expected 1 row of 4 fields (56 B), found 11 rows of 4 fields (56 B per row, 616 B in "
     "all)"),
    # the magic string gone: numpy's own message suggests allow_pickle
    ("pooled/descs.npy", lambda d: b"X" + d[1:],
     "expected float32 (3, 8), found a .npy header that does not parse"),
    ("pooled/descs.npy", lambda d: d.replace(b"'<f4'", b"'>f4'", 1),
     "expected float32 (3, 8), found float32 big-endian (3, 8)"),
    # numpy's header parser raises more than ValueError: its tokenizer's TokenError (a
    # bracket left open), a TypeError (a bytes key sorted beside the str ones)
    ("chunk_table.npy", lambda d: d.replace(b"'shape': (", b"'shape': ((", 1).replace(
        b" \n", b"\n", 1),
     "expected 1 row of 4 fields (56 B), found a .npy header that does not parse"),
    ("pooled/descs.npy", lambda d: d.replace(b", 'shape'", b",B'shape'", 1),
     "expected float32 (3, 8), found a .npy header that does not parse"),
])
def test_a_damaged_npy_header_is_one_short_line(map_v3, rel, damage, expected):
    store, = os.listdir(os.path.join(map_v3, "encodings"))
    full = os.path.join(map_v3, "encodings", store, rel)
    with open(full, "rb") as fh:
        data = fh.read()
    with open(full, "wb") as fh:
        fh.write(damage(data))
    with pytest.raises(MapFormatError) as e:
        KeyframeMap.load(map_v3, lazy=True).load_encodings("ckptA", 224)
    assert str(e.value) == f"map file {full}: {expected}; rebuild the map or re-copy the file"


def test_a_cut_keyframe_table_says_the_files_it_lists_are_not_checked(map_v3, capsys):
    # check-map names the table only: the keyframe PNGs (one corrupt here) are known through
    # it, so "lists every problem" must say that those could not be checked
    table = os.path.join(map_v3, "keyframe_table.npy")
    data = open(table, "rb").read()
    open(table, "wb").write(data[:len(data) // 2])
    png = os.path.join(map_v3, "keyframes/000001.png")
    raw = bytearray(open(png, "rb").read())
    raw[-20] ^= 0xFF
    open(png, "wb").write(bytes(raw))
    with pytest.raises(MapFormatError, match="truncated") as e:
        KeyframeMap.load(map_v3, lazy=True)
    assert ("the files keyframe_table.npy lists cannot be checked until it is restored"
            in str(e.value))
    assert main(["check-map", map_v3]) == 2
    err = capsys.readouterr().err
    assert "keyframe_table.npy lists cannot be checked" in err, err


def test_a_cut_image_names_no_table(map_v3):
    png = os.path.join(map_v3, "keyframes/000001.png")
    open(png, "wb").write(open(png, "rb").read()[:-10])
    with pytest.raises(MapFormatError, match="truncated") as e:
        KeyframeMap.load(map_v3, lazy=True)
    assert "cannot be checked" not in str(e.value)
