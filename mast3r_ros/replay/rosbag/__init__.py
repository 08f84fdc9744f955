"""rosbag2 recordings (mcap or sqlite3) as sequences of ``Frame``, through ``rosbags`` (no ROS).

The reader is `sequence.BagSequence`. The ``rosbags`` library it wraps is imported absolutely,
so this package's name does not shadow it.
"""

from __future__ import annotations

from .sequence import (
    CAMERA_INFO_TYPE,
    COMPRESSED_IMAGE_TYPE,
    IMAGE_TYPE,
    IMAGE_TYPES,
    RUN_LOOKAHEAD,
    TF_TYPE,
    BagSequence,
    PathLike,
    run_labels,
)

__all__ = ["CAMERA_INFO_TYPE", "COMPRESSED_IMAGE_TYPE", "IMAGE_TYPE", "IMAGE_TYPES",
           "RUN_LOOKAHEAD", "TF_TYPE", "BagSequence", "PathLike", "run_labels"]
