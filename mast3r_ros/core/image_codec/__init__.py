"""Conversions between raw ``sensor_msgs`` image fields and numpy arrays, without ROS.

The implementation is in `raw` (being split by concern); import the public names from this
package, private helpers from the module that defines them.
"""

from __future__ import annotations

from .raw import (
    DEPTH_ENCODINGS,
    SUPPORTED_ENCODINGS,
    BytesLike,
    check_image_file_intact,
    decode_compressed,
    decode_image,
    depth_to_metres,
    encode_image,
    intrinsics_from_camera_info,
    load_camera_info_yaml,
    read_image_file,
    rectified_intrinsics_from_camera_info,
    to_rgb8,
    warn_low_bit_depth,
)

__all__ = [
    "DEPTH_ENCODINGS", "SUPPORTED_ENCODINGS", "BytesLike", "check_image_file_intact",
    "decode_compressed", "decode_image", "depth_to_metres", "encode_image",
    "intrinsics_from_camera_info", "load_camera_info_yaml", "read_image_file",
    "rectified_intrinsics_from_camera_info", "to_rgb8", "warn_low_bit_depth",
]
