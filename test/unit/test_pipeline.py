"""The offline pipeline drives the localizer through the one tracker (no model, no map)."""

from __future__ import annotations

import dataclasses
import itertools
import json
import os

import numpy as np
import pytest

from mast3r_ros.core.config import Config
from mast3r_ros.core.tracker import Track, Tracker
from mast3r_ros.core.types import Frame, LocalizationResult
from mast3r_ros.replay.localize_run import localize_frames
from mast3r_ros.replay.sources import select_frames, selected_positions
from mast3r_test_utils import keyframe_records, pose



def rgb(stamp):
    """A 4x4 image of its own for each stamp: a camera never repeats one (a repeat is a frozen
    driver's, refused: core/repeated_image.py)."""
    return np.resize(np.frombuffer(int(stamp).to_bytes(8, "little", signed=True), np.uint8),
                     (4, 4, 3))


class ScriptedLocalizer:
    """A stateless localizer (the Localizer contract's signature) that replays a script of
    successes and failures and records the hint it was given for each frame."""

    def __init__(self, script):
        self.script = list(script)
        self.hints = []

    def localize(self, frame, prior=None, force_global=False, *, hint=None, with_matches=False):
        self.hints.append(None if hint is None else hint[0, 3])
        if self.script.pop(0):
            return LocalizationResult(True, frame.stamp_ns, pose([0, 0, 0], [frame.stamp_ns, 0, 0]))
        return LocalizationResult.failure(frame.stamp_ns, "scripted failure")


def frames(stamps):
    return [Frame(rgb(s), None, s) for s in stamps]


def test_hint_is_the_last_success_until_lost():
    loc = ScriptedLocalizer([True, False, True, False, False, True])
    tracker = Tracker(lost_after_failures=2)
    out = list(localize_frames(loc, frames([1, 2, 3, 4, 5, 6]), tracker))
    assert [r.success for _, r in out] == [True, False, True, False, False, True]
    # frame 6 follows two failures: lost, so no hint (global retrieval)
    assert loc.hints == [None, 1.0, 1.0, 3.0, 3.0, None]
    assert tracker.track is Track.TRACKING and tracker.hint()[0, 3] == 6.0


def test_time_going_backwards_resets_and_global_only_gives_no_hint():
    loc = ScriptedLocalizer([True, True, True])
    list(localize_frames(loc, frames([5, 6, 2]), Tracker()))
    assert loc.hints == [None, 5.0, None]  # 2 < 6: tracking reset
    loc = ScriptedLocalizer([True, True])
    list(localize_frames(loc, frames([1, 2]), Tracker(), global_only=True))
    assert loc.hints == [None, None]


def test_select_frames_stride_and_limit():
    got = [f.stamp_ns for f in select_frames(frames(range(10)), stride=3, max_frames=3)]
    assert got == [0, 3, 6]


def test_select_frames_and_selected_positions_are_one_rule_and_read_nothing_after_the_last():
    """One stride rule for the sources read in order and those read by position; a source read
    in order is not read past the last frame taken (it decoded up to stride - 1 more)."""
    for n, stride, most in itertools.product(range(9), range(1, 4), range(4)):
        source = iter(range(n))
        taken = list(select_frames(source, stride, most))
        assert taken == list(selected_positions(n, stride, most)), (n, stride, most)
        assert taken == list(range(n))[::stride][:most or None], (n, stride, most)
        if taken and most and len(taken) == most:
            assert next(source, None) == (taken[-1] + 1 if taken[-1] + 1 < n else None)


# --------------------------------------------------- build-map's consistency check (issue 8) ---

@pytest.fixture(scope="module")
def demo_seq(tmp_path_factory):
    from mast3r_ros.replay.synthetic import write_demo_sequences

    return write_demo_sequences(str(tmp_path_factory.mktemp("seq")), num_frames=16, width=320,
                                height=240, seed=2)


def _sift_cfg():
    from mast3r_ros.core.config import Config

    cfg = Config()
    return dataclasses.replace(cfg, localizer=dataclasses.replace(cfg.localizer, matcher="sift"))


def _manifest(path):
    with open(os.path.join(path, "manifest.json"), encoding="utf-8") as fh:
        return json.load(fh)




