"""Conversions between raw ``sensor_msgs`` image fields and numpy arrays, without ROS.

The ROS node passes the fields of ``sensor_msgs/Image``, ``CompressedImage`` and ``CameraInfo``
(plain strings, ints, bytes and sequences); the offline bag reader passes the same fields as
deserialized by ``rosbags``. Nothing here imports ROS or cv_bridge.

Raw encodings are every one that cv_bridge converts to rgb8, with cv_bridge's conversion (the list
and the rules are in `raw`; ``SUPPORTED_ENCODINGS`` lists them all). Image *files* (``pair``, TUM
folders) go through ``read_image_file``, which decodes with OpenCV and then takes the same
``to_rgb8`` path, so a 16-bit grey PNG/TIFF is scaled exactly like a mono16 message.

Modules: `raw` (``sensor_msgs/Image`` fields <-> arrays: `decode_image`, `to_rgb8`,
`depth_to_metres`, `encode_image`, `warn_low_bit_depth`), `compressed` (``CompressedImage`` and
``compressedDepth``: `decode_compressed`), `files` (image files on disk: `read_image_file`,
`check_image_file_intact`), `bayer_watch` (grey images that are raw Bayer mosaics, sampled along
a stream: `BayerWatch`), `camera_info` (``CameraInfo`` fields -> `CameraIntrinsics`),
`camera_info_yaml` (a camera_info YAML -> `CameraIntrinsics`: `load_camera_info_yaml`, which
also reads a CameraInfo saved by ``ros2 topic echo``, `camera_info_echo`, and an OpenCV
FileStorage YAML, `camera_info_opencv`, and a Kalibr camchain.yaml, `camera_info_kalibr`).
Import the public names from this package; private helpers (and the state tests reset, such as
``raw._LOW_BIT_DEPTH_CHECKED``) from the module that defines them.
"""

from __future__ import annotations

from .camera_info import (
    far_principal_point,
    intrinsics_from_camera_info,
    projection_without_k,
    rectified_intrinsics_from_camera_info,
    warn_far_principal_point,
)
from .bayer_watch import BayerWatch
from .camera_info_yaml import load_camera_info_yaml
from .compressed import decode_compressed
from .files import check_image_file_intact, read_image_file
from .raw import (
    DEPTH_ENCODINGS,
    SUPPORTED_ENCODINGS,
    BytesLike,
    check_depth_scale,
    decode_image,
    depth_to_metres,
    encode_image,
    to_rgb8,
    warn_low_bit_depth,
)

__all__ = [
    "BayerWatch", "DEPTH_ENCODINGS", "SUPPORTED_ENCODINGS", "BytesLike", "check_depth_scale",
    "check_image_file_intact",
    "decode_compressed", "decode_image", "depth_to_metres", "encode_image", "far_principal_point",
    "intrinsics_from_camera_info", "load_camera_info_yaml", "read_image_file",
    "projection_without_k", "rectified_intrinsics_from_camera_info", "to_rgb8",
    "warn_far_principal_point",
    "warn_low_bit_depth",
]
