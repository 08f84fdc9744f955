"""Two different images at one stamp in an image list (rgb.txt's 4th line re-stamped with the
3rd's, on redkitchen): both frames were scored against the one ground-truth pose at that stamp,
so the error of the image taken elsewhere was the distance between two camera poses (median
1.12 -> 1.16 cm), with only 'each line is localized and scored on its own: check the file'
said. Now their ground truth is left out (named in metrics.json and the table, one warning with
the file, its lines and the fix), and --resume and trajectory.tum still work."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest

from mast3r_ros.core.keyframes import KeyframeMap
from mast3r_ros.replay.cli import main
from mast3r_ros.replay.metrics import summarize
from mast3r_ros.replay.metrics_table import format_table
from mast3r_ros.replay.shared_stamps import SharedStamps, leave_out_ambiguous
from mast3r_ros.replay.sources import SourceOptions, open_source

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _restamped_query(tum, root):
    """``tum``'s query folder with its 3rd data line (file line 4) at the 2nd's stamp."""
    q = root / "q"
    shutil.copytree(tum[1], q)
    lines = (q / "rgb.txt").read_text().splitlines(keepends=True)
    lines[3] = lines[2].split()[0] + " " + lines[3].split()[1] + "\n"
    (q / "rgb.txt").write_text("".join(lines))
    return q, int(round(float(lines[2].split()[0]) * 1e9))


def test_localize_leaves_ambiguous_frames_out_of_the_figures_and_resumes(
        tum, sift_map, tmp_path, capsys, monkeypatch):
    q, stamp = _restamped_query(tum, tmp_path)
    run = tmp_path / "run"
    argv = ["localize", str(q), "--map", sift_map, "--out", str(run), "--matcher", "sift",
            "--max-frames", "5", "--log-level", "warning"]
    from mast3r_ros.core.localizer import Localizer

    real, calls = Localizer.localize, []

    def stop_after_3(self, *a, **k):  # Ctrl-C between the two frames at one stamp (2 and 3)
        calls.append(1)
        if len(calls) > 3:
            raise KeyboardInterrupt
        return real(self, *a, **k)

    monkeypatch.setattr(Localizer, "localize", stop_after_3)
    assert main(argv) == 130
    monkeypatch.setattr(Localizer, "localize", real)
    capsys.readouterr()
    assert main(argv + ["--resume"]) == 0
    out, err = capsys.readouterr()
    said = [line for line in err.splitlines() if "different images" in line]
    assert len(said) == 1 and f"{q / 'rgb.txt'}: 1 timestamp(s)" in said[0], said
    assert "lines 3 and 4" in said[0] and "fix: give each line its own image's stamp" in said[0]
    m = json.loads((run / "metrics.json").read_text())
    amb = m["ambiguous_groundtruth"]
    assert amb == {"frames": 2, "stamps_ns": [stamp], "file": str(q / "rgb.txt"),
                   "lines": [3, 4], "localized": amb["localized"]}
    assert m["frames"] == 5 and m["frames_with_groundtruth"] == 3
    recs = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    assert m["evaluated"] == sum(r["success"] and r["stamp_ns"] != stamp for r in recs) > 0
    assert [r["frame_index"] for r in recs] == [0, 1, 2, 3, 4]
    assert [r["stamp_ns"] for r in recs].count(stamp) == 2
    traj = [line.split()[0] for line in (run / "trajectory.tum").read_text().splitlines()
            if not line.startswith("#")]
    assert len(traj) == m["localized"]
    assert (f"2 frames at a stamp {q / 'rgb.txt'} gives to two or more images (lines 3, 4): "
            "not evaluated") in out
    assert amb["localized"] == sum(r["success"] and r["stamp_ns"] == stamp for r in recs)
    (row,) = [r for r in out.splitlines() if "evaluated against ground truth" in r]
    assert row.split()[-1] == str(m["evaluated"]), row  # said once: in the row below it


def test_a_groundtruth_files_pose_at_a_shared_stamp_is_left_out_too():
    """--groundtruth FILE: its pose at the stamp is one of the two images' at most."""
    shared = SharedStamps("rgb.txt", np.array([1, 2, 2, 3]), ["a", "b", "c", "d"], [2, 3, 4, 5])
    gt = np.tile(np.eye(4), (4, 1, 1))
    out, entry = leave_out_ambiguous([1, 2, 2, 3], gt, shared)
    assert np.isnan(out[1:3]).all() and np.isfinite(out[[0, 3]]).all()
    assert np.isfinite(gt).all()  # the caller's array is as it was
    assert entry == {"frames": 2, "stamps_ns": [2], "file": "rgb.txt", "lines": [3, 4]}
    # a run that took only other frames (--stride): nothing left out, nothing said
    assert leave_out_ambiguous([1, 3], gt[:2], shared)[1] is None
    assert summarize([], None)["ambiguous_groundtruth"] is None