def test_build_map_refuses_an_inconsistent_map_unless_forced(demo_seq, tmp_path):
    from mast3r_ros.core.map_check import MapConsistencyError
    from mast3r_ros.replay.pipeline import build_map
    from mast3r_ros.replay.tum import TumSequence

    cfg, out = _sift_cfg(), str(tmp_path / "map")
    wrong = TumSequence(demo_seq[0], depth_scale=500.0)  # depth read x10 too deep
    with pytest.raises(MapConsistencyError, match=r"--depth-scale 5000\b"):
        build_map(wrong, out, cfg)
    assert not os.path.exists(out) and os.listdir(tmp_path) == []  # nothing left behind
    n, path = build_map(wrong, out, cfg, force=True)
    check = _manifest(path)["consistency"]
    assert check["verdict"] == "inconsistent" and check["forced"] is True
    assert len(check["keyframes"]) == n == len(keyframe_records(path))
    n, path = build_map(TumSequence(demo_seq[0]), out, cfg, overwrite=True)
    check = _manifest(path)["consistency"]
    assert check["verdict"] == "consistent" and check["forced"] is False
    assert [k["index"] for k in check["keyframes"]] == list(range(n))
    assert os.path.isfile(os.path.join(path, "keyframes.png"))
    off = dataclasses.replace(cfg, map_check=dataclasses.replace(cfg.map_check, enabled=False))
    _, path = build_map(wrong, out, off, overwrite=True)
    assert "consistency" not in _manifest(path)


def test_build_map_keeps_no_keyframe_image_in_memory_for_its_check(demo_seq, tmp_path,
                                                                   monkeypatch):
    """The map check measures each keyframe as it is written and keeps none of its pixels (it
    kept every keyframe's downsampled image and depth until the end: ~0.5 MB per 640x480
    keyframe, 10 GB at 2*10^4); the figures are the ones check-map gives on the map written."""
    import gc

    from mast3r_ros.core.keyframes import KeyframeMap
    from mast3r_ros.core.map_check import KeyframeRecord, check_map, measure
    from mast3r_ros.replay.pipeline import build_map
    from mast3r_ros.replay.tum import TumSequence

    alive = []
    prepare = measure._prepare

    def counting(rec, *a, **k):
        alive.append(sum(type(o) is KeyframeRecord for o in gc.get_objects()))
        return prepare(rec, *a, **k)

    monkeypatch.setattr(measure, "_prepare", counting)
    n, path = build_map(TumSequence(demo_seq[0]), str(tmp_path / "map"), _sift_cfg())
    assert n >= 6 and len(alive) == n
    assert max(alive) <= 2, alive  # the record being measured (and the caller's reference)
    built = _manifest(path)["consistency"]
    again = check_map(KeyframeMap.load(path), _sift_cfg().map_check).to_manifest()
    for fig in (built, again):
        fig.pop("elapsed_s")
        fig.pop("message")
    assert {k: v for k, v in built.items() if k in again} == again


def test_depth_beyond_the_map_format_names_the_depth_scale_option(demo_seq, tmp_path):
    """TUM depth read at 1 unit per metre (``--depth-scale 1``: 5000 units/m PNGs taken as
    metres) reaches kilometres: the error said "divide by your sensor's depth scale", the Python
    API's fix, to a command-line user who has no depth array to divide."""
    from mast3r_ros.core.errors import InputError
    from mast3r_ros.core.keyframes.pixels import DepthRangeError
    from mast3r_ros.replay.pipeline import build_map
    from mast3r_ros.replay.tum import TumSequence

    out = str(tmp_path / "map")
    with pytest.raises(InputError) as info:
        build_map(TumSequence(demo_seq[0], depth_scale=1.0), out, _sift_cfg())
    msg = str(info.value)
    assert not isinstance(info.value, DepthRangeError) and isinstance(info.value.__cause__,
                                                                        DepthRangeError)
    assert "keyframe 0's depth reaches" in msg and "655 m" in msg, msg
    assert "read at 1 raw units per metre" in msg and "--depth-scale UNITS" in msg, msg
    assert "divide by" not in msg and "\n" not in msg, msg
    assert not os.path.exists(out) and os.listdir(tmp_path) == []  # nothing left behind


