"""Opening a recording: a TUM RGB-D folder or a rosbag2, as one kind of frame source.

Both readers get the same things in the same types: intrinsics as one `CameraIntrinsics` (read
once from a camera_info YAML when one is given), the image/depth association tolerance, and the
config's pose-at-stamp rule for ground truth and tf (`mast3r_ros.core.trajectory`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from typing import Optional, Protocol

import numpy as np

from ..core.config import PoseAtStampConfig
from ..core.errors import InputError
from ..core.image_codec import load_camera_info_yaml
from ..core.types import Frame
from .tum import TumSequence


class FrameSource(Protocol):
    """What the pipeline needs of a recording (`TumSequence` and `BagSequence` both are one)."""

    @property
    def stamps_ns(self) -> np.ndarray:
        """(N,) int64 image stamps, in the order the frames are yielded."""

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[Frame]: ...


@dataclasses.dataclass(frozen=True)
class SourceOptions:
    """How to read a recording (the CLI's source options; the defaults read it as found)."""

    camera_info: Optional[str] = None  # ROS camera_info YAML: overrides camera.yaml / CameraInfo
    image_topic: Optional[str] = None  # rosbag2 only, detected when None
    camera_info_topic: Optional[str] = None  # rosbag2 only, detected when None
    depth_topic: Optional[str] = None  # rosbag2 only
    pose_frames: Optional[str] = None  # rosbag2 only: "map:camera_optical" takes poses from tf
    sync_tolerance_s: float = 0.02  # image/depth association by the nearest stamp
    depth_scale: Optional[float] = None  # raw depth units per metre (None: REP-118 / TUM 5000)
    run: Optional[int] = None  # rosbag2 only: which run of a bag whose header time jumps back


def is_tum_folder(path: str) -> bool:
    """True for a folder with an ``rgb.txt`` (TUM RGB-D layout)."""
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, "rgb.txt"))


def open_source(path: str, options: SourceOptions = SourceOptions(),
                pose_at_stamp: Optional[PoseAtStampConfig] = None) -> FrameSource:
    """A TUM folder (has rgb.txt) or a rosbag2 (folder with metadata.yaml, .mcap, .db3).

    ``options.depth_scale`` (raw depth units per metre) overrides the readers' defaults: TUM
    PNGs 5000, rosbag2 REP-118 (16UC1 millimetres: 1000, 32FC1 metres: 1). The source's
    ``depth_units_per_m`` says which one is used. Raises `InputError` when the path does not
    exist or cannot be read as either, or for a rosbag2-only option (``run``, the topics,
    ``pose_frames``) with a TUM folder, which would otherwise be ignored.
    """
    cam = load_camera_info_yaml(options.camera_info) if options.camera_info else None
    if not os.path.exists(path):
        raise InputError(f"source not found: {path} (a TUM RGB-D folder or a rosbag2)")
    if is_tum_folder(path):
        if options.run is not None:
            raise InputError(f"--run chooses a run of a rosbag2 whose header time jumps back; "
                             f"{path} is a TUM folder")
        bag_only = [flag for flag, value in (
            ("--image-topic", options.image_topic),
            ("--camera-info-topic", options.camera_info_topic),
            ("--depth-topic", options.depth_topic), ("--pose-frames", options.pose_frames))
            if value is not None]
        if bag_only:
            raise InputError(f"{', '.join(bag_only)}: options for a rosbag2, but {path} is a "
                             "TUM folder (it has rgb.txt); drop them")
        return TumSequence(path, camera_info=cam, sync_tolerance_s=options.sync_tolerance_s,
                           pose_at_stamp=pose_at_stamp, depth_scale=options.depth_scale)
    # rosbags has no rosdep key: on a ROS install it may be absent, and only bags need it
    from .rosbag import BagSequence

    return BagSequence(path, image_topic=options.image_topic,
                       camera_info_topic=options.camera_info_topic,
                       depth_topic=options.depth_topic, camera_info=cam,
                       pose_frames=options.pose_frames,
                       sync_tolerance_s=options.sync_tolerance_s, pose_at_stamp=pose_at_stamp,
                       depth_scale=options.depth_scale, run=options.run)
