"""The one line `mast3r-ros localize` ends with when no frame was evaluated: why, and where
ground truth can come from. Apart from `cli.py` to keep that module within its size; `cli`
re-exports both names."""

from __future__ import annotations

import argparse
import os
from typing import Any, Dict


def no_frame_localized_note(metrics: Dict[str, Any], out: str) -> str:
    """Why nothing was evaluated when no frame localized (one line): the ground truth is not
    to blame, so the note must not send the user to fix it (a fresh user's find)."""
    have = metrics.get("frames_with_groundtruth", 0)
    return (f"no frame localized, so none could be evaluated ({have} of {metrics['frames']} "
            "have ground truth); why each failed: the 'failures' row above and "
            f"{os.path.join(out, 'results.jsonl')}")


def no_groundtruth_hint(source: Any, args: argparse.Namespace) -> str:
    """Why no frame was evaluated, and where ground truth can come from (one line)."""
    stamps = getattr(source, "stamps_ns", None)
    if stamps is not None and len(stamps) and not any(int(s) for s in stamps):
        from .sources import stamps_written

        written = stamps_written(source)[0]
        if written:  # a TUM folder: its rgb.txt holds the stamps, no driver's header
            return (f"no frame was evaluated: every image is stamped 0 in {written}, so no "
                    "ground truth (groundtruth.txt, --groundtruth) can be matched to it; "
                    "write each image's capture time there")
        return ("no frame was evaluated: every image has header stamp 0, so no ground truth "
                "(--groundtruth, /tf) can be matched to it; fix the camera driver's "
                "header.stamp")
    tf = bool(getattr(source, "tf_topics", None)) and not getattr(args, "pose_frames", None)
    if tf:
        return ("no frame was evaluated: this rosbag2 has /tf, so pass --pose-frames map (the "
                "pose of the images' own frame_id in 'map'; or map:CAMERA_FRAME) to evaluate "
                "against it, or --groundtruth FILE (TUM)")
    return ("no frame was evaluated against ground truth (none covers their stamps): pass "
            "--groundtruth FILE (TUM), give a TUM folder a groundtruth.txt, or, for a rosbag2 "
            "with /tf, --pose-frames map:CAMERA_FRAME")