def test_a_build_interrupted_while_plotting_publishes_no_map(demo_seq, tmp_path, monkeypatch):
    """keyframes.png and build_config.yaml are written before the map is published: an
    interruption there leaves no map at OUT (nor, with no shard encoded, its build folder: there
    is nothing to resume), and a finished
    build always has both (fresh-user finding: Ctrl-C after 'wrote map' left a map without its
    plot)."""
    from mast3r_ros.replay import pipeline
    from mast3r_ros.replay.tum import TumSequence

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    out = str(tmp_path / "map")
    monkeypatch.setattr(pipeline, "plot_keyframes", interrupted)
    with pytest.raises(KeyboardInterrupt):
        pipeline.build_map(TumSequence(demo_seq[0]), out, _sift_cfg())
    assert not os.path.exists(out)
    assert [n for n in os.listdir(tmp_path) if n.startswith("map")] == []
    monkeypatch.undo()
    _, path = pipeline.build_map(TumSequence(demo_seq[0]), out, _sift_cfg(), overwrite=True)
    assert {"keyframes.png", "build_config.yaml"} <= set(os.listdir(path))


def test_the_resume_hint_of_an_interrupted_rebuild_names_overwrite(demo_seq, tmp_path,
                                                                   monkeypatch, caplog):
    """Over an existing map, `--resume` alone is refused (the folder exists): the hint after
    Ctrl-C says `--resume --overwrite` there, `--resume` for a new folder. With no shard
    encoded (the sift matcher here; a mast3r build stopped early) there is nothing to resume:
    the message said 'finished shards are kept' anyway (a fresh user's find)."""
    from mast3r_ros.replay import pipeline
    from mast3r_ros.replay.tum import TumSequence

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "plot_keyframes", interrupted)
    out = str(tmp_path / "nothing")
    with pytest.raises(KeyboardInterrupt):
        pipeline.build_map(TumSequence(demo_seq[0]), out, _sift_cfg())
    (msg,) = [r.getMessage() for r in caplog.records if "interrupted" in r.getMessage()]
    # a sift build encodes nothing: "before any keyframe was encoded" read as if it would
    # (the new user); a mast3r build stopped before its first shard keeps those words
    assert msg == f"build interrupted: {out} was not written; rerun the same command to start over"
    assert not os.path.exists(out + ".partial")  # its keyframe PNGs were left behind
    monkeypatch.setattr(pipeline, "finished_shards", lambda folder: ["shard_000000.json"])
    # an empty folder made first is written without --overwrite: --resume alone there too
    for exists, hint in (("", "rerun with --resume"), ("empty", "rerun with --resume"),
                         ("map", "rerun with --resume --overwrite")):
        out = str(tmp_path / f"map_{exists}")
        if exists:
            os.makedirs(out)
        if exists == "map":
            with open(os.path.join(out, "manifest.json"), "w") as fh:
                fh.write('{"format": "mast3r_ros.keyframe_map"}')
        caplog.clear()
        with pytest.raises(KeyboardInterrupt):
            pipeline.build_map(TumSequence(demo_seq[0]), out, _sift_cfg(), overwrite=True)
        (msg,) = [r.getMessage() for r in caplog.records if "interrupted" in r.getMessage()]
        assert msg.endswith(hint), msg


def test_resume_refuses_a_build_folder_of_another_checkpoint(tmp_path):
    from mast3r_ros.core.errors import InputError
    from mast3r_ros.replay.map_build import refuse_other_unfinished_builds

    enc = tmp_path / "encodings"
    (enc / "aaaa_512").mkdir(parents=True)
    (enc / "aaaa_512" / "build.json").write_text('{"identity": "0123abcd", "image_size": 512}')
    with pytest.raises(InputError, match=r"was encoding aaaa_512 \(checkpoint id 0123abcd at "
                                         r"512\), another checkpoint or image size than this "
                                         r"run's checkpoint id 4567ef at 512 \(cccc_512\)"):
        refuse_other_unfinished_builds(str(enc), "cccc_512", resume=True, identity="4567ef",
                                       image_size=512)
    refuse_other_unfinished_builds(str(enc), "aaaa_512", resume=True)  # the same build: fine
    refuse_other_unfinished_builds(str(enc), "cccc_512", resume=False)  # starts over: fine
    refuse_other_unfinished_builds(str(tmp_path / "none"), "cccc_512", resume=True)
    assert sorted(os.listdir(enc)) == ["aaaa_512"]  # nothing created
    # a build killed after its encodings were all written (e.g. during the ASMK index): its
    # store has no build.json any more, and would stay in the map as dead data
    (enc / "aaaa_512" / "build.json").unlink()
    with pytest.raises(InputError, match=r"was done encoding aaaa_512, another checkpoint"):
        refuse_other_unfinished_builds(str(enc), "cccc_512", resume=True)
    refuse_other_unfinished_builds(str(enc), "aaaa_512", resume=True)


