"""``build-map`` and a frame it cannot read (a robotics user's find: one corrupt message in a
20-minute mapping bag -- a dropped USB packet, an RVL stream cut short -- stopped the build with
no way on). It now skips such a frame as ``localize`` does: no keyframe is taken from it, each
is warned about (naming topic and stamp), counted at the end, on the summary line and in the
map's manifest (``unreadable_frames``); a recording whose first ten frames (or all of fewer)
are unreadable is refused in one line."""

from __future__ import annotations

import hashlib
import json
import shutil
import types

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from rosbags.rosbag2 import StoragePlugin  # noqa: E402
from test_rosbag import (BASE_FROM_CAM, H, MS, RGB, S, W, camera_info, compressed,  # noqa: E402
                         image, pose, tf_message, write_bag)

from mast3r_ros.core.keyframes import KeyframeMap  # noqa: E402
from mast3r_ros.replay.cli import main  # noqa: E402
from mast3r_ros.replay.map_content import content_digests  # noqa: E402

CAM, DEPTH = "/cam/image/compressed", "/cam/depth"
STAMPS = [S + k * 100 * MS for k in range(10)]


def _mapping_bag(path, bad_colour=(), bad_depth=(), uncut=(), depth_size=(), uncut_depth=(),
                 empty_depth=(), shift=0.0, depth_offset=0, depth_received=None, bad_stamp=(),
                 storage=StoragePlugin.MCAP, stamps=None, repeated_depth=()):
    """Ten JPEG images 0.1 s apart, each with 16UC1 depth at its stamp and the camera 0.5 m
    further along tf (every frame a keyframe). By index: ``bad_colour`` JPEGs cut short,
    ``bad_depth`` depth messages whose data is cut short (a dropped packet), ``uncut`` image
    messages whose CDR is cut short (not deserializable), ``depth_size`` depth of another
    size than the image, ``uncut_depth`` depth messages whose CDR is cut short, ``empty_depth``
    depth messages of 0x0 pixels; ``shift`` (m) moves the whole path along y. Depth is
    stamped ``depth_offset`` ns from its image and received 2 ns after its stamp, or at
    ``depth_received[k]``; ``bad_stamp``: depth messages cut short, their stamp damaged too;
    ``storage``: MCAP or SQLITE3; ``stamps``: the images' stamps (ns), `STAMPS` unless given;
    ``repeated_depth``: depth messages sent again at the same stamp, 5 m deep, 1 ns later."""
    stamps = STAMPS if stamps is None else stamps
    msgs = [("/tf_static", 0, tf_message([("base_link", "camera_optical", 0, BASE_FROM_CAM)])),
            ("/cam/camera_info", 0, camera_info(900 * MS))]
    corrupt = set()
    for k, t in enumerate(stamps):
        msgs.append(("/tf", t, tf_message([("map", "base_link", t,
                                            pose([0, 0, 0], [0.5 * k, shift, 0]))])))
        jpeg = compressed(t, "jpeg", RGB[..., ::-1])
        if k in bad_colour:
            jpeg.data = jpeg.data[:20]
        msgs.append((CAM, t + 1, jpeg))
        if k in uncut:
            corrupt.add((CAM, t + 1))
        shape = (H + 2, W) if k in depth_size else (H, W)
        depth = image(t + depth_offset, "16UC1", np.full(shape, 1000 + 10 * k, np.uint16))
        received = (depth_received or {}).get(k, t + depth_offset + 2)
        if k in bad_depth:
            depth.data = depth.data[:len(depth.data) // 2]
        if k in empty_depth:  # a driver's empty message: 0x0, no data
            depth.data, depth.width, depth.height, depth.step = depth.data[:0], 0, 0, 0
        msgs.append((DEPTH, received, depth))
        if k in repeated_depth:
            msgs.append((DEPTH, received + 1, image(t + depth_offset, "16UC1",
                                                    np.full(shape, 5000, np.uint16))))
        if k in uncut_depth:
            corrupt.add((DEPTH, received))
    return str(write_bag(path, storage, sorted(msgs, key=lambda m: m[1]),
                         corrupt=corrupt, bad_stamp={(DEPTH, (depth_received or {}).get(
                             k, t + depth_offset + 2)) for k, t in enumerate(stamps)
                             if k in bad_stamp}))


def _build(bag, out, capsys):
    capsys.readouterr()
    rc = main(["build-map", bag, "--out", str(out), "--pose-frames", "map:camera_optical",
               "--depth-topic", DEPTH, "--log-level", "warning"])
    return (rc, *capsys.readouterr())


def _drawn_spies(mp) -> tuple[list, list]:
    """Spies on each top-down plot and each consistency panel drawn (still saved): the first
    as ({line label: (N, 2) xy}, (axis a, axis b)), the second as {line label: (N, 2) xy}."""
    from mast3r_ros.replay import plots

    top_down, panels = [], []
    real_finish, real_panel = plots._finish_top_down, plots.plot_consistency

    def finish(fig, ax, axes, title, path):
        top_down.append(({ln.get_label(): np.c_[ln.get_xdata(), ln.get_ydata()]
                          for ln in ax.get_lines()}, axes))
        real_finish(fig, ax, axes, title, path)

    def panel(ax, *args, **kwargs):
        real_panel(ax, *args, **kwargs)
        panels.append({ln.get_label(): np.c_[ln.get_xdata(), ln.get_ydata()]
                       for ln in ax.get_lines()})

    mp.setattr(plots, "_finish_top_down", finish)
    mp.setattr(plots, "plot_consistency", panel)
    return top_down, panels


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The maps several tests read (never change: copy first), each built once by the CLI with
    the plot spies on: ``skipped`` (frame 2's colour and frames 5, 6's depth unreadable),
    ``good`` (every frame read) and ``good20`` (every frame read, the path 20 m to the side,
    another recording); per map its (rc, stdout, stderr), top-down plots and consistency
    panels drawn while it was built (keyframes.png)."""
    d = tmp_path_factory.mktemp("shared_maps")
    bags = {"skipped": dict(bad_colour=[2], bad_depth=[5, 6]), "good": {},
            "good20": dict(shift=20.0)}
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        top_down, panels = _drawn_spies(mp)
        for name, kw in bags.items():
            bag = _mapping_bag(d / f"{name}_bag", **kw)
            top_down.clear()
            panels.clear()
            path = d / name
            rc, stdout, err = _run_build(bag, path)
            out[name] = types.SimpleNamespace(path=path, bag=bag, rc=rc, stdout=stdout, err=err,
                                              top_down=list(top_down), panels=list(panels))
    return out


def _run_build(bag, out):
    """`_build` outside a test (no capsys): the CLI's stdout and stderr captured here."""
    import contextlib
    import io

    stdout, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(err):
        rc = main(["build-map", bag, "--out", str(out), "--pose-frames", "map:camera_optical",
                   "--depth-topic", DEPTH, "--log-level", "warning"])
    return rc, stdout.getvalue(), err.getvalue()


def test_a_bag_with_corrupt_colour_and_depth_messages_builds_a_map_naming_them(tmp_path,
                                                                               capsys, built):
    bag = _mapping_bag(tmp_path / "bag", bad_colour=[2], bad_depth=[5], uncut=[7],
                       depth_size=[8])
    out = tmp_path / "map"
    rc, stdout, err = _build(bag, out, capsys)
    assert rc == 0, err
    bad = [2, 5, 7, 8]
    warned = [ln for ln in err.splitlines() if "skipped (no keyframe taken from it)" in ln]
    assert len(warned) == 4, err
    for line, k in zip(warned, bad):  # each names its frame's topic and stamp
        assert f"frame at t={STAMPS[k] * 1e-9:.6f} s skipped" in line, line
    assert f"{CAM} at t=1.200000 s: " in warned[0], warned[0]
    assert f"{CAM} at t=1.500000 s: its depth at t=1.500000 s: depth topic {DEPTH}" in \
        warned[1], warned[1]
    assert "could not be deserialized" in warned[2], warned[2]
    # a depth of another size names its topic, in the user's words (not Frame.depth_m)
    assert (f"{CAM} at t=1.800000 s: its depth at t=1.800000 s: depth topic {DEPTH}: 8x8, but "
            "the image is 8x6: register depth to the colour image") in warned[3], warned[3]
    assert "4 of 10 frames could not be read and were skipped" in err, err
    assert "the longest run of them, 2 frames in a row at t=1.700..1.800 s" in err, err
    assert f"map {out}: 6 keyframes from 10 frames (4 unreadable, skipped); " in stdout, stdout
    manifest = json.loads((out / "manifest.json").read_text())
    record = manifest["unreadable_frames"]
    assert record["count"] == 4 and record["of_frames"] == 10
    assert record["stamps_ns"] == [STAMPS[k] for k in bad]
    assert record["first"]["reason"] == warned[0].split(" skipped (no keyframe taken from "
                                                        "it): ")[1]
    # no keyframe was taken from a frame whose colour or depth was unreadable
    keyframes = KeyframeMap.load(str(out)).keyframes
    assert [k.stamp_ns for k in keyframes] == [t for k, t in enumerate(STAMPS) if k not in bad]
    # a bag every frame of which is read writes no unreadable_frames
    good = built["good"]
    rc, stdout, err = good.rc, good.stdout, good.err
    assert rc == 0 and "unreadable" not in stdout + err, err
    assert "unreadable_frames" not in json.loads((good.path / "manifest.json").read_text())


def test_a_bag_whose_frames_are_all_corrupt_is_refused_in_one_line(tmp_path, capsys):
    bag = _mapping_bag(tmp_path / "bag", bad_colour=range(10))
    out = tmp_path / "map"
    rc, stdout, err = _build(bag, out, capsys)
    errors = [ln for ln in err.splitlines() if ": error: " in ln]
    assert rc == 2 and len(errors) == 1 and not stdout, err
    assert f"{CAM} at t=1.000000 s: " in errors[0], errors[0]
    assert errors[0].endswith("(the first 10 frames are unreadable: a broken recording, not "
                              "one bad frame)"), errors[0]
    assert not out.exists() and not (tmp_path / "map.partial").exists()
    # nine bad, the tenth read: a map of that one frame, the nine named
    bag = _mapping_bag(tmp_path / "bag9", bad_depth=range(9))
    rc, stdout, err = _build(bag, out, capsys)
    assert rc == 0 and "1 keyframe from 10 frames (9 unreadable, skipped)" in stdout, err


@pytest.mark.usefixtures("one_torch_thread")  # the tiny network encodes the keyframes
def test_a_resumed_build_skips_the_same_frames_and_names_them(tiny_ckpt, tum, tmp_path,
                                                              monkeypatch, capsys):
    """--resume reads the recording again: the frame skipped before is skipped again, so the
    keyframes (and the shards encoded from them) are the same, the shards are not encoded
    again, and the finished map's manifest names the frame."""
    import re
    import shutil

    from test_map_v2 import _params

    from mast3r_ros.replay import pipeline
    from mast3r_ros.replay.tum import TumSequence

    folder = tmp_path / "src"
    shutil.copytree(tum[0], folder)
    depth = [ln.split()[1] for ln in (folder / "depth.txt").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    (folder / depth[6]).write_bytes(b"\x89PNG\r\n")  # a depth PNG cut short
    stamp = int(TumSequence(folder).stamps_ns[6])
    out, params = str(tmp_path / "map"), _params(tmp_path)
    argv = ["build-map", str(folder), "--out", out, "--checkpoint", tiny_ckpt, "--params",
            params, "--workers", "1", "--log-level", "info"]

    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(pipeline, "plot_keyframes", interrupted)
    assert main(argv) == 130
    monkeypatch.undo()
    capsys.readouterr()
    assert main(argv + ["--resume"]) == 0
    stdout, err = capsys.readouterr()
    done = re.search(r"resuming: (\d+) of (\d+) shards already encoded", err)
    assert done and done.group(1) == done.group(2) != "0", err[-2000:]
    assert "holds no encoded shard" not in err, err[-2000:]  # it holds them all
    assert "(1 unreadable, skipped)" in stdout, stdout
    manifest = json.loads((tmp_path / "map" / "manifest.json").read_text())
    assert manifest["unreadable_frames"]["stamps_ns"] == [stamp]
    assert stamp not in [k.stamp_ns for k in KeyframeMap.load(out).keyframes]


def test_a_depth_message_that_cannot_be_deserialized_makes_its_frame_unreadable(tmp_path,
                                                                              capsys):
    """A depth message whose CDR is cut short stopped the bag's indexing pass (build-map: exit
    2 before any frame). It is stamped as an undeserializable image is (here its header
    stamp, read from its first bytes), and the frame matched to it is unreadable: skipped by
    build-map, named."""
    from mast3r_ros.core.errors import InputError
    from mast3r_ros.core.types import UnreadableFrame
    from mast3r_ros.replay.rosbag import BagSequence

    bag = _mapping_bag(tmp_path / "bag", uncut_depth=[3])
    seq = BagSequence(bag, image_topic=CAM, depth_topic=DEPTH)
    got = list(seq.frames_or_unreadable())
    assert [i for i, f in enumerate(got) if isinstance(f, UnreadableFrame)] == [3]
    assert got[3].reason.startswith(
        f"{CAM} at t=1.300000 s: its depth at t=1.300000 s: depth topic {DEPTH}: the message "
        "received at bag time 1.300000 s could not be deserialized: "), got[3].reason
    assert all(f.depth_m is not None for k, f in enumerate(got) if k != 3)
    with pytest.raises(InputError, match=f"depth topic {DEPTH}: the message received at bag "
                                         "time 1.300000 s could not be deserialized"):
        list(seq)  # plain iteration still reads every frame
    rc, stdout, err = _build(bag, tmp_path / "map", capsys)
    assert rc == 0 and "9 keyframes from 10 frames (1 unreadable, skipped)" in stdout, err
    assert "1 depth message on /cam/depth cannot be deserialized" in err, err
    manifest = json.loads((tmp_path / "map" / "manifest.json").read_text())
    assert manifest["unreadable_frames"]["stamps_ns"] == [STAMPS[3]]


def test_an_empty_depth_message_is_named_as_empty_not_as_unregistered(tmp_path, capsys):
    """A 0x0 depth message (a driver's empty image) read 'Frame.depth_m has shape (0, 0) but
    the image is ...: register depth to the colour image first', naming no topic and sending
    the user to a registration that is not the cause."""
    bag = _mapping_bag(tmp_path / "bag", empty_depth=[4])
    rc, stdout, err = _build(bag, tmp_path / "map", capsys)
    assert rc == 0 and "9 keyframes from 10 frames (1 unreadable, skipped)" in stdout, err
    warned = [ln for ln in err.splitlines() if "skipped (no keyframe taken from it)" in ln]
    assert len(warned) == 1, err
    assert warned[0].endswith(f"{CAM} at t=1.400000 s: its depth at t=1.400000 s: depth topic "
                              f"{DEPTH}: the depth image is empty (0x0 pixels)"), warned[0]
    # one frame skipped: counted, and no 'longest run of them' (a run of one is no gap)
    (count,) = [ln for ln in err.splitlines() if "could not be read and were skipped" in ln]
    assert "1 of 10 frames could not be read" in count and "longest run" not in count, count


def test_check_map_and_a_merged_map_still_name_the_frames_the_build_skipped(tmp_path, capsys,
                                                                            built):
    """A field tester's find: the record of skipped frames sat in manifest.json only --
    check-map said nothing of it and merge-maps dropped it. check-map now adds a note (exit 0:
    the map is consistent) and carries the record in its --json; a merge keeps it per source
    map (``merged_from``), so that check-map on the merged map still says it."""
    a = built["skipped"].path
    assert built["skipped"].rc == 0
    js = tmp_path / "check.json"
    assert main(["check-map", str(a), "--json", str(js)]) == 0
    out = capsys.readouterr().out
    assert (f"note: {a}: built with 3 of 10 frames unreadable and skipped (the longest run 2 "
            "frames in a row, at t=1.500..1.600 s): the map may lack keyframes there") in out, out
    record = json.loads((a / "manifest.json").read_text())["unreadable_frames"]
    assert json.loads(js.read_text())["unreadable_frames"] == record
    # B: every frame read, the frames A skipped among its keyframes (the rest are A's copies)
    b = built["good"].path
    assert built["good"].rc == 0
    assert main(["check-map", str(b), "--json", str(js)]) == 0
    assert "unreadable" not in capsys.readouterr().out + js.read_text()
    c = tmp_path / "c"
    assert main(["merge-maps", str(a), str(b), "--out", str(c), "--log-level", "warning"]) == 0
    sources = json.loads((c / "manifest.json").read_text())["merged_from"]
    sha = [hashlib.sha256((m / "manifest.json").read_bytes()).hexdigest() for m in (a, b)]
    content = [content_digests(json.loads((m / "manifest.json").read_text())) for m in (a, b)]
    assert sources == [{"role": "A", "map": str(a), "manifest_sha256": sha[0],
                        "content_sha256": content[0], "keyframes": 7,
                        "unreadable_frames": record, "depth_units_per_m": 1000.0,
                        "image_stamp": "header", "recording": "rosbag2"},
                       {"role": "B", "map": str(b), "manifest_sha256": sha[1],
                        "content_sha256": content[1], "keyframes": 3,
                        "depth_units_per_m": 1000.0, "image_stamp": "header",
                        "recording": "rosbag2"}]
    capsys.readouterr()
    assert main(["check-map", str(c), "--json", str(js)]) == 0
    out = capsys.readouterr().out
    assert (f"note: {c}: map A ({a}) was built with 3 of 10 frames unreadable and skipped (the "
            "longest run 2 frames in a row, at t=1.500..1.600 s)") in out, out
    assert json.loads(js.read_text())["merged_from"] == sources
    # a merge of the merge names the source by its path of sources
    d = tmp_path / "d"
    assert main(["merge-maps", str(b), str(c), "--out", str(d), "--keep-duplicates",
                 "--log-level", "warning"]) == 0
    capsys.readouterr()
    assert main(["check-map", str(d)]) == 0
    out = capsys.readouterr().out
    assert f"note: {d}: map B ({c}) > map A ({a}) was built with 3 of 10 frames" in out, out


def test_the_keyframes_plot_marks_the_skipped_frames_on_the_trajectory(built):
    """keyframes.png showed the trajectory and its keyframes, not where frames were skipped:
    they are now red crosses on the trajectory at their stamps (an unreadable frame has no
    pose of its own), where the map may lack keyframes."""
    m = built["skipped"]  # built with the plot spies on (`built`)
    assert m.rc == 0, m.err
    assert (m.path / "keyframes.png").stat().st_size > 0
    (lines, (a, b)), = m.top_down
    crosses = lines["3 unreadable frames, skipped"]
    # the camera moves 0.5 m a frame in a straight line: frame k at p0 + k (p1 - p0)
    c = np.stack([k.map_from_cam[:3, 3] for k in KeyframeMap.load(str(m.path))
                  .keyframes])[:, [a, b]]
    expected = np.stack([c[0] + k * (c[1] - c[0]) for k in (2, 5, 6)])
    np.testing.assert_allclose(crosses, expected, atol=1e-9)
    # a build that read every frame draws none
    assert built["good"].rc == 0
    (lines, _), = built["good"].top_down
    assert not any("unreadable" in label for label in lines), lines


@pytest.fixture(scope="module")
def checked_plots(built, tmp_path_factory):
    """check-map --plot, run once each with the plot spies on (the two tests below read the
    same runs: ~1 s of CI each), of ``skipped`` and ``good20`` (`built`) and of their merges
    with B's duplicates of A's frames kept, ``a+b`` and ``b+a``; per map its path, exit code,
    picture size, top-down plots and consistency panels drawn (`_drawn_spies`)."""
    import contextlib
    import io

    d = tmp_path_factory.mktemp("checked_plots")
    a, b = built["skipped"].path, built["good20"].path
    assert built["skipped"].rc == built["good20"].rc == 0
    maps = {"skipped": a, "good20": b, "a+b": d / "ab", "b+a": d / "ba"}
    out = {}
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        top_down, panels = _drawn_spies(mp)
        for first, second, name in ((a, b, "a+b"), (b, a, "b+a")):
            assert main(["merge-maps", str(first), str(second), "--out", str(maps[name]),
                         "--keep-duplicates", "--log-level", "error"]) == 0
        for name, m in maps.items():
            top_down.clear()
            panels.clear()
            png = d / f"{name.replace('+', '_')}.png"
            rc = main(["check-map", str(m), "--plot", str(png)])
            out[name] = types.SimpleNamespace(
                path=m, rc=rc, png_size=png.stat().st_size if png.exists() else 0,
                top_down=list(top_down), panels=list(panels))
    return out


def test_check_map_plot_marks_the_skipped_frames_between_the_keyframes(checked_plots):
    """check-map --plot drew a map's keyframes but not where its build skipped frames (the
    manifest's unreadable_frames): they are now red crosses at their stamps between the
    keyframes before and after (the map keeps no trajectory), a merged map's per source, on
    that source's own keyframes (``merged_from``), so that the gaps show where they are."""
    def crosses(name, label):
        run = checked_plots[name]
        assert run.rc == 0 and run.png_size > 0
        (lines, (i, j)), = run.top_down
        assert label in lines, list(lines)
        kf = np.stack([k.map_from_cam[:3, 3] for k in KeyframeMap.load(str(run.path))
                       .keyframes])
        return lines[label], kf[:, [i, j]]

    got, kf = crosses("skipped", "3 unreadable frames, skipped")
    # the camera moves 0.5 m a frame in a straight line: frame k at p0 + k (p1 - p0)
    expected = np.stack([kf[0] + k * (kf[1] - kf[0]) for k in (2, 5, 6)])
    np.testing.assert_allclose(got, expected, atol=1e-9)
    # merged, B's duplicates of A's frames kept: A's crosses on A's keyframes (the first 7)
    # (B: every frame read, at the same stamps 20 m to the side: another recording)
    got, kf = crosses("a+b", "3 unreadable frames, skipped")
    np.testing.assert_allclose(got, expected, atol=1e-9)
    # B first: A's frames follow B's 10 keyframes, and are still placed on A's own
    got, _ = crosses("b+a", "3 unreadable frames, skipped")
    np.testing.assert_allclose(got, expected, atol=1e-9)
    # a map whose every frame was read draws none
    run = checked_plots["good20"]
    assert run.rc == 0 and run.png_size > 0
    assert not any("unreadable" in label for label in run.top_down[0][0]), run.top_down[0][0]


def test_the_consistency_panel_marks_the_skipped_frames_as_the_trajectory_panel_does(
        built, checked_plots):
    """check-map --plot's (and keyframes.png's) consistency panel did not mark the frames the
    build skipped, while the top-down panel beside it did: they are now red crosses along its
    keyframe axis too, at their stamps between the keyframes before and after, with the same
    legend entry; a merged map's on its source's keyframes."""
    assert built["skipped"].rc == 0
    # frames 0 1 3 4 7 8 9 are keyframes 0..6, evenly stamped: frame 2 halfway between
    # keyframes 1 and 2, frames 5 and 6 a third and two thirds between keyframes 3 and 4
    expected = [1.5, 3 + 1 / 3, 3 + 2 / 3]
    (panel,) = built["skipped"].panels  # keyframes.png's (drawn with the spies on: `built`)
    np.testing.assert_allclose(panel["3 unreadable frames, skipped"][:, 0], expected)
    assert checked_plots["skipped"].rc == 0
    (checked,) = checked_plots["skipped"].panels
    np.testing.assert_allclose(checked["3 unreadable frames, skipped"][:, 0], expected)
    # B's 10 keyframes first: A's frames on A's own keyframes, 10 on
    assert checked_plots["b+a"].rc == 0
    (merged,) = checked_plots["b+a"].panels
    np.testing.assert_allclose(merged["3 unreadable frames, skipped"][:, 0],
                               np.add(expected, 10))
    assert checked_plots["good20"].rc == 0
    (clean,) = checked_plots["good20"].panels
    assert not any("unreadable" in label for label in clean), clean


def test_merged_from_names_each_source_by_absolute_path_and_manifest_hash(tmp_path, capsys,
                                                                         monkeypatch, built):
    """merged_from recorded each source's path as typed: 'a' from the folder the merge ran in
    named nothing once check-map ran elsewhere, and nothing told whether the folder there was
    still that map. It is now absolute, with the sha256 of the source's manifest.json (which
    lists every file's sha256): the same map has the same hash, a rebuilt one another."""
    monkeypatch.chdir(tmp_path)
    # the shared maps copied here (as built: the same manifests), named relatively below
    shutil.copytree(built["skipped"].path, "a")
    shutil.copytree(built["good20"].path, "b")
    (tmp_path / "bag").mkdir()
    assert main(["merge-maps", "a", "b", "--out", "c", "--log-level", "error"]) == 0
    sources = json.loads((tmp_path / "c" / "manifest.json").read_text())["merged_from"]
    assert [s["map"] for s in sources] == [str(tmp_path / "a"), str(tmp_path / "b")]
    for s, m in zip(sources, "ab"):
        manifest = (tmp_path / m / "manifest.json").read_bytes()
        assert s["manifest_sha256"] == hashlib.sha256(manifest).hexdigest()
    capsys.readouterr()
    monkeypatch.chdir(tmp_path / "bag")  # elsewhere: the note still names the folder
    assert main(["check-map", str(tmp_path / "c")]) == 0
    assert f"map A ({tmp_path / 'a'}) was built with 3 of 10 frames" in capsys.readouterr().out


def test_a_late_depth_message_that_cannot_be_deserialized_skips_its_own_frame(tmp_path,
                                                                             capsys):
    """A depth message that cannot be deserialized was stamped from its receive time: one that
    arrived late (after the next depth message) was estimated at the next frame's time, so
    that frame, whose own depth was fine, was skipped, and the true frame lost its depth
    without a word. Its header stamp is read from its first bytes (a message cut short keeps
    them): the true frame is skipped, the next one keeps its depth; a damaged stamp there
    falls back to the receive-time estimate."""
    from mast3r_ros.core.types import UnreadableFrame
    from mast3r_ros.replay.rosbag import BagSequence

    # depth stamped 5 ms before its image, received 1 ms after its stamp; the depth of frame
    # 3 received 1 ms after frame 4's depth
    late = {k: STAMPS[k] - 4 * MS for k in range(10)}
    late[3] = STAMPS[4] - 3 * MS
    bag = _mapping_bag(tmp_path / "bag", uncut_depth=[3], depth_offset=-5 * MS,
                       depth_received=late)
    got = list(BagSequence(bag, image_topic=CAM, depth_topic=DEPTH).frames_or_unreadable())
    assert [i for i, f in enumerate(got) if isinstance(f, UnreadableFrame)] == [3]
    assert got[3].reason.endswith("(its header stamp t=1.295000 s read from its first "
                                  "bytes)"), got[3].reason
    assert got[4].depth_m is not None and np.allclose(got[4].depth_m, 1.040)
    rc, stdout, err = _build(bag, tmp_path / "map", capsys)
    assert rc == 0 and "9 keyframes from 10 frames (1 unreadable, skipped)" in stdout, err
    manifest = json.loads((tmp_path / "map" / "manifest.json").read_text())
    assert manifest["unreadable_frames"]["stamps_ns"] == [STAMPS[3]]
    # its stamp damaged as well: the receive-time estimate, as before (frame 4 then)
    bag = _mapping_bag(tmp_path / "bag2", bad_stamp=[3], depth_offset=-5 * MS,
                       depth_received=late)
    got = list(BagSequence(bag, image_topic=CAM, depth_topic=DEPTH).frames_or_unreadable())
    assert [i for i, f in enumerate(got) if isinstance(f, UnreadableFrame)] == [4]
    assert "taken as t=1.396000 s from that receive time" in got[4].reason, got[4].reason


def test_the_header_stamp_of_a_message_cut_short_is_read_from_its_first_bytes():
    """The stamp sits right after the 4-byte CDR encapsulation header (int32 sec, uint32
    nanosec, in the byte order the header names); bytes that cannot be that give None."""
    import struct

    from mast3r_ros.replay.rosbag.undeserialized import header_stamp_of_cdr

    le = b"\x00\x01\x00\x00" + struct.pack("<iI", 1700000000, 123456789) + b"\x05\x00"
    be = b"\x00\x00\x00\x00" + struct.pack(">iI", 1700000000, 123456789)
    assert header_stamp_of_cdr(le) == header_stamp_of_cdr(be) == 1700000000123456789
    assert header_stamp_of_cdr(memoryview(le)) == 1700000000123456789
    assert header_stamp_of_cdr(le[:11]) is None  # nanosec cut
    assert header_stamp_of_cdr(b"\x00\x07" + le[2:]) is None  # no CDR encapsulation
    assert header_stamp_of_cdr(b"\x01\x01" + le[2:]) is None  # nor with a first byte of 1
    assert header_stamp_of_cdr(b"\x00\x01\x00\x00" + struct.pack("<iI", 1, 10 ** 9)) is None