def test_the_table_says_how_many_and_where():
    m = summarize([], None, ambiguous={"frames": 2, "stamps_ns": [5], "file": "q/rgb.txt",
                                       "lines": [4, 5]})
    m.update(frames=2, localized=2, localized_fraction=1.0)
    (row,) = [r for r in format_table(m).splitlines() if "ambiguous" in r]
    assert row.split() == ("left out: ground truth ambiguous 2 frames at a stamp q/rgb.txt "
                           "gives to two or more images (lines 4, 5): not evaluated").split()


def test_the_same_image_twice_at_one_stamp_is_not_ambiguous():
    """A line pasted twice is one image read once (`_drop_repeated_lines`), not two."""
    assert not SharedStamps("x", np.array([1, 1]), ["a", "a"], [1, 2])


def test_an_euroc_camera_with_two_images_at_one_stamp_gives_them_no_pose(tmp_path, caplog):
    from test_euroc_source import euroc_tree

    cam = euroc_tree(tmp_path / "euroc")
    lines = (cam / "data.csv").read_text().splitlines()
    lines[4] = lines[3].split(",")[0] + "," + lines[4].split(",")[1]  # frames 2 and 3
    (cam / "data.csv").write_text("\n".join(lines) + "\n")
    with caplog.at_level("WARNING", logger="mast3r_ros.replay"):
        seq = open_source(str(tmp_path / "euroc"), SourceOptions())
    (said,) = [r.getMessage() for r in caplog.records if "different images" in r.getMessage()]
    assert f"{cam / 'data.csv'}: 1 timestamp(s)" in said and "lines 4 and 5" in said
    poses = [seq.listed_pose_and_depth(i)[0] for i in range(len(seq))]
    assert poses[2] is None and poses[3] is None and poses[1] is not None


def test_build_map_places_no_keyframe_at_a_shared_stamp_with_a_trajectory_too(
        tum, tmp_path, capsys):
    """--trajectory FILE gave the frames at a shared stamp its pose there (one image's at
    most), so one keyframe would sit at the other image's pose; and without it the skipped
    frames were said to be 'outside groundtruth.txt'."""
    folder = tmp_path / "m"
    shutil.copytree(tum[0], folder)
    lines = (folder / "rgb.txt").read_text().splitlines(keepends=True)
    lines[3] = lines[2].split()[0] + " " + lines[3].split()[1] + "\n"
    (folder / "rgb.txt").write_text("".join(lines))
    out = tmp_path / "map"
    assert main(["build-map", str(folder), "--out", str(out), "--matcher", "sift", "--log-level",
                 "warning", "--trajectory", str(folder / "groundtruth.txt")]) == 0
    err = capsys.readouterr().err
    said = [line for line in err.splitlines() if "had no pose" in line]
    assert len(said) == 1 and "2 frames had no pose and were skipped: 2 are at a stamp " \
        f"{folder / 'rgb.txt'} gives to two or more images (lines 3, 4)" in said[0], err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["frames_without_pose"]["count"] == 2
    stamps = KeyframeMap.load(str(out)).stamps_ns().tolist()
    assert int(round(float(lines[2].split()[0]) * 1e9)) not in stamps