def test_resume_refusal_names_the_option_that_sets_the_image_size(tmp_path):
    """'resume with that checkpoint and size': build-map has no --size option; the size is the
    image_size parameter (--params)."""
    from mast3r_ros.core.errors import InputError
    from mast3r_ros.replay.map_build import refuse_other_unfinished_builds

    enc = tmp_path / "encodings"
    (enc / "aaaa_384").mkdir(parents=True)
    (enc / "aaaa_384" / "build.json").write_text('{"identity": "0123abcd", "image_size": 384}')
    fix = (r"; resume with that checkpoint \(--checkpoint\) and image size \('image_size: 384' "
           r"in --params\), or rerun with --restart instead of --resume to delete it and "
           r"start over$")  # --overwrite never deletes a MAP.partial holding shards
    with pytest.raises(InputError, match=fix):
        refuse_other_unfinished_builds(str(enc), "aaaa_512", resume=True, identity="0123abcd",
                                       image_size=512)
    (enc / "aaaa_384" / "build.json").unlink()  # no build.json: the size from the folder name
    with pytest.raises(InputError, match=fix):
        refuse_other_unfinished_builds(str(enc), "aaaa_512", resume=True)


def test_localize_reads_the_groundtruth_file_first(demo_seq, tmp_path):
    from mast3r_ros.core.errors import InputError
    from mast3r_ros.replay.localize_run import run_localization
    from mast3r_ros.replay.pipeline import build_map
    from mast3r_ros.replay.tum import TumSequence

    cfg = _sift_cfg()
    _, path = build_map(TumSequence(demo_seq[0]), str(tmp_path / "map"), cfg)
    bad = tmp_path / "gt.txt"
    bad.write_text("0.0 0 0 0 0 0 0 1\n0.1 0 0 zero 0 0 0 1\n", encoding="utf-8")
    run = tmp_path / "run"
    with pytest.raises(InputError, match="gt.txt"):
        run_localization(TumSequence(demo_seq[1]), path, str(run), cfg, groundtruth=str(bad))
    assert not (run / "results.jsonl").exists()


# ------------------------------------------- build-map with depth missing for some frames ---

def _drop_depth(folder, out, keep):
    """A copy of the TUM ``folder`` whose depth.txt lists only the frames ``keep(i)`` is true
    for (a depth stream slower than the colour one: a RealSense at 30 / 15 Hz)."""
    import shutil

    shutil.copytree(folder, out)
    lines = [ln for ln in open(os.path.join(out, "depth.txt"), encoding="utf-8")
             if ln.strip() and not ln.startswith("#")]
    with open(os.path.join(out, "depth.txt"), "w", encoding="utf-8") as fh:
        fh.writelines(ln for i, ln in enumerate(lines) if keep(i))
    return len(lines) - sum(1 for i in range(len(lines)) if keep(i))


