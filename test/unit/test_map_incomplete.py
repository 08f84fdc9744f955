"""A map copied only in part (its manifest there, but keyframes/, retrieval/ or encodings/
missing, a keyframe file missing or empty: an rsync or scp stopped after manifest.json) is
refused by `KeyframeMap.check_folder`, the check that `localize` (before a rosbag2 is indexed)
and `merge-maps` (before map A is read whole) make first, in the words of the map's own open
(`incomplete_map_error`, one rule): before, that check read the manifest only, and such a map
was found after the long work. The check stats files; it reads no image or array."""

import json
import os
import shutil

import pytest

from mast3r_ros.core import keyframes as kfm
from mast3r_ros.core.errors import MapFormatError
from mast3r_ros.core.keyframes import KeyframeMap
from mast3r_ros.replay.cli import main

from test_keyframes import _encodings, _keyframes


@pytest.fixture(scope="module", params=[1, 2, 3])
def whole_map(request, tmp_path_factory):
    """A map of each format version with cached encodings (not to be changed: copy it)."""
    path = kfm.write_map(str(tmp_path_factory.mktemp(f"v{request.param}") / "map"),
                         _keyframes(), version=request.param)
    KeyframeMap.load(path).save_encodings(_encodings("ckptA"))
    return path


def _retrieval(path):
    return os.path.join(path, "retrieval") if os.path.isdir(os.path.join(path, "retrieval")) \
        else os.path.join(path, "retrieval.npz")  # v1


