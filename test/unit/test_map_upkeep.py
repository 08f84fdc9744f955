"""Keeping maps over months (an operator's review): encodings a localizer caches into a map are
readable by other users and leave nothing behind when writing them fails."""

from __future__ import annotations

import errno
import os
import stat

import numpy as np
import pytest

from mast3r_ros.core import keyframes as kfm
from mast3r_ros.core.keyframes import KeyframeMap, MapWriter

from test_keyframes import _encodings, _keyframes


@pytest.fixture
def map_path(tmp_path):
    return kfm.write_map(str(tmp_path / "map"), _keyframes())


def _with_depth(seed, n=4):
    """`_keyframes` all with depth (the sift matcher needs it)."""
    return [(rgb, cam, pose, stamp, np.full(rgb.shape[:2], 2.0, np.float32))
            for rgb, cam, pose, stamp, _ in _keyframes(n, seed)]


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


def test_a_map_replaced_under_a_running_localizer_is_named_not_called_corrupt(tmp_path):
    """build-map --overwrite while a localizer (the node, a localize run) used the map: every
    later frame failed with 'map file corrupt (checksum mismatch) ...; rebuild the map or
    re-copy the file' -- though the map is sound (check-map passes); restarting is the fix."""
    from mast3r_ros.core.config import config_from_params
    from mast3r_ros.core.errors import MapFormatError
    from mast3r_ros.core.localizer import Localizer
    from mast3r_ros.core.types import Frame

    path = kfm.write_map(str(tmp_path / "map"), _with_depth(0))
    cfg = config_from_params({"matcher": "sift"})
    loc = Localizer(KeyframeMap.load(path, lazy=True), cfg.localizer)
    kfm.write_map(path, _with_depth(1), overwrite=True)  # another map, same path
    rgb, cam, _, stamp, _ = _keyframes(n=1, seed=2)[0]
    with pytest.raises(MapFormatError, match=r"map .*map was replaced after this localizer "
                                             r"opened it .*restart the localizer") as e:
        loc.localize(Frame(rgb, cam, stamp))
    assert "corrupt" not in str(e.value)
    loc.close()
    KeyframeMap.load(path)  # the new map is sound


def test_a_damaged_map_under_a_running_localizer_is_still_called_corrupt(tmp_path):
    from mast3r_ros.core.config import config_from_params
    from mast3r_ros.core.errors import MapFormatError
    from mast3r_ros.core.localizer import Localizer
    from mast3r_ros.core.types import Frame

    path = kfm.write_map(str(tmp_path / "map"), _with_depth(0))
    loc = Localizer(KeyframeMap.load(path, lazy=True),
                    config_from_params({"matcher": "sift"}).localizer)
    for name in os.listdir(os.path.join(path, "keyframes")):
        full = os.path.join(path, "keyframes", name)
        data = bytearray(open(full, "rb").read())
        data[-20] ^= 1
        open(full, "wb").write(bytes(data))
    rgb, cam, _, stamp, _ = _keyframes(n=1, seed=2)[0]
    with pytest.raises(MapFormatError, match="corrupt"):
        loc.localize(Frame(rgb, cam, stamp))
    # another process caching encodings into the map (its manifest rewritten: new inode and
    # times) or a hard-link backup touching it does not make a damaged file a replaced map (a
    # regression review's find: 'replaced ..., restart' for a corrupt file)
    other = KeyframeMap.load(path, lazy=True)
    other.save_encodings(_encodings("ckptB", n=len(other)))
    os.utime(os.path.join(path, "manifest.json"))
    with pytest.raises(MapFormatError, match="corrupt") as e:
        loc.localize(Frame(rgb, cam, stamp))
    assert "replaced" not in str(e.value)
    loc.close()


@pytest.fixture
def file_size_limit():
    """Files of this process may grow to 64 KiB only (``ulimit -f``: a full disk as far as one
    writer can tell; Python ignores SIGXFSZ, so a write past it fails with EFBIG)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, hard))
    yield
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def test_an_array_written_past_a_full_disk_fails_with_the_os_error(tmp_path, file_size_limit):
    """A map build on a nearly full disk ended with 'cannot use path: 4 requested and 2 written
    (check the paths given)': numpy's tofile raises an OSError without errno, so the command
    line could not say that the disk was full. Now the OS's errno reaches it."""
    from mast3r_ros.core.encoding_store import write_chunk
    from mast3r_ros.core.retrieval_index import RetrievalIndex

    rec = {"feats": np.ones((4096, 24), np.float16), "true_shape": np.array([64, 64])}
    with pytest.raises(OSError) as e:
        write_chunk(str(tmp_path), 0, [rec, rec])
    assert e.value.errno == errno.EFBIG
    with pytest.raises(OSError) as e:
        RetrievalIndex.build(np.ones((1000, 32), np.float32)).save(str(tmp_path / "idx"))
    assert e.value.errno == errno.EFBIG
    assert not [n for n in os.listdir(tmp_path) if n != "idx"] and \
        not [n for n in os.listdir(tmp_path / "idx") if n.endswith(".npy")]