def test_frames_without_depth_are_not_keyframes_when_the_matcher_needs_depth(
        demo_seq, tmp_path, caplog):
    """build-map --matcher sift on a recording with depth missing for every 3rd image wrote
    keyframes without depth (a warning only), and localize --matcher sift then refused the map
    ("rebuild it from a source with depth"): now such frames are not offered as keyframes (the
    next frame with depth becomes the keyframe) and one warning counts them."""
    from mast3r_ros.core.keyframes import KeyframeMap
    from mast3r_ros.replay.pipeline import build_map
    from mast3r_ros.replay.tum import TumSequence

    src = str(tmp_path / "seq")
    skipped = _drop_depth(demo_seq[0], src, keep=lambda i: i % 3 != 0)  # frame 0 has none
    caplog.set_level("WARNING")
    n, path = build_map(TumSequence(src), str(tmp_path / "map"), _sift_cfg())
    m = KeyframeMap.load(path)
    assert n >= 2 and m.has_depth()
    assert min(k.stamp_ns for k in m.keyframes) == TumSequence(src).stamps_ns[1]
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert f"{skipped} frames without depth were not used as keyframes: the sift matcher " \
           "needs keyframe depth" in warned, warned
    assert not any("keyframes have no depth" in w for w in warned), warned
    # a matcher that does not need depth keeps every frame a candidate, as before
    caplog.clear()
    mast3r = dataclasses.replace(_sift_cfg().localizer, matcher="mast3r")
    _, path = build_map(TumSequence(src), str(tmp_path / "map2"),
                        dataclasses.replace(_sift_cfg(), localizer=mast3r))
    assert min(k.stamp_ns for k in KeyframeMap.load(path).keyframes) == \
        TumSequence(src).stamps_ns[0]
    assert any("keyframes have no depth" in r.getMessage() for r in caplog.records)


def test_no_keyframe_with_depth_is_one_error_naming_the_depth(demo_seq, tmp_path):
    """Depth only where there is no pose: no keyframe is left, an InputError (exit 2) says so
    instead of a map the sift matcher refuses."""
    from mast3r_ros.core.errors import InputError
    from mast3r_ros.replay.pipeline import build_map
    from mast3r_ros.replay.tum import TumSequence

    src = str(tmp_path / "seq")
    _drop_depth(demo_seq[0], src, keep=lambda i: i == 0)
    gt = os.path.join(src, "groundtruth.txt")
    lines = [ln for ln in open(gt, encoding="utf-8") if ln.strip() and not ln.startswith("#")]
    with open(gt, "w", encoding="utf-8") as fh:
        fh.writelines(lines[1:])  # frame 0, the only one with depth, has no pose
    out = str(tmp_path / "map")
    with pytest.raises(InputError, match=r"none of the \d+ frames with a pose has depth, and the "
                                         r"sift matcher needs keyframe depth: .*--sync-tolerance"):
        build_map(TumSequence(src), out, _sift_cfg())
    assert not os.path.exists(out)


# ----------------------------------------------- frames without a pose: the reason is said ---

def _every_other_pose(src, out, shift_s=0.0):
    """Every other line of ``src`` (a TUM trajectory, poses 0.2 s apart: 0.4 s apart now, more
    than pose_at_stamp.max_gap_s = 0.1 s), its stamps moved by ``shift_s``."""
    lines = [ln.split() for ln in open(src, encoding="utf-8")
             if ln.strip() and not ln.startswith("#")]
    with open(out, "w", encoding="utf-8") as fh:
        fh.writelines(f"{float(v[0]) + shift_s:.6f} {' '.join(v[1:])}\n" for v in lines[::2])
    return out


def test_the_build_summary_counts_the_frames_without_a_pose(demo_seq, tmp_path, capsys):
    """A robotics user's find: 'map M: 1 keyframe from 39 frames' and exit 0, the frames that
    lost their poses named only in a warning (filtered by --log-level error): the summary
    line counts them, and the manifest records them with the reason (frames_without_pose)."""
    import shutil

    from mast3r_ros.replay.cli import main

    src = tmp_path / "seq"
    shutil.copytree(demo_seq[0], src)
    gt = src / "groundtruth.txt"
    lines = [ln for ln in gt.read_text().splitlines() if ln and not ln.startswith("#")]
    gt.write_text(lines[0] + "\n")  # one pose: the first frame's
    capsys.readouterr()
    rc = main(["build-map", str(src), "--out", str(tmp_path / "map"), "--matcher", "sift",
               "--log-level", "error"])
    out = capsys.readouterr().out
    assert rc == 0
    assert ": 1 keyframe from 8 frames (7 without a pose, skipped); " in out, out
    record = _manifest(str(tmp_path / "map"))["frames_without_pose"]
    assert record["count"] == 7 and record["of_frames"] == 8, record
    assert "groundtruth.txt" in record["reason"], record
    # check-map says it too (it did not: neither its note lines nor its --json)
    js = tmp_path / "check.json"
    assert main(["check-map", str(tmp_path / "map"), "--json", str(js),
                 "--log-level", "error"]) == 0
    out = capsys.readouterr().out
    assert (f"note: {tmp_path / 'map'}: built from 8 frames, 7 without a pose and skipped (no "
            "keyframe taken from them): ") in out, out
    assert json.loads(js.read_text())["frames_without_pose"] == record


