"""localize's closing note when a TUM folder's own groundtruth.txt gives no frame a pose.

Field case: ground truth at 3 Hz whose stamps fall between the images' (a motion capture or SLAM
trajectory sampled apart from the camera). Every frame localized, none evaluated, and the note
said "none covers their stamps: pass --groundtruth FILE ... give a TUM folder a groundtruth.txt"
-- the folder had one, covering the images' time range. build-map, and localize --groundtruth
with the same file, named the cause and the fix (pose_at_stamp.max_gap_s); the note now does too.
"""

from types import SimpleNamespace as NS

import cv2
import numpy as np

from mast3r_ros.core.config import PoseAtStampConfig
from mast3r_ros.replay.run_notes import no_groundtruth_hint
from mast3r_ros.replay.tum import TumSequence

CAMERA_YAML = """image_width: 32
image_height: 24
camera_name: cam
camera_matrix: {rows: 3, cols: 3, data: [30, 0, 16, 0, 30, 12, 0, 0, 1]}
distortion_model: plumb_bob
distortion_coefficients: {rows: 1, cols: 5, data: [0, 0, 0, 0, 0]}
rectification_matrix: {rows: 3, cols: 3, data: [1, 0, 0, 0, 1, 0, 0, 0, 1]}
projection_matrix: {rows: 3, cols: 4, data: [30, 0, 16, 0, 0, 30, 12, 0, 0, 0, 1, 0]}
"""


def _folder(tmp_path, gt_stamps):
    folder = tmp_path / "rec"
    (folder / "rgb").mkdir(parents=True)
    lines = []
    for i in range(4):
        cv2.imwrite(str(folder / "rgb" / f"{i}.png"), np.zeros((24, 32, 3), np.uint8))
        lines.append(f"{i / 3:.6f} rgb/{i}.png")
    (folder / "rgb.txt").write_text("\n".join(lines) + "\n")
    (folder / "camera.yaml").write_text(CAMERA_YAML)
    (folder / "groundtruth.txt").write_text("".join(
        f"{t:.6f} 0 0 0 0 0 0 1\n" for t in gt_stamps))
    return TumSequence(str(folder), read_depth=False)


def test_poses_sampled_wider_than_max_gap_name_the_parameter(tmp_path):
    # 3 Hz poses half a sample after the images: every image between two poses 0.333 s apart
    seq = _folder(tmp_path, [i / 3 + 1 / 6 for i in range(-1, 5)])
    hint = no_groundtruth_hint(seq, NS(pose_frames=None), PoseAtStampConfig())
    assert "none covers their stamps" not in hint, hint
    assert "pose_at_stamp.max_gap_s" in hint and "max_gap_s: 0.334" in hint, hint
    assert "groundtruth.txt" in hint, hint


def test_poses_of_another_time_range_say_so(tmp_path):
    seq = _folder(tmp_path, [100.0 + i / 3 for i in range(4)])
    hint = no_groundtruth_hint(seq, NS(pose_frames=None), PoseAtStampConfig())
    assert "outside" in hint and "t=100.000" in hint, hint


def test_a_groundtruth_file_given_is_judged_on_the_frames_localized(tmp_path):
    """localize --groundtruth G --max-frames 2, G covering only later frames: the note named the
    folder's own groundtruth.txt, judged every frame of the folder and contradicted itself
    ("outside .../groundtruth.txt (t=0.000..1.000 s) ...; the frames are at t=0.000..1.000 s").
    It names G, its range and the frames the run localized."""
    import json

    seq = _folder(tmp_path, [i / 3 for i in range(4)])  # the folder's own: every frame
    gt = tmp_path / "late.txt"
    gt.write_text("0.900000 0 0 0 0 0 0 1\n1.000000 0 0 0 0 0 0 1\n")
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.jsonl").write_text("".join(
        json.dumps({"stamp_ns": round(i / 3 * 1e9), "success": True}) + "\n" for i in (0, 1)))
    hint = no_groundtruth_hint(seq, NS(pose_frames=None, groundtruth=str(gt), out=str(run)),
                               PoseAtStampConfig())
    assert (f"outside --groundtruth {gt} (t=0.900..1.000 s)" in hint
            and "the frames are at t=0.000..0.333 s" in hint), hint
    assert "groundtruth.txt" not in hint, hint
