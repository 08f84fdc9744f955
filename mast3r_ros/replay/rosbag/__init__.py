"""rosbag2 recordings (mcap or sqlite3) as sequences of ``Frame``, through ``rosbags`` (no ROS).

Reads ``sensor_msgs/msg/Image`` or ``CompressedImage`` colour images (or a compressed video
topic, decoded with PyAV: `video`), ``CameraInfo`` intrinsics,
an optional depth image topic and ``/tf`` + ``/tf_static`` (and a pose topic) for a known camera
pose. Every stamp is
the message's ``header.stamp``, never the time the bag received it -- but for an image message
that cannot be deserialized and whose first bytes hold no plausible stamp (a message cut short
keeps them: `undeserialized.header_stamp_of_cdr`): its unreadable frame is stamped from its
receive time, moved into the header clock (`BagSequence.frames_or_unreadable`); a depth message
that cannot be deserialized is stamped so too, and the frame matched to it is unreadable.

The constructor makes one indexing pass (stamps, CameraInfo and tf, no pixel decoding) so that
depth, intrinsics and poses can be associated by header stamp; iteration makes a second pass and
decodes only the images it yields.

Runs: a bag whose header time jumps back (a simulator reset, a looped playback, a restarted
driver) holds several runs that share stamps; only one is read (`runs` says how they are told
apart, `run_choice` which is chosen).

Modules: `sequence` (`BagSequence`: the two passes, frame assembly), `frame_outcome` (a frame,
an unreadable one or a recorded one, from an image message), `topics` (message types,
topic selection), `runs` (runs of header time), `run_choice` (the run read, unstamped images),
`receive_times` (what receive times tell about a jump back), `poses` (poses from tf),
`pose_topic` (poses from an Odometry or PoseStamped topic, `--pose-topic`),
`depth` (depth association), `registered_depth` (whether depth is registered to the
colour image, and registering it), `tf_extrinsic` (a depth camera's extrinsic from /tf),
`cdr_header` (the indexing pass's image headers read from their bytes), `undeserialized`
(messages that cannot be deserialized), `video` (CompressedVideo and
FFMPEGPacket topics as the colour images),
`realsense` (RealSense Viewer / rs-record recordings: librealsense's ROS 1 layout),
`ros1_chunks` (a ROS 1 bag's chunks read once a pass), `requirement` (the oldest rosbags it
runs on, checked at import). The
``rosbags`` library this wraps is imported absolutely, so this package's name does not shadow
it.
"""

from __future__ import annotations

from .requirement import check_rosbags

check_rosbags()  # an older rosbags: one line naming the pip command, before any of it is used

from .runs import RUN_LOOKAHEAD, run_labels  # noqa: E402
from .sequence import BagSequence, PathLike  # noqa: E402
from .topics import (  # noqa: E402
    CAMERA_INFO_TYPE, COMPRESSED_IMAGE_TYPE, IMAGE_TYPE, IMAGE_TYPES, TF_TYPE)

__all__ = ["CAMERA_INFO_TYPE", "COMPRESSED_IMAGE_TYPE", "IMAGE_TYPE", "IMAGE_TYPES",
           "RUN_LOOKAHEAD", "TF_TYPE", "BagSequence", "PathLike", "run_labels"]