def test_frames_in_gaps_of_the_trajectory_say_max_gap_s(demo_seq, tmp_path, caplog):
    """'N frames had no pose and were skipped' said no reason: frames between poses farther
    apart than pose_at_stamp.max_gap_s now name it and the --params fix, for --trajectory and
    a TUM folder's groundtruth.txt alike."""
    from mast3r_ros.core.errors import InputError
    from mast3r_ros.replay.pipeline import build_map
    from mast3r_ros.replay.tum import TumSequence

    traj = _every_other_pose(os.path.join(demo_seq[0], "groundtruth.txt"),
                             str(tmp_path / "traj.txt"))
    caplog.set_level("WARNING")
    build_map(TumSequence(demo_seq[0]), str(tmp_path / "map"), _sift_cfg(), trajectory=traj)
    (warned,) = [r.getMessage() for r in caplog.records if "had no pose" in r.getMessage()]
    assert warned.startswith(f"4 frames had no pose and were skipped: 3 of these 4 frames are "
                             f"between two poses of --trajectory {traj} more than "
                             "pose_at_stamp.max_gap_s (0.100 s) apart (up to 0.400 s, its "
                             "poses 0.400 s apart at the median)"), warned
    assert warned.endswith("set 'pose_at_stamp: max_gap_s: 0.4' (under ros__parameters) in a "
                           "--params YAML"), warned
    # no frame has a pose (groundtruth.txt 0.4 s apart, between the frames): the error says
    # why, and not to give the source a groundtruth.txt it has
    src = tmp_path / "seq"
    import shutil

    shutil.copytree(demo_seq[0], src)
    _every_other_pose(os.path.join(demo_seq[0], "groundtruth.txt"),
                      str(src / "groundtruth.txt"), shift_s=0.1)
    with pytest.raises(InputError) as err:
        build_map(TumSequence(str(src)), str(tmp_path / "map2"), _sift_cfg())
    text = str(err.value)
    assert text.startswith(f"no frame has a pose: 6 of these 8 frames are between two poses of "
                           f"{src / 'groundtruth.txt'} more than pose_at_stamp.max_gap_s"), text
    assert "'pose_at_stamp: max_gap_s: 0.4'" in text and "give the source" not in text, text


def test_an_unreadable_frame_is_a_tracker_failure_as_the_node_counts_it():
    from mast3r_ros.core.types import UnreadableFrame

    loc = ScriptedLocalizer([True, True])
    items = [frames([1])[0], UnreadableFrame(2, "cannot read colour image rgb/2.png"),
             UnreadableFrame(3, "cannot read colour image rgb/3.png"), frames([4])[0]]
    tracker = Tracker(lost_after_failures=2)
    out = list(localize_frames(loc, items, tracker))
    assert [r.success for _, r in out] == [True, False, False, True]
    assert out[1][1].reason == "unreadable frame: cannot read colour image rgb/2.png"
    assert out[1][1].unreadable and not out[0][1].unreadable
    assert out[1][1].stamp_ns == 2 and len(loc.script) == 0  # never given to the localizer
    # two failures in a row after a success: lost, so the next frame gets no hint
    assert loc.hints == [None, None]
    # stride counts an unreadable frame's place
    got = [f.stamp_ns for f in select_frames(items, stride=2, max_frames=0)]
    assert got == [1, 3]