DAMAGE = {
    "keyframes-missing": lambda p: shutil.rmtree(os.path.join(p, "keyframes")),
    "one-keyframe-missing": lambda p: os.remove(os.path.join(p, "keyframes", "000001.png")),
    "retrieval-missing": lambda p: (shutil.rmtree if os.path.isdir(_retrieval(p))
                                    else os.remove)(_retrieval(p)),
    "encodings-missing": lambda p: shutil.rmtree(os.path.join(p, "encodings")),
    "empty-file": lambda p: open(os.path.join(p, "keyframes", "000000.png"), "wb").close(),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_check_folder_refuses_a_map_copied_only_in_part_as_the_open_does(whole_map, tmp_path,
                                                                         damage):
    copy = str(tmp_path / "copy")
    shutil.copytree(whole_map, copy)
    DAMAGE[damage](copy)
    with pytest.raises(MapFormatError) as early:
        KeyframeMap.check_folder(copy)
    for lazy in (True, False):
        with pytest.raises(MapFormatError) as late:
            KeyframeMap.load(copy, lazy=lazy)
        assert str(early.value) == str(late.value)
    msg = str(early.value)
    assert f"map {copy} is incomplete (copied only in part?): rebuild it or copy it again" in msg
    assert "\n" not in msg and f"check-map {copy}" in msg
    if damage == "keyframes-missing":  # the folder named, and every file it held counted
        assert msg.startswith(f"map folder missing: {copy}/keyframes (5 map files missing "
                              "or truncated in all)"), msg
    if damage == "one-keyframe-missing":
        assert msg.startswith(f"map file missing: {copy}/keyframes/000001.png;"), msg
    if damage == "encodings-missing":  # the folder copied not at all, not one store inside it
        assert msg.startswith(f"map folder missing: {copy}/encodings ("), msg


def test_a_v3_map_without_its_keyframe_table_counts_every_file_missing(whole_map, tmp_path):
    """keyframe_table.npy missing is found before the table can list the keyframe images; the
    refusal still names and counts the manifest's other missing files (here retrieval/, copied
    not at all), as the open of a map with its table does, not the table alone."""
    if not os.path.exists(os.path.join(whole_map, "keyframe_table.npy")):
        pytest.skip("v1/v2: no keyframe table")
    copy = str(tmp_path / "copy")
    shutil.copytree(whole_map, copy)
    os.remove(os.path.join(copy, "keyframe_table.npy"))
    shutil.rmtree(os.path.join(copy, "retrieval"))
    with pytest.raises(MapFormatError) as early:
        KeyframeMap.check_folder(copy)
    assert str(early.value).startswith(f"map folder missing: {copy}/retrieval (3 map files "
                                       "missing or truncated in all); "), str(early.value)


def test_a_complete_map_passes_and_no_image_or_array_is_read(whole_map, monkeypatch):
    from mast3r_ros.core.keyframes.map_files import MapFiles
    from mast3r_ros.core.retrieval_index import RetrievalIndex

    def read(*a, **k):
        raise AssertionError("check_folder read a map file's content")
    monkeypatch.setattr(MapFiles, "_read_verified", read)
    monkeypatch.setattr(MapFiles, "_decode", read)
    monkeypatch.setattr(RetrievalIndex, "load", read)
    KeyframeMap.check_folder(whole_map)


def test_an_empty_file_whose_size_the_map_does_not_record_is_refused(tmp_path):
    """A file table entry without 'bytes' (read as: size not recorded) let a 0-byte file pass
    the open's size check; no map file is empty."""
    path = kfm.write_map(str(tmp_path / "map"), _keyframes(), version=2)
    man_path = os.path.join(path, kfm.MANIFEST)
    with open(man_path) as fh:
        man = json.load(fh)
    del man["files"]["keyframes/000002.png"]["bytes"]
    with open(man_path, "w") as fh:
        json.dump(man, fh)
    KeyframeMap.check_folder(path)  # the entry without its size is still read
    full = os.path.join(path, "keyframes", "000002.png")
    open(full, "wb").close()
    for check in (KeyframeMap.check_folder, lambda p: KeyframeMap.load(p, lazy=True)):
        with pytest.raises(MapFormatError) as e:
            check(path)
        assert str(e.value).startswith(f"map file empty (0 bytes): {full}; map {path} is "
                                       "incomplete"), str(e.value)


@pytest.mark.parametrize("which", ["A", "B"])
def test_merge_maps_refuses_a_map_copied_only_in_part_before_reading_either(
        tmp_path, monkeypatch, capsys, which):
    """merge-maps read A whole (every file checksummed) before it opened B: a B copied only in
    part was found after that."""
    a = kfm.write_map(str(tmp_path / "a"), _keyframes(), version=3)
    b = kfm.write_map(str(tmp_path / "b"), _keyframes(n=2, seed=4), version=3)
    bad = a if which == "A" else b
    shutil.rmtree(os.path.join(bad, "keyframes"))
    with pytest.raises(MapFormatError) as e:
        KeyframeMap.load(bad)
    said = str(e.value)

    def load(*args, **kwargs):
        raise AssertionError("a map was read before both were checked")
    monkeypatch.setattr(KeyframeMap, "load", load)
    out = str(tmp_path / "c")
    capsys.readouterr()  # the maps' "wrote map" lines (through an earlier test's log handler)
    assert main(["merge-maps", a, b, "--out", out, "--log-level", "warning"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].endswith(said), err
    assert "incomplete (copied only in part?)" in said and not os.path.exists(out)


def test_a_manifest_without_its_files_table_is_refused_early_as_the_open_does(whole_map,
                                                                               tmp_path):
    """The early check read only the manifest's format, version and map frame: a manifest
    without its ``files`` table passed it, and a rosbag2 was indexed before the open refused."""
    copy = str(tmp_path / "copy")
    shutil.copytree(whole_map, copy)
    manifest = os.path.join(copy, "manifest.json")
    with open(manifest) as f:
        fields = json.load(f)
    del fields["files"]
    with open(manifest, "w") as f:
        json.dump(fields, f)
    with pytest.raises(MapFormatError) as early:
        KeyframeMap.check_folder(copy)
    with pytest.raises(MapFormatError) as late:
        KeyframeMap.load(copy)
    assert str(early.value) == str(late.value)
    assert str(early.value) == (f"{manifest}: missing field 'files'; the manifest was edited or "
                                "damaged: rebuild the map, or copy it again")


def test_counts_of_one_file_are_singular(whole_map, tmp_path, capsys):
    """Two keyframe images gone: the open says 'and 1 more missing or truncated file', and
    check-map, which lists both, '2 map files'; one gone: '1 map file' (it read '1 map files'
    and 'and 1 more ... files', as a user saw after a stopped rsync)."""
    copy = str(tmp_path / "copy")
    shutil.copytree(whole_map, copy)
    os.remove(os.path.join(copy, "keyframes", "000001.png"))
    capsys.readouterr()
    assert main(["check-map", copy]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{copy}: 1 map file missing (listed above)" in err, err
    os.remove(os.path.join(copy, "keyframes", "000002.png"))
    with pytest.raises(MapFormatError) as two:
        KeyframeMap.check_folder(copy)
    assert "(and 1 more missing or truncated file);" in str(two.value), two.value
    assert main(["check-map", copy]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{copy}: 2 map files missing (listed above)" in err, err


@pytest.mark.parametrize("command", ["localize", "merge-maps", "check-map"])
def test_a_copy_stopped_before_its_manifest_is_called_a_copy_with_the_fix(
        whole_map, tum, tmp_path, capsys, command):
    """An rsync or scp stopped before manifest.json (it sorts after keyframes/) left the map's
    files without their manifest, and every command said 'not a complete keyframe map (an
    interrupted build?)': a build never leaves a folder at MAP (it renames a finished one), and
    the line named no fix. It now says what the folder holds and to copy the map again."""
    copy = str(tmp_path / "copy")
    shutil.copytree(whole_map, copy)
    os.remove(os.path.join(copy, "manifest.json"))
    args = {"localize": ["localize", tum[1], "--map", copy, "--out",
                         str(tmp_path / "run"), "--matcher", "sift"],
            "merge-maps": ["merge-maps", whole_map, copy, "--out", str(tmp_path / "ab")],
            "check-map": ["check-map", copy]}[command]
    capsys.readouterr()
    assert main(args) == 2
    err = [line for line in capsys.readouterr().err.strip().splitlines()
           if not line.startswith("[INFO]")]
    assert len(err) == 1, err
    assert (f"{copy}/manifest.json: missing, but {copy} holds a keyframe map's files "
            "(keyframes/): copied only in part? copy the map again (its manifest.json last) or "
            "rebuild it") in err[0], err
    assert "interrupted build" not in err[0]


def _flip(path, offset=60):
    with open(path, "r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([byte[0] ^ 0xFF]))


def test_check_map_lists_a_corrupt_keyframe_png_found_by_its_check(whole_map, tmp_path,
                                                                  capsys):
    """check-map checksums the keyframe PNGs when its check reads them (once): a damaged one
    (same size) is still listed with every other bad file, and the check gives no verdict."""
    copy = str(tmp_path / "copy")
    shutil.copytree(whole_map, copy)
    png = os.path.join(copy, "keyframes", "000001.png")
    _flip(png)
    capsys.readouterr()
    assert main(["check-map", copy]) == 2
    out, err = capsys.readouterr()
    assert f"map file corrupt (checksum mismatch): {png}" in out + err
    assert f"{copy}: 1 map file corrupt (listed above)" in err, err
    assert "consistent" not in out
    os.remove(os.path.join(copy, "keyframes", "000002.png"))  # with another problem
    assert main(["check-map", copy]) == 2
    out, err = capsys.readouterr()
    assert f"map file corrupt (checksum mismatch): {png}" in out + err
    assert f"{copy}: 2 map files: 1 missing and 1 corrupt (listed above)" in err, err


def test_a_file_larger_than_recorded_is_said_to_be_copied_over_not_cut_short(tmp_path):
    """An rsync of a rebuilt map over the old one, stopped before manifest.json, left a
    keyframe_table.npy and keyframe PNGs larger than the old manifest records; the open called
    them "truncated or corrupt ... copied only in part?" (a fleet maintainer's find), which
    sends the user after a cut copy of this map. A file cut short keeps those words."""
    old = kfm.write_map(str(tmp_path / "old"), _keyframes())
    table = os.path.join(old, "keyframe_table.npy")
    with open(table, "ab") as fh:
        fh.write(b"\0" * 64)  # a rebuild's table with more rows
    for call in (KeyframeMap.check_folder, KeyframeMap.load):
        with pytest.raises(MapFormatError) as e:
            call(old)
        text = str(e.value)
        assert "map file larger than the map records, not cut short" in text, text
        assert "copied over it" in text and "truncated" not in text, text
        assert "copied only in part" not in text, text
    cut = kfm.write_map(str(tmp_path / "cut"), _keyframes())
    png = os.path.join(cut, "keyframes", "000001.png")
    with open(png, "r+b") as fh:
        fh.truncate(os.path.getsize(png) // 2)
    with pytest.raises(MapFormatError, match=r"truncated or corrupt .*copied only in part"):
        KeyframeMap.check_folder(cut)


def _png(img, pad_to=0):
    """``img`` encoded as a whole PNG; ``pad_to``: that many bytes in all (a tEXt chunk added
    before IEND, CRC right: a valid PNG of exactly the size the map records)."""
    import struct
    import zlib

    import cv2

    data = cv2.imencode(".png", img)[1].tobytes()
    if pad_to:
        body = b"pad\0" + b"x" * (pad_to - len(data) - 16)
        chunk = (struct.pack(">I", len(body)) + b"tEXt" + body
                 + struct.pack(">I", zlib.crc32(body, zlib.crc32(b"tEXt"))))
        data = data[:-12] + chunk + data[-12:]
        assert len(data) == pad_to
    return data


def test_a_smaller_whole_image_is_said_to_be_another_image_not_truncated(tmp_path, capsys):
    """A keyframe PNG replaced by a smaller valid PNG (a resized keyframe, another map's) was
    reported as "truncated or corrupt ... copied only in part?", then as "a different image
    than the map records" without saying which keyframe or what it holds; it now names the
    keyframe, the PNG's size in pixels and the one the map records, and asks whether it was
    replaced from another map. A PNG cut short keeps "truncated", in check-map and at open
    alike."""
    import numpy as np

    m = kfm.write_map(str(tmp_path / "m"), _keyframes())
    png = os.path.join(m, "keyframes", "000001.png")
    size = os.path.getsize(png)
    other = _png(np.zeros((4, 4, 3), np.uint8))  # a whole, smaller PNG
    with open(png, "wb") as fh:
        fh.write(other)
    assert len(other) < size
    with pytest.raises(MapFormatError) as e:
        KeyframeMap.load(m)
    text = str(e.value)
    assert text.startswith(f"keyframe 1's image is a valid PNG of 4x4 but the map recorded "
                           f"64x48 ({len(other)} bytes, the map says {size}) -- was it replaced "
                           f"from another map? rebuild the map or restore the file: {png}"), text
    assert "truncated" not in text and "copied only in part" not in text, text
    assert main(["check-map", m]) == 2
    out, err = capsys.readouterr()
    assert "keyframe 1's image is a valid PNG of 4x4 but the map recorded 64x48" in out, out
    assert "truncated or corrupt (" not in out
    assert "1 map file with a different image than the map records" in err, err
    with open(png, "wb") as fh:  # cut short: no IEND chunk
        fh.write(other[:-12])
    with pytest.raises(MapFormatError, match=r"truncated or corrupt .*copied only in part"):
        KeyframeMap.load(m)
    assert main(["check-map", m]) == 2
    out, err = capsys.readouterr()
    assert "map file truncated or corrupt (" in out and "replaced" not in out, out


@pytest.mark.parametrize("version", [2, 3])
def test_a_keyframe_image_of_the_recorded_size_in_pixels_is_said_to_differ_in_content(
        tmp_path, capsys, version):
    """Another map's keyframe of the same camera (the same width and height) put in a
    keyframe's place, larger, smaller or of the very byte count the map records (then only its
    sha256 differs): each is "a valid PNG of 64x48 as recorded, but its content differs from
    what the map recorded", not "larger ... not cut short", "truncated" or "corrupt (checksum
    mismatch)"; a depth image is named as such. v2 maps record their PNGs in the manifest."""
    import numpy as np

    m = kfm.write_map(str(tmp_path / "m"), _keyframes(), version=version)
    kf = os.path.join(m, "keyframes")
    png, depth = os.path.join(kf, "000002.png"), os.path.join(kf, "000000_depth.png")
    size = os.path.getsize(png)
    noise = np.random.default_rng(0).integers(0, 255, (48, 64, 3), np.uint8)
    flat = np.full((48, 64, 3), 7, np.uint8)
    for data in (_png(noise, pad_to=size + 100), _png(flat), _png(flat, pad_to=size)):
        with open(png, "wb") as fh:
            fh.write(data)
        sizes = (f"{len(data)} bytes, the map says {size}" if len(data) != size else
                 f"{size} bytes as recorded, but another sha256")
        want = (f"keyframe 2's image is a valid PNG of 64x48 as recorded, but its content "
                f"differs from what the map recorded ({sizes}) -- was it replaced from another "
                f"map? rebuild the map or restore the file: {png}")
        with pytest.raises(MapFormatError) as e:
            KeyframeMap.load(m, lazy=True).image(2)  # the same size: found when read
        assert str(e.value).startswith(want), (str(e.value), want)
        assert main(["check-map", m]) == 2
        out, err = capsys.readouterr()
        assert out.splitlines()[0] == want, out
        assert "checksum" not in out + err and "truncated" not in out + err, out + err
    with open(png, "wb") as fh:  # smaller: found by the open's os.stat
        fh.write(_png(flat))
    with open(depth, "wb") as fh:
        fh.write(_png(np.zeros((24, 32), np.uint16)))
    with pytest.raises(MapFormatError) as e:
        KeyframeMap.check_folder(m)
    assert str(e.value).startswith(("keyframe 2's image is a valid PNG of 64x48 as recorded",
                                    "keyframe 0's depth image is a valid PNG of 32x24")), e
    assert "(and 1 more keyframe image replaced)" in str(e.value), e.value
    assert main(["check-map", m]) == 2
    out = capsys.readouterr().out
    assert ("keyframe 0's depth image is a valid PNG of 32x24 but the map recorded 64x48 ("
            in out), out


@pytest.mark.parametrize("version", [2, 3])
def test_a_keyframe_image_replaced_after_the_open_names_the_map_s_byte_count(tmp_path, version):
    """A keyframe PNG replaced by a whole PNG after the map was opened (a lazy map, the file
    read on first use) has another byte count than the map records; the line said "9444 bytes
    as recorded, but another sha256" (the file's own count given as the map's), now "9444
    bytes, the map says 9344"."""
    import numpy as np

    m = kfm.write_map(str(tmp_path / "m"), _keyframes(), version=version)
    png = os.path.join(m, "keyframes", "000002.png")
    size = os.path.getsize(png)
    opened = KeyframeMap.load(m, lazy=True)  # its os.stat saw the recorded size
    noise = np.random.default_rng(0).integers(0, 255, (48, 64, 3), np.uint8)
    data = _png(noise, pad_to=size + 100)
    with open(png, "wb") as fh:
        fh.write(data)
    with pytest.raises(MapFormatError) as e:
        opened.image(2)
    assert (f"keyframe 2's image is a valid PNG of 64x48 as recorded, but its content differs "
            f"from what the map recorded ({size + 100} bytes, the map says {size}) -- was it "
            f"replaced from another map?") in str(e.value), e.value


def test_only_a_whole_png_is_taken_for_a_replaced_image():
    """`whole_png_size` calls a PNG whole only from its signature through IEND at the last byte,
    every chunk's CRC right: a copy cut short, one byte damaged, bytes after IEND are not (they
    keep "truncated or corrupt" / "larger than the map records")."""
    import numpy as np

    from mast3r_ros.core.keyframes.replaced_image import whole_png_size

    data = _png(np.arange(48 * 64 * 3, dtype=np.uint8).reshape(48, 64, 3))
    assert whole_png_size(data) == (64, 48)
    bad = bytearray(data)
    bad[60] ^= 1  # inside IDAT: its CRC fails
    for other in (data[:-1], data[:-12], data + b"\0", bytes(bad), b"GIF89a" + data[6:], b""):
        assert whole_png_size(other) is None


def test_files_larger_and_whole_smaller_images_are_not_all_said_larger(tmp_path):
    """A map with one keyframe PNG larger than recorded and one replaced by a smaller whole
    PNG (another map's keyframes copied over it) was said as '... (and 1 more file larger than
    recorded)': the other is smaller, a whole other image. Both kinds are named now."""
    import cv2
    import numpy as np

    m = kfm.write_map(str(tmp_path / "m"), _keyframes())
    pngs = sorted(os.listdir(os.path.join(m, "keyframes")))
    pngs = [os.path.join(m, "keyframes", n) for n in pngs if n.endswith(".png")][:2]
    with open(pngs[0], "ab") as fh:
        fh.write(b"\0" * 64)
    ok, other = cv2.imencode(".png", np.zeros((4, 4, 3), np.uint8))
    with open(pngs[1], "wb") as fh:
        fh.write(other.tobytes())
    with pytest.raises(MapFormatError) as e:
        KeyframeMap.check_folder(m)
    text = str(e.value)
    assert text.count("map file ") == 1, text  # the first one named, the other counted
    assert text.startswith("map file larger than the map records"), text  # 000000.png
    assert "(and 1 more file larger than recorded or whole other images)" in text, text
    assert "missing" not in text and "truncated" not in text, text


def test_check_map_summary_counts_the_problems_by_the_kinds_found(tmp_path, capsys):
    """check-map's error line said "1 map file missing, truncated or corrupt" when the only
    problem listed was a keyframe PNG replaced by another whole image (its own line: "a
    different image than the map records"); it now counts per kind found."""
    import cv2
    import numpy as np

    m = kfm.write_map(str(tmp_path / "m"), _keyframes())
    ok, other = cv2.imencode(".png", np.zeros((4, 4, 3), np.uint8))  # a whole, smaller PNG
    with open(os.path.join(m, "keyframes", "000001.png"), "wb") as fh:
        fh.write(other.tobytes())
    capsys.readouterr()
    assert main(["check-map", m]) == 2
    err = capsys.readouterr().err.strip()
    assert (f"{m}: 1 map file with a different image than the map records (listed above), "
            "named on stdout; rebuild the map or re-copy the files") in err, err
    assert "missing" not in err and "truncated" not in err, err
    os.remove(os.path.join(m, "keyframes", "000002.png"))
    with open(os.path.join(m, "keyframes", "000000.png"), "ab") as fh:
        fh.write(b"more")  # larger than recorded
    assert main(["check-map", m]) == 2
    err = capsys.readouterr().err.strip()
    assert (f"{m}: 3 map files: 1 larger than the map records, 1 with a different image than "
            "the map records and 1 missing (listed above)") in err, err


def test_several_files_larger_than_recorded_are_not_counted_as_missing(tmp_path):
    """Every file of a map larger than its manifest records (a rebuild copied over it) was said
    as '... (and 2 more missing or truncated files); map ... holds files its manifest.json does
    not record': none of them is missing or truncated."""
    m = kfm.write_map(str(tmp_path / "m"), _keyframes())
    for root, _, names in os.walk(m):
        for name in names:
            if name != "manifest.json":
                with open(os.path.join(root, name), "ab") as fh:
                    fh.write(b"\0" * 64)
    with pytest.raises(MapFormatError) as e:
        KeyframeMap.check_folder(m)
    text = str(e.value)
    assert "more files larger than recorded)" in text, text
    assert "missing" not in text and "truncated" not in text, text