def _bag(path, stamps_ms, same=()):
    """A bag whose images are at ``stamps_ms`` (each its own pixels, but those at the
    positions in ``same``: the image before's message again, recorded twice), tf from 0.95 s."""
    from test_rosbag import (BASE_FROM_CAM, MS, RGB, STORAGES, camera_info, image, pose,
                             tf_message, write_bag)

    msgs = [("/tf_static", 0, tf_message([("base_link", "camera_optical", 0, BASE_FROM_CAM)])),
            ("/cam/camera_info", 1, camera_info(900 * MS))]
    for i, t in enumerate(stamps_ms):
        k = i - 1 if i in same else i
        msgs.append(("/cam/image_raw", (2000 + i) * MS, image(t * MS, "rgb8", RGB // (k + 1))))
    for t in range(950, 1300, 50):
        msgs.append(("/tf", t * MS, tf_message([("map", "base_link", t * MS,
                                                  pose([0, 0, t / 1e3], [t / 1e3, 0, 0]))])))
    return write_bag(path, STORAGES[0], sorted(msgs, key=lambda m: m[1]))


def test_a_bag_with_two_images_at_one_header_stamp_gives_them_no_pose(tmp_path, caplog):
    """A bag's tf pose at a header stamp two different images share was given to both (each
    scored against it, build-map placing both there); a message recorded twice is one image."""
    from mast3r_ros.replay.rosbag import BagSequence
    from mast3r_ros.replay.shared_stamps import ambiguous_stamps

    bag = _bag(tmp_path / "bag", [1000, 1100, 1100, 1200, 1200], same={4})
    with caplog.at_level("WARNING", logger="mast3r_ros.replay"):
        seq = BagSequence(bag, pose_frames="map:camera_optical", command="localize")
    (said,) = [r.getMessage() for r in caplog.records if "different images" in r.getMessage()]
    assert said.startswith(f"/cam/image_raw in rosbag2 {bag}: 1 timestamp(s)") and \
        "images 2 and 3 at t=1.100000 s" in said and "header.stamp" in said, said
    gt = np.stack([np.full((4, 4), np.nan) if f.map_from_cam is None else f.map_from_cam
                   for f in seq])
    assert np.isnan(gt[1:3]).all() and np.isfinite(gt[[0, 3, 4]]).all()
    assert [seq.listed_pose_and_depth(i)[0] is None for i in range(5)] == [
        False, True, True, False, False]  # build-map: no keyframe candidate there
    entry = leave_out_ambiguous(seq.stamps_ns, gt, ambiguous_stamps(seq))[1]
    assert entry == {"frames": 2, "stamps_ns": [1_100_000_000],
                     "file": f"/cam/image_raw in rosbag2 {bag}", "images": [2, 3]}


def test_a_bag_with_two_images_at_one_stamp_says_so_once(tmp_path, caplog):
    """Two different images at one header stamp were said twice: as a shared stamp (what is
    done, the fix) and as 'repeat the previous image's stamp'; now once, the first. A message
    recorded twice (the same image) is still the repeat warning's, alone."""
    from mast3r_ros.replay.rosbag import BagSequence

    for stamps, same, repeat in (([1000, 1100, 1100, 1200], (), None),
                                 ([1000, 1100, 1100, 1200, 1200], {4}, "1 of 5 repeat")):
        bag = _bag(tmp_path / f"bag{len(stamps)}", stamps, same=same)
        caplog.clear()
        with caplog.at_level("WARNING", logger="mast3r_ros.replay"):
            BagSequence(bag, pose_frames="map:camera_optical", command="localize")
        said = [r.getMessage() for r in caplog.records]
        assert len([m for m in said if "different images" in m]) == 1, said
        repeats = [m for m in said if "repeat the previous image's stamp" in m]
        if repeat is None:
            assert repeats == [], repeats
        else:
            (line,) = repeats
            assert repeat in line and "image 5 at t=1.200000 s" in line, line
            assert "image 3" not in line, line


def test_a_bag_stamping_every_image_0_is_said_unstamped_not_ambiguous(tmp_path, caplog):
    """zero-header-stamp field case: a driver that stamps nothing is the unstamped warning's
    (no ground truth at 0 anyway), not 100 frames of ambiguous ground truth."""
    from mast3r_ros.replay.rosbag import BagSequence
    from mast3r_ros.replay.shared_stamps import ambiguous_stamps

    with caplog.at_level("WARNING", logger="mast3r_ros.replay"):
        seq = BagSequence(_bag(tmp_path / "bag", [0, 0, 0]), command="localize")
    said = [r.getMessage() for r in caplog.records]
    assert ambiguous_stamps(seq) is None and not [m for m in said if "different images" in m]
    assert any("3 of 3 images have header stamp 0" in m for m in said), said


def test_the_table_names_a_bags_images_by_number():
    m = summarize([], None, ambiguous={"frames": 2, "stamps_ns": [5], "file": "/c in rosbag2 b",
                                       "images": [2, 3]})
    m.update(frames=2, localized=2, localized_fraction=1.0)
    (row,) = [r for r in format_table(m).splitlines() if "ambiguous" in r]
    assert row.endswith("2 frames at a stamp /c in rosbag2 b gives to two or more images "
                        "(images 2, 3): not evaluated")


def test_a_kitti_times_txt_repeating_a_stamp_is_refused(tmp_path):
    """KITTI's poses go by image index, not stamp; a repeated stamp is refused with its line."""
    from test_kitti_source import kitti_tree

    from mast3r_ros.core.errors import InputError

    seq = kitti_tree(tmp_path / "k", frames=4)
    lines = (seq / "times.txt").read_text().splitlines()
    lines[2] = lines[1]
    (seq / "times.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"times.txt:3: stamp .* is not after the line before"):
        open_source(str(seq), SourceOptions())


def test_the_evaluated_row_counts_only_the_frames_without_ground_truth_for_other_reasons():
    """It repeated '(2 localized frames have no ground-truth pose: not evaluated)' on top of
    the ambiguous row: each fact once, the frames unposed for other reasons still counted."""
    amb = {"frames": 2, "stamps_ns": [5], "file": "q/rgb.txt", "lines": [4, 5], "localized": 2}
    m = summarize([], None)
    m.update(frames=50, localized=50, localized_fraction=1.0, evaluated=48,
             ambiguous_groundtruth=amb)
    rows = dict(re.split(r"\s{2,}", r.strip(), maxsplit=1) for r in format_table(m).splitlines())
    assert rows["evaluated against ground truth"] == "48"
    m.update(evaluated=47)  # one more localized frame outside the ground truth
    rows = dict(re.split(r"\s{2,}", r.strip(), maxsplit=1) for r in format_table(m).splitlines())
    assert rows["evaluated against ground truth"] == (
        "47 (1 localized frame has no ground-truth pose: not evaluated)")


def test_summarize_counts_the_ambiguous_frames_localized():
    from mast3r_ros.core.types import LocalizationResult

    res = [LocalizationResult(stamp_ns=s, success=ok, map_from_cam=np.eye(4) if ok else None)
           for s, ok in ((1, True), (2, True), (2, False), (3, True))]
    amb = {"frames": 2, "stamps_ns": [2], "file": "f", "lines": [2, 3]}
    assert summarize(res, None, ambiguous=amb)["ambiguous_groundtruth"]["localized"] == 1


def _two_poses_at(folder, stamp, path):
    """``folder``'s groundtruth.txt with a second, 5 cm shifted pose at ``stamp`` (as a
    trajectory.tum of a run whose two images shared it holds): written to ``path``."""
    lines = (folder / "groundtruth.txt").read_text().splitlines(keepends=True)
    i = next(k for k, line in enumerate(lines) if line.startswith(stamp))
    f = lines[i].split()
    f[1] = f"{float(f[1]) + 0.05:.9f}"
    lines.insert(i + 1, " ".join(f) + "\n")
    path.write_text("".join(lines))
    return i + 1  # the first of the two lines (1-based)


def test_a_groundtruth_file_with_two_poses_at_a_stamp_leaves_that_frame_out(
        tum, sift_map, tmp_path, capsys):
    """--groundtruth with two different poses at one stamp only warned that 'a frame at that
    stamp is scored against one of them' (all evaluated); now as for rgb.txt."""
    from pathlib import Path

    q, gt = Path(tum[1]), tmp_path / "gt.txt"
    stamp = (q / "rgb.txt").read_text().splitlines()[3].split()[0]  # the 3rd frame's
    line = _two_poses_at(q, stamp, gt)
    run = tmp_path / "run"
    assert main(["localize", str(q), "--map", sift_map, "--out", str(run), "--matcher", "sift",
                 "--max-frames", "3", "--groundtruth", str(gt), "--log-level", "warning"]) == 0
    out, err = capsys.readouterr()
    (said,) = [r for r in err.splitlines() if "different poses" in r]
    assert f"{gt}: 1 timestamp(s) given two or more different poses: lines {line} and " \
        f"{line + 1}" in said and "scored against one" not in said, said
    m = json.loads((run / "metrics.json").read_text())
    assert m["ambiguous_groundtruth"] == {
        "frames": 1, "stamps_ns": [int(round(float(stamp) * 1e9))], "file": str(gt),
        "lines": [line, line + 1], "shared": "poses", "localized": 1}
    assert m["frames_with_groundtruth"] == 2 and m["evaluated"] == 2
    assert (f"1 frame at a stamp {gt} gives to two or more different poses (lines {line}, "
            f"{line + 1}): not evaluated") in out


def test_every_frame_left_out_as_ambiguous_is_said_so_not_as_out_of_range(
        tum, sift_map, tmp_path, capsys):
    """--groundtruth giving each of the run's frames two poses (a trajectory.tum of a run whose
    images shared stamps): nothing evaluated, and the note blamed the folder's own
    groundtruth.txt ("the stamps of these frames are outside .../groundtruth.txt") though
    every frame lay inside it; it names the file, its lines and the fix now."""
    from pathlib import Path

    q, gt = Path(tum[1]), tmp_path / "gt.txt"
    lines = (q / "groundtruth.txt").read_text().splitlines(keepends=True)
    out = []
    for line in lines:
        out.append(line)
        if not line.startswith("#"):  # each stamp a second pose, 5 cm over
            f = line.split()
            f[1] = f"{float(f[1]) + 0.05:.9f}"
            out.append(" ".join(f) + "\n")
    gt.write_text("".join(out))
    run = tmp_path / "run"
    assert main(["localize", str(q), "--map", sift_map, "--out", str(run), "--matcher", "sift",
                 "--max-frames", "3", "--groundtruth", str(gt), "--log-level", "error"]) == 0
    err = capsys.readouterr().err
    m = json.loads((run / "metrics.json").read_text())
    assert m["evaluated"] == 0 and m["localized"] >= 1, m
    (note,) = [r for r in err.splitlines() if "note:" in r]
    assert (f"no frame was evaluated against ground truth: all {m['localized']} localized "
            f"frame(s) are at stamps {gt} gives to two or more different poses (lines "
            in note and "'ambiguous_groundtruth'); fix: give each pose its own time" in note
            and "outside" not in note), note


def test_frames_posed_across_a_shared_pose_are_left_out_and_build_map_says_why():
    """Interpolated across (or nearest to) a stamp with two poses: the pose depends on which
    is taken, so it is left out too; at their own stamps the neighbours keep theirs."""
    from mast3r_ros.core.config import PoseAtStampConfig
    from mast3r_ros.replay.shared_stamps import (frames_on_shared_poses, no_pose_note,
                                                 poses_sharing_a_stamp)

    s = 1_000_000_000
    stamps = np.array([0, s, s, 2 * s, 3 * s])
    values = np.zeros((5, 7))
    values[:, 6] = 1
    values[:, 0] = [0, 1, 1.05, 2, 3]
    poses = np.tile(np.eye(4), (5, 1, 1))
    poses[:, 0, 3] = values[:, 0]
    rule = PoseAtStampConfig(max_gap_s=2.0)
    query = [0, s // 2, s, 3 * s // 2, 2 * s, 5 * s // 2]
    assert frames_on_shared_poses(stamps, poses, query, rule).tolist() == [
        False, True, True, True, False, False]
    shared = poses_sharing_a_stamp("t.tum", stamps, values, [2, 3, 4, 5, 6])
    gt, entry = leave_out_ambiguous(query, np.tile(np.eye(4), (6, 1, 1)), None,
                                    (stamps, poses, shared), rule)
    assert np.isnan(gt[1:4]).all() and np.isfinite(gt[[0, 4, 5]]).all()
    assert entry == {"frames": 3, "stamps_ns": [s // 2, s, 3 * s // 2], "file": "t.tum",
                     "lines": [3, 4], "shared": "poses"}
    note, rest = no_pose_note(shared, [s, 7])
    assert note.startswith("1 is at a stamp t.tum gives to two or more different poses "
                           "(lines 3, 4)") and rest == [7]
    # interpolated across it: the same reason, not a gap between poses (was the rest)
    note, rest = no_pose_note(shared, [s // 2, s, 5 * s], (stamps, poses, shared), rule)
    assert note.startswith("2 are at or posed across a stamp t.tum gives to two or more "
                           "different poses (lines 3, 4)") and rest == [5 * s], note
    # the same pose twice at a stamp is no ambiguity
    assert not poses_sharing_a_stamp("t.tum", np.array([0, 0]), np.zeros((2, 7)), [1, 2])


def test_a_tum_folders_own_groundtruth_with_two_poses_at_a_stamp_leaves_that_frame_out(
        tum, sift_map, tmp_path, capsys):
    """A TUM folder's own groundtruth.txt with two different poses at one stamp was only warned
    about ('a frame at that stamp is scored against one of them': 3 of 3 evaluated, no
    ambiguous_groundtruth); now as --groundtruth's: no pose there, named, no keyframe."""
    q = tmp_path / "q"
    shutil.copytree(tum[1], q)
    stamp = (q / "rgb.txt").read_text().splitlines()[3].split()[0]  # the 3rd frame's
    line = _two_poses_at(q, stamp, q / "groundtruth.txt")
    run, ns = tmp_path / "run", int(round(float(stamp) * 1e9))
    assert main(["localize", str(q), "--map", sift_map, "--out", str(run), "--matcher", "sift",
                 "--max-frames", "3", "--log-level", "warning"]) == 0
    out, err = capsys.readouterr()
    (said,) = [r for r in err.splitlines() if "different poses" in r]
    gt = q / "groundtruth.txt"
    assert (f"{gt}: 1 timestamp(s) given two or more different poses: lines {line} and "
            f"{line + 1}") in said and "fix: give each pose its own time" in said, said
    m = json.loads((run / "metrics.json").read_text())
    assert m["ambiguous_groundtruth"] == {
        "frames": 1, "stamps_ns": [ns], "file": str(gt), "lines": [line, line + 1],
        "shared": "poses", "localized": 1}
    assert m["frames_with_groundtruth"] == 2 and m["evaluated"] == 2
    assert (f"1 frame at a stamp {gt} gives to two or more different poses (lines {line}, "
            f"{line + 1}): not evaluated") in out
    # build-map from the folder's poses: that frame is no keyframe, and the reason is said
    from mast3r_ros.replay.shared_stamps import no_pose_note, own_shared_poses
    from mast3r_ros.replay.tum import TumSequence

    seq = TumSequence(q)
    at = int(np.flatnonzero(seq.stamps_ns == ns)[0])
    assert seq.listed_pose_and_depth(at)[0] is None
    assert seq.listed_pose_and_depth(at - 1)[0] is not None
    note, rest = no_pose_note(own_shared_poses(seq)[2], [ns])
    assert note.startswith(f"1 is at a stamp {gt} gives to two or more different poses") \
        and rest == []


def _trajectory_with_a_shared_stamp(tum, tmp_path) -> None:
    """TMP/t.tum: the folder's groundtruth.txt with two different poses at one stamp between its
    3rd and 4th frames; TMP/p.yaml: the shipped parameters with max_gap_s 1.0."""
    from pathlib import Path

    lines = (Path(tum[0]) / "groundtruth.txt").read_text().splitlines()
    head = [ln for ln in lines if ln.startswith("#")]
    rows = [ln.split() for ln in lines if ln and not ln.startswith("#")]
    mid = (float(rows[2][0]) + float(rows[3][0])) / 2  # between the 3rd and 4th frames
    other = [f"{mid:.6f}", str(float(rows[2][1]) + 0.3)] + rows[2][2:]
    traj = head + [" ".join(r) for r in rows[:2]] + [
        " ".join([f"{mid:.6f}"] + rows[2][1:]), " ".join(other)] + [
        " ".join(r) for r in rows[4:]]
    (tmp_path / "t.tum").write_text("\n".join(traj) + "\n")
    text = (Path(__file__).parents[2] / "config" / "localize.yaml").read_text()
    (tmp_path / "p.yaml").write_text(re.sub(r"max_gap_s: [0-9.]+", "max_gap_s: 1.0", text))


def test_build_map_trajectory_says_why_a_frame_posed_across_a_shared_stamp_has_none(
        tum, tmp_path, capsys):
    """A --trajectory with two poses at a stamp between two frames: those frames, posed by
    interpolation across it, were skipped with the gap reason ('between two poses ... more than
    max_gap_s (1.000 s) apart (up to 0.4 s)': false); now with the shared stamp's."""

    _trajectory_with_a_shared_stamp(tum, tmp_path)
    assert main(["build-map", tum[0], "--out", str(tmp_path / "map"), "--matcher", "sift",
                 "--trajectory", str(tmp_path / "t.tum"), "--params", str(tmp_path / "p.yaml"),
                 "--max-frames", "6", "--log-level", "warning"]) == 0
    (said,) = [ln for ln in capsys.readouterr().err.splitlines() if "had no pose" in ln]
    assert "2 frames had no pose and were skipped: 2 are at or posed across a stamp " \
        f"{tmp_path / 't.tum'} gives to two or more different poses (lines 4, 5)" in said, said
    assert "max_gap_s" not in said, said


def test_both_the_image_list_and_the_groundtruth_file_are_named_with_their_own_lines():
    """rgb.txt sharing stamp 2 s, --groundtruth giving 4 s two poses: metrics.json counted the
    3 frames of both but named only rgb.txt and its lines; now each file with its own lines
    and frames, in the entry, the table's row and the note."""
    from mast3r_ros.core.config import PoseAtStampConfig
    from mast3r_ros.replay.run_notes import ambiguous_note
    from mast3r_ros.replay.shared_stamps import poses_sharing_a_stamp

    s = 1_000_000_000
    query = [1 * s, 2 * s, 2 * s, 3 * s, 4 * s]
    shared = SharedStamps("rgb.txt", np.array(query), ["a", "b", "c", "d", "e"], [2, 3, 4, 5, 6])
    stamps = np.array([1 * s, 2 * s, 3 * s, 4 * s, 4 * s])
    values = np.zeros((5, 7))
    values[:, 6] = 1
    values[:, 0] = [1, 2, 3, 4, 4.05]
    poses = np.tile(np.eye(4), (5, 1, 1))
    poses[:, 0, 3] = values[:, 0]
    file_shared = poses_sharing_a_stamp("gt.txt", stamps, values, [7, 8, 9, 10, 11])
    gt, entry = leave_out_ambiguous(query, np.tile(np.eye(4), (5, 1, 1)), shared,
                                    (stamps, poses, file_shared), PoseAtStampConfig())
    assert np.isnan(gt[1:3]).all() and np.isnan(gt[4]).all() and np.isfinite(gt[[0, 3]]).all()
    assert entry == {"frames": 3, "stamps_ns": [2 * s, 4 * s], "files": [
        {"frames": 2, "stamps_ns": [2 * s], "file": "rgb.txt", "lines": [3, 4]},
        {"frames": 1, "stamps_ns": [4 * s], "file": "gt.txt", "lines": [10, 11],
         "shared": "poses"}]}
    m = summarize([], None, ambiguous=entry)
    m.update(frames=5, localized=3, localized_fraction=0.6)
    (row,) = [r for r in format_table(m).splitlines() if "ambiguous" in r]
    assert row.split() == ("left out: ground truth ambiguous 3 frames at a stamp rgb.txt gives "
                           "to two or more images (lines 3, 4; 2 frames) or gt.txt gives to two "
                           "or more different poses (lines 10, 11; 1 frame): not evaluated"
                           ).split(), row
    note = ambiguous_note({"localized": 3, "ambiguous_groundtruth": dict(entry, localized=3)})
    assert ("all 3 localized frame(s) are at stamps rgb.txt gives to two or more images (lines "
            "3, 4) or gt.txt gives to two or more different poses (lines 10, 11)") in note, note
    assert "fix: rgb.txt: give each line its own image's stamp" in note and \
        "wrong; gt.txt: give each pose its own time" in note, note


def test_build_map_gives_the_trajectorys_frames_the_shared_stamp_reason_beside_rgb_txts(
        tum, tmp_path, capsys):
    """rgb.txt sharing a stamp and --trajectory giving another stamp two poses: the image
    list's frames got the shared-stamp reason, the trajectory's the gap one ('between two
    poses ... more than max_gap_s apart': false); now each its own shared stamp's."""

    folder = tmp_path / "m"
    shutil.copytree(tum[0], folder)
    lines = (folder / "rgb.txt").read_text().splitlines(keepends=True)
    lines[7] = lines[6].split()[0] + " " + lines[7].split()[1] + "\n"  # 6th and 7th frames
    (folder / "rgb.txt").write_text("".join(lines))
    _trajectory_with_a_shared_stamp(tum, tmp_path)
    assert main(["build-map", str(folder), "--out", str(tmp_path / "map"), "--matcher", "sift",
                 "--trajectory", str(tmp_path / "t.tum"), "--params", str(tmp_path / "p.yaml"),
                 "--max-frames", "8", "--log-level", "warning"]) == 0
    (said,) = [ln for ln in capsys.readouterr().err.splitlines() if "had no pose" in ln]
    assert f"2 are at a stamp {folder / 'rgb.txt'} gives to two or more images (lines 7, 8)" \
        in said and f"2 are at or posed across a stamp {tmp_path / 't.tum'} gives to two or " \
        "more different poses (lines 4, 5)" in said, said
    assert "4 frames had no pose" in said and "max_gap_s" not in said, said


def test_the_re_stamped_redkitchen_median_is_the_measured_one_everywhere():
    """The README said 1.15 cm, the module docstring 1.16 cm, for one run: both now say the
    figure measured (docs/bench/shared_stamp_median_cpu_2026-12-11i, line 5's row)."""
    from pathlib import Path

    import mast3r_ros.replay.shared_stamps as module

    root = Path(__file__).resolve().parents[2]
    bench = (root / "docs/bench/shared_stamp_median_cpu_2026-12-11i/README.txt").read_text()
    (measured,) = re.findall(r"line 5 given line 4's stamp 0\.833333 +([0-9.]+) cm", bench)
    readme = re.findall(r"line 5 re-stamped with line 4's read a median of ([0-9.]+) cm instead "
                        r"of 1\.12", (root / "README.md").read_text())
    doc = re.findall(r"line 5 re-stamped with\s+line 4's: the median went from 1\.12 to "
                     r"([0-9.]+) cm", module.__doc__)
    assert readme == doc == [f"{float(measured):.2f}"], (readme, doc, measured)