def test_unreadable_frames_first_ten_stop_and_many_are_warned_about_throttled(caplog):
    from mast3r_ros.core.errors import InputError
    from mast3r_ros.core.types import UnreadableFrame

    def bad(s):
        return UnreadableFrame(s, f"cannot read colour image rgb/{s}.png")

    # ten unreadable before any frame is read: the first one's error, and nothing yielded
    got = []
    with pytest.raises(InputError, match=r"rgb/1\.png .*the first 10 frames are unreadable"):
        for item in localize_frames(ScriptedLocalizer([]), [bad(s) for s in range(1, 12)],
                                    Tracker()):
            got.append(item)
    assert got == []
    # nine, then a readable frame: the nine are failed frames, in order, before it
    out = list(localize_frames(ScriptedLocalizer([True]),
                               [bad(s) for s in range(1, 10)] + frames([10]), Tracker()))
    assert [f.stamp_ns for f, _ in out] == list(range(1, 11))
    assert [r.success for _, r in out] == [False] * 9 + [True]
    # one line each for the first ten, then every hundredth
    caplog.clear()
    list(localize_frames(ScriptedLocalizer([True]), frames([0]) + [bad(s) for s in
                                                                   range(1, 251)], Tracker()))
    lines = [r.getMessage() for r in caplog.records if "skipped (a failed frame)" in
             r.getMessage()]
    assert len(lines) == 12 and "rgb/1.png" in lines[0] and "rgb/200.png" in lines[-1], lines
    assert "from here on every 100th is logged" in lines[9], lines[9]


def test_a_source_of_the_older_protocol_still_takes_a_stride():
    """`frames_or_unreadable()` without ``positions`` (a user's source written for the protocol
    before --stride skipped reading) got a TypeError once a stride or limit was given."""
    from mast3r_ros.replay.sources import frames_or_unreadable

    class Older:
        def __len__(self):
            return 10

        def frames_or_unreadable(self):
            return iter(frames(range(10)))

    got = [f.stamp_ns for f in frames_or_unreadable(Older(), stride=3, max_frames=3)]
    assert got == [0, 3, 6]


def test_a_frame_out_of_order_in_one_run_keeps_tracking():
    """With ``one_run`` (frames of one run of a rosbag2, its clock resets split off) an
    earlier stamp is a frame recorded out of order: no reset, the later stamp stays the last."""
    loc = ScriptedLocalizer([True] * 4)
    tracker = Tracker()
    list(localize_frames(loc, frames([5, 7, 6, 8]), tracker, one_run=True))
    assert loc.hints == [None, 5.0, 7.0, 6.0]
    assert tracker.last_stamp_ns == 8 and tracker.track is Track.TRACKING


def test_one_frame_or_keyframe_without_depth_is_said_in_the_singular(caplog):
    """A bag whose first image is stamped ahead of its depth: 'WARNING ... 1 frames without
    depth were not used as keyframes' (and '1 keyframes have no depth')."""
    from mast3r_ros.replay.build_frames import _MapStats
    from mast3r_ros.replay.pipeline import _warn_after_build

    caplog.set_level("WARNING")
    _warn_after_build(_MapStats(depth_skipped=1, no_depth=1, keyframes=3), _sift_cfg(), 20)
    warned = [r.getMessage() for r in caplog.records]
    assert any(w.startswith("1 frame without depth was not used as a keyframe: the sift")
               for w in warned), warned
    assert any(w.startswith("1 keyframe has no depth: ") for w in warned), warned


def test_a_source_without_any_depth_is_told_at_info_some_keyframes_without_at_warning(caplog):
    """A EuRoC/KITTI folder built on MASt3R's pointmaps (the documented route for a source
    without depth) printed a WARNING that the sift matcher would refuse the map: every keyframe
    without depth is the route itself (INFO, naming --stereo-depth); some without is a WARNING."""
    from mast3r_ros.replay.build_frames import _MapStats
    from mast3r_ros.replay.pipeline import _warn_after_build

    caplog.set_level("INFO", logger="mast3r_ros")
    for no_depth, level, stereo in ((4, "INFO", True), (3, "WARNING", False)):
        caplog.clear()
        _warn_after_build(_MapStats(no_depth=no_depth, keyframes=4), Config(), 20)
        said = [(r.levelname, r.getMessage()) for r in caplog.records
                if "no depth: the sift matcher" in r.getMessage()]
        assert len(said) == 1 and said[0][0] == level, (no_depth, said)
        assert ("--stereo-depth gives depth" in said[0][1]) is stereo, said