@pytest.mark.parametrize("edit, refusal", [
    (lambda m: m["files"]["keyframe_table.npy"].update(bytes="abc"),
     r"file table entry 'keyframe_table.npy': 'bytes' must be a file size in bytes, got \"abc\""),
    (lambda m: m["files"]["keyframe_table.npy"].update(bytes=None),
     r"'bytes' must be a file size in bytes, got null"),
    (lambda m: m["files"]["keyframe_table.npy"].update(bytes=-3), r"got -3"),
    (lambda m: m["files"]["retrieval/thumbnail/index.json"].update(bytes=2 ** 70),  # was an
     r"got 1180591620717411303424"),  # OverflowError in check-map's size check (a C long)
    (lambda m: m.update(consistency=5), r"field 'consistency' has the wrong type \(int\)"),
])
def test_a_hand_edited_manifest_is_refused_in_one_line(tmp_path, edit, refusal, capsys):
    """A manifest edited by hand with a file size that is not a number, or a 'consistency'
    that is not an object, ended check-map and localize in a traceback (ValueError in the size
    check, AttributeError in the localizer's start)."""
    import json

    from mast3r_ros.core.errors import MapFormatError
    from mast3r_ros.replay.cli import main

    path = kfm.write_map(str(tmp_path / "map"), _with_depth(0))
    full = os.path.join(path, "manifest.json")
    m = json.load(open(full))
    edit(m)
    json.dump(m, open(full, "w"))
    with pytest.raises(MapFormatError, match=r"manifest\.json: .*" + refusal):
        KeyframeMap.load(path, lazy=True)
    assert main(["check-map", path]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("mast3r-ros check-map: error: ")


def test_overwrite_replaces_a_map_holding_the_lock_a_killed_localizer_left(tmp_path):
    """A localizer killed while caching encodings into a map whose parent folder is read-only
    leaves MAP/.encodings.lock; a rebuild with --overwrite then refused the map as holding
    '.encodings.lock, which no map build writes (a run folder or notes kept inside it?)'."""
    from mast3r_ros.core.fileio import LOCK_SUFFIX
    from mast3r_ros.core.keyframes.encodings import _INNER_LOCK

    path = kfm.write_map(str(tmp_path / "map"), _with_depth(0))
    open(os.path.join(path, _INNER_LOCK + LOCK_SUFFIX), "w").write("pid 4242, localizer\n")
    assert kfm.write_map(path, _with_depth(1, n=2), overwrite=True) == path
    assert len(KeyframeMap.load(path)) == 2


@pytest.mark.parametrize("inside", ["keyframes/merged", "encodings/run1", "retrieval/a/b"])
def test_no_output_is_written_inside_a_maps_own_folders(tmp_path, inside, capsys):
    """merge-maps --out MAP/keyframes/merged (or a localize run under MAP/retrieval) was
    written, and the next build-map --overwrite of MAP replaced keyframes/ whole, deleting it
    without a word (only MAP's top level is checked for data no build writes)."""
    from mast3r_ros.core.errors import InputError
    from mast3r_ros.core.fileio import check_output_folder
    from mast3r_ros.core.keyframes.layout import FORMAT_NAME
    from mast3r_ros.core.map_nesting import _MAP_FORMAT
    from mast3r_ros.replay.cli import main

    assert _MAP_FORMAT == FORMAT_NAME
    a = kfm.write_map(str(tmp_path / "a"), _with_depth(0))
    b = kfm.write_map(str(tmp_path / "b"), _with_depth(1))
    before = _walk(a)
    out = os.path.join(a, inside)
    with pytest.raises(InputError, match=rf"--out .* is inside the {inside.split('/')[0]}/ "
                                         r"folder of the keyframe map .*choose a folder outside"):
        check_output_folder(out, False)
    assert main(["merge-maps", a, b, "--out", out]) == 2
    assert f"--out {out} lies inside map A ({a})" in capsys.readouterr().err.splitlines()[-1]
    assert _walk(a) == before
    check_output_folder(os.path.join(a, "run1"), False)  # beside the map's data: kept by rebuilds


def test_a_resumed_build_publishes_only_its_own_keyframe_images(tmp_path):
    """build-map --resume with other map_build settings (refused: other keyframes) rewrote
    MAP.partial/keyframes with its selection first; the right --resume then published a map
    carrying the other selection's PNGs beyond its own (52 files for 11 keyframes), unlisted."""
    path = str(tmp_path / "map")
    with MapWriter(path, resumable=True) as w:  # the refused run's selection: 4 keyframes
        for f in _with_depth(0, n=4):
            w.add_keyframe(*f)
    with MapWriter(path, resume=True) as w:
        for f in _with_depth(0, n=2):
            w.add_keyframe(*f)
        w.commit()
    assert sorted(os.listdir(os.path.join(path, "keyframes"))) == [
        "000000.png", "000000_depth.png", "000001.png", "000001_depth.png"]
    assert len(KeyframeMap.load(path)) == 2


def test_a_store_a_killed_localizer_left_is_removed_by_the_next_caching(map_path, caplog):
    """A localizer killed (SIGKILL, the OOM killer) while caching a large map's encodings left
    its half-written store in MAP/encodings, listed by no manifest: gigabytes never used and
    never removed; every later kill added another."""
    import logging
    import time

    from mast3r_ros.core.keyframes.encodings import ORPHAN_AGE_S

    m = KeyframeMap.load(map_path)
    assert m.save_encodings(_encodings("ckptA"))
    kept = KeyframeMap.load(map_path).encoding_store("ckptA", 224).folder
    orphan = os.path.join(map_path, "encodings", "0123456789abcdef_512-k1ll3d_x")
    os.makedirs(os.path.join(orphan, "pooled"))
    open(os.path.join(orphan, "chunk_000000.npy"), "wb").write(b"\0" * 100)
    mine = os.path.join(map_path, "encodings", "my_notes")
    os.makedirs(mine)
    # a store still being written (another process under the map's inner lock, which does not
    # exclude one under the lock beside it: a regression review's find) is not touched
    busy = os.path.join(map_path, "encodings", "fedcba9876543210_224-wr1t1ng_")
    os.makedirs(busy)
    old = time.time() - 2 * ORPHAN_AGE_S
    for p in (os.path.join(orphan, "pooled"), os.path.join(orphan, "chunk_000000.npy"), orphan):
        os.utime(p, (old, old))
    with caplog.at_level(logging.WARNING):
        assert KeyframeMap.load(map_path).save_encodings(_encodings("ckptB"))
    assert not os.path.exists(orphan) and os.path.isdir(mine) and os.path.isdir(kept)
    assert os.path.isdir(busy)
    assert "killed localizer" in caplog.text
    m = KeyframeMap.load(map_path)
    assert sorted(m.encoding_keys()) == [("ckptA", 224), ("ckptB", 224)]


@pytest.mark.parametrize("how", ["rsync", "cp -a"])
def test_a_map_copied_over_under_a_running_localizer_is_named_not_called_corrupt(tmp_path,
                                                                                 how):
    """A newer map copied onto the robot's map folder (rsync: each file renamed into place;
    cp -a: each file rewritten in place) while the node ran: the folder is the same, so only
    its manifest tells that the map changed."""
    import shutil

    from mast3r_ros.core.config import config_from_params
    from mast3r_ros.core.errors import MapFormatError
    from mast3r_ros.core.localizer import Localizer
    from mast3r_ros.core.types import Frame

    path = kfm.write_map(str(tmp_path / "map"), _with_depth(0))
    newer = kfm.write_map(str(tmp_path / "newer"), _with_depth(1))
    loc = Localizer(KeyframeMap.load(path, lazy=True),
                    config_from_params({"matcher": "sift"}).localizer)
    for dp, _, fs in os.walk(newer):
        for f in fs:
            src = os.path.join(dp, f)
            dst = os.path.join(path, os.path.relpath(src, newer))
            if how == "rsync":
                shutil.copy2(src, dst + ".tmp")
                os.replace(dst + ".tmp", dst)
            else:
                shutil.copy2(src, dst)
    rgb, cam, _, stamp, _ = _keyframes(n=1, seed=2)[0]
    with pytest.raises(MapFormatError, match=r"was replaced after this localizer opened it"):
        loc.localize(Frame(rgb, cam, stamp))
    loc.close()


def test_a_localizer_that_cached_encodings_still_calls_a_damaged_file_corrupt(map_path):
    """Its own manifest update (the encodings it cached) is not a replaced map."""
    from mast3r_ros.core.errors import MapFormatError

    m = KeyframeMap.load(map_path, lazy=True)
    assert m.save_encodings(_encodings("ckptA"))
    assert not m.replaced_since_open()
    err = MapFormatError("map file corrupt (checksum mismatch): x")
    assert m.replaced_error(err) is err


def _children(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                out.append(int(d))
    return out


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc")
def test_build_workers_end_when_the_build_is_killed(tmp_path):
    """build-map --workers 2 killed outright (SIGKILL, the OOM killer): its two encoding
    workers stayed, blocked on the executor's queue for ever, each holding its network (470 MB
    each with the tiny test network; a GPU's memory with the real one)."""
    import signal
    import subprocess
    import sys
    import time

    import mast3r_ros

    script = tmp_path / "build.py"
    script.write_text(
        "import sys, time\n"
        f"sys.path.insert(0, {os.path.dirname(os.path.dirname(mast3r_ros.__file__))!r})\n"
        "from mast3r_ros.replay import parallel_build as pb\n"
        "def slow(i):\n"
        "    time.sleep(120)\n"
        "    return {}\n"
        "if __name__ == '__main__':\n"
        "    next(pb._run_local(slow, [(0, 1), (1, 2)], 2, 1))\n")
    driver = subprocess.Popen([sys.executable, str(script)])
    try:
        deadline = time.monotonic() + 60
        workers = []
        while time.monotonic() < deadline:  # the two workers and the resource tracker
            workers = [c for c in _children(driver.pid)
                       if "spawn_main" in open(f"/proc/{c}/cmdline").read()]
            if len(workers) == 2:
                break
            time.sleep(0.2)
        assert len(workers) == 2
        time.sleep(1.0)  # past their initializer
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(os.path.exists(f"/proc/{w}") and
                                                  _state(w) != "Z" for w in workers):
            time.sleep(0.2)
        left = [w for w in workers if os.path.exists(f"/proc/{w}") and _state(w) != "Z"]
    finally:
        driver.kill()
    for w in left:
        os.kill(w, signal.SIGKILL)
    assert not left


def _state(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


def test_a_manifest_saved_by_a_windows_editor_still_loads(tmp_path):
    """map_frame corrected in Notepad: the file gained a UTF-8 BOM and CRLF line ends, and the
    map was refused as 'truncated or damaged: rebuild the map or re-copy the file'."""
    path = kfm.write_map(str(tmp_path / "map"), _with_depth(0))
    full = os.path.join(path, "manifest.json")
    text = open(full, encoding="utf-8").read()
    with open(full, "wb") as fh:
        fh.write(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))
    assert len(KeyframeMap.load(path)) == 4


@pytest.mark.usefixtures("one_torch_thread")  # as test_localizer's MASt3R tests: the 512
def test_a_merged_map_of_two_camera_sizes_localizes_with_mast3r(tmp_path):  # matching stalled
    # on shared cores with more threads (measured 126 s against 6 s on a busy 2-core machine)
    """merge-maps of a 4:3 map and a 16:9 map (two cameras, or a camera mode changed between
    recordings): localize with the mast3r matcher crashed at the first frame whose candidates
    had both sizes (RuntimeError: stack expects each tensor to be equal size) -- the matches
    were fused over the keyframes of one decode as if all had one shape."""
    from mast3r_ros.core.config import GateConfig
    from mast3r_ros.core.geometry import pose_error
    from mast3r_ros.core.localizer import Localizer
    from mast3r_ros.core.types import CameraIntrinsics
    from mast3r_ros.replay.map_build import merge_maps
    from mast3r_ros.replay.synthetic import render_frames

    from test_localizer import CAM, N_FRAMES, PerfectEngine, _mast3r_cfg

    # the test_localizer scene: its first six frames, the ones used (the same images: the
    # loop's poses are of N_FRAMES; the other 18 renders cost seconds)
    frames = list(render_frames(N_FRAMES, CAM, seed=3, indices=range(6)))

    def crop(f, y0=30, h=180):
        K = f.intrinsics.K.copy()
        K[1, 2] -= y0
        return (np.ascontiguousarray(f.rgb[y0:y0 + h]),
                CameraIntrinsics(f.rgb.shape[1], h, K), f.map_from_cam, f.stamp_ns,
                np.ascontiguousarray(f.depth_m[y0:y0 + h]))

    # one keyframe of each size, both the query's candidates (one decode holds both shapes;
    # the matching pays per keyframe at 512)
    a = kfm.write_map(str(tmp_path / "a"), [
        (f.rgb, f.intrinsics, f.map_from_cam, f.stamp_ns, f.depth_m) for f in frames[4:5]])
    b = kfm.write_map(str(tmp_path / "b"), [crop(f) for f in frames[2:3]])
    assert merge_maps(a, b, str(tmp_path / "ab")) == 2
    engine, shapes = PerfectEngine(frames), []
    decode = engine.decode

    def both(view1, view2):
        shapes.append(sorted({tuple(e.true_shape) for e in view1}))
        return decode(view1, view2)

    engine.decode = both
    loc = Localizer(KeyframeMap.load(str(tmp_path / "ab")),
                    _mast3r_cfg(max_keyframes=2, gates=GateConfig(min_inliers=12)),
                    engine, image_size=512)  # 512x384 and 512x288 (224: square)
    r = loc.localize(frames[3])
    assert [(288, 512), (384, 512)] in shapes, shapes  # one decode of both sizes
    assert r.success, r.reason
    t_err, r_err = pose_error(r.map_from_cam, frames[3].map_from_cam)
    assert t_err <= 0.01 and r_err <= 0.3, (t_err, r_err)


def test_check_map_names_what_overwrite_would_refuse_to_delete(tmp_path, capsys):
    """Files kept inside a map folder (a run, notes) showed only when build-map --overwrite
    refused the map (a map-keeping review's find): check-map names them ahead, exit 0."""
    from mast3r_ros.core.fileio import LOCK_SUFFIX
    from mast3r_ros.core.keyframes.encodings import _INNER_LOCK
    from mast3r_ros.replay.cli import main

    path = kfm.write_map(str(tmp_path / "map"), _with_depth(0))
    assert main(["check-map", path]) == 0
    assert "note:" not in capsys.readouterr().out
    os.makedirs(os.path.join(path, "run1"))
    open(os.path.join(path, "notes.txt"), "w").write("calibrated 2026-11\n")
    open(os.path.join(path, _INNER_LOCK + LOCK_SUFFIX), "w").write("pid 1, localizer\n")
    assert main(["check-map", path]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == (f"note: {path} also holds notes.txt, run1/, which no map build writes: "
                       "build-map/merge-maps --overwrite will not replace the map until they "
                       "are moved out of its folder"), out


def test_check_map_names_files_in_keyframes_the_map_does_not_list(tmp_path, capsys):
    """check-map named strays beside the map's files but not inside keyframes/ (a copied
    '000000 (copy).png'), which nothing reads and --overwrite deletes with the map without a
    word: named too, as a note, exit 0."""
    import shutil

    from mast3r_ros.replay.cli import main

    path = kfm.write_map(str(tmp_path / "map"), _with_depth(0))
    kf = os.path.join(path, "keyframes")
    assert main(["check-map", path]) == 0
    assert "note:" not in capsys.readouterr().out
    shutil.copy(os.path.join(kf, "000000.png"), os.path.join(kf, "000000 (copy).png"))
    os.makedirs(os.path.join(kf, "old"))
    assert main(["check-map", path]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == (f"note: {kf} also holds 000000 (copy).png, old/, which the map does not "
                       "list: nothing reads them, and build-map/merge-maps --overwrite deletes "
                       "them with the map; move them out to keep them"), out


def test_a_rebuild_says_which_cached_encodings_it_drops(map_path, caplog):
    """build-map --overwrite dropped the encodings a localizer had cached for other checkpoints
    silently (hours to recompute on a large map; a map-keeping review's find): one warning
    names them; encodings the new map carries again are not named."""
    import logging

    m = KeyframeMap.load(map_path)
    m.save_encodings(_encodings("ckptA", n=len(m)))
    m.save_encodings(_encodings("ckptB", n=len(m), seed=1))
    w = MapWriter(map_path, overwrite=True)
    for rgb, cam, pose, stamp, depth in _keyframes(3):
        w.add_keyframe(rgb, cam, pose, stamp, depth)
    w.add_encodings(_encodings("ckptA"))
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        w.commit()
    (rec,) = [r for r in caplog.records if "the map replaced at" in r.getMessage()]
    assert rec.getMessage() == (f"the map replaced at {map_path} cached encodings this one does "
                                "not (checkpoint ckptB at 224): the first localize with such a "
                                "checkpoint recomputes them"), rec.getMessage()
