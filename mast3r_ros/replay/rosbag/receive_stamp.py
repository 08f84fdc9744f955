"""`BagSequence`'s ``image_stamp='receive'`` (``--image-stamp receive``): the camera's messages
timed by when the bag received them, not by their header stamps.

A driver that stamps with the camera's own clock (realsense2_camera with
``global_time_enabled: false``, a GigE/USB3 Vision driver's device timestamps) or with a clock
that jumps puts the images on another timeline than tf and odometry (`clock_offset` measures
it). The recorder stamps every message with its own clock when it receives it, so the images'
receive times are on the recorder's clock, as tf's header stamps are where the recording
computer publishes tf or is synchronised with its publisher; each image's time is then later
than its exposure by its transport latency. The image, depth and CameraInfo messages (one
camera's) all take their receive times: depth is matched to an image by receive time, within
``sync_tolerance_s``. A video topic is refused: its pictures come out of the decoder in
presentation order, matched to packets by header stamp, not by the order the bag received them.
"""

from __future__ import annotations

import array
from typing import Any, Dict, Optional

from ...core.errors import InputError
from ...core.image_stamp import check_image_stamp, restamp_on_receipt


class _ReceiveStamps:
    """Mixin of `BagSequence`: ``image_stamp`` and the receive times of its camera's messages.
    Needs ``image_topic``, ``depth_topic``, ``camera_info_topic``, ``_option_names``,
    ``_is_video()``."""

    _image_stamp: str = "header"
    _receive_ns: Dict[str, array.array]

    def _init_image_stamp(self, image_stamp: Any) -> None:
        """Check and keep ``image_stamp`` (`InputError` for a value not in `IMAGE_STAMPS`,
        named as the caller's option, e.g. ``--image-stamp``)."""
        name = self._option_names.get("image_stamp", "image_stamp")
        self._image_stamp = check_image_stamp(image_stamp, name)
        self._receive_ns = {}

    @property
    def image_stamp(self) -> str:
        """'header' (images timed by their header stamps) or 'receive' (by the bag's receive
        times of the image, depth and CameraInfo messages)."""
        return self._image_stamp

    @property
    def image_stamp_option(self) -> str:
        """How the caller's user gives ``image_stamp`` (``--image-stamp``, ``--params'
        image_stamp``; 'image_stamp' where the caller named none), for notes naming it."""
        return self._option_names.get("image_stamp", "image_stamp")

    @property
    def image_stamp_said(self) -> str:
        """Where the caller's user set ``image_stamp``, with its value ('--image-stamp
        receive', 'image_stamp: receive in FILE', 'the default image_stamp header';
        '<image_stamp_option> <value>' where the caller said none), for notes naming it."""
        return self._option_names.get("image_stamp_said",
                                      f"{self.image_stamp_option} {self._image_stamp}")

    @property
    def image_stamp_refused(self) -> Dict[str, str]:
        """Per ``image_stamp`` value this bag refuses, what that means for it: 'receive' for
        a video image topic (see the module), said by localize's map mismatch warning instead
        of advising it; empty for an image topic, which takes either."""
        if not self._is_video():
            return {}
        return {"receive": f"this bag's image topic {self.image_topic} is a video stream, "
                           "whose frames are timed by their header stamps only (--image-stamp "
                           "receive is refused for it): if its driver stamps with the camera's "
                           "own clock, as the map's may have, record the images (image_transport "
                           "'raw' or 'compressed') to time them by when they arrived"}

    def _refuse_receive_for_video(self, label: str) -> None:
        """`InputError` for 'receive' with a video image topic (see the module)."""
        if self._image_stamp == "receive" and self._is_video():
            name = self._option_names.get("image_stamp", "image_stamp")
            raise InputError(
                f"{self.image_stamp_said}: {label}'s image topic {self.image_topic} is a video "
                "stream, whose decoded pictures are timed by their packets' header stamps, not "
                f"by when the bag received them; drop {name} receive"
                + ("" if name == "--image-stamp" else " (--image-stamp header overrides --params)")
                + ", or record the images (image_transport 'raw' or 'compressed')")

    def _stamp_of(self, topic: str, header_ns: Optional[int], bag_ns: int) -> Optional[int]:
        """The time (int ns) the indexing pass gives a message of ``topic`` whose header stamp
        is ``header_ns`` (None: unknown, not deserialized) and receive time ``bag_ns``:
        ``bag_ns`` for a camera topic read with 'receive' (kept by the message's ordinal on
        its topic, for `_receive_restamped`: call once per message), else ``header_ns``."""
        if self._image_stamp != "receive" or topic not in (
                self.image_topic, self.depth_topic, self.camera_info_topic):
            return header_ns
        self._receive_ns.setdefault(topic, array.array("q")).append(int(bag_ns))
        return int(bag_ns)

    def _receive_restamped(self, msg: Any, topic: str, ordinal: int) -> Any:
        """``msg`` (deserialized again, message ``ordinal`` of ``topic``) with its header
        stamp set to its receive time, as the indexing pass timed it; as it is with
        'header'."""
        if self._image_stamp == "receive" and topic in self._receive_ns:
            restamp_on_receipt(msg.header, "receive", self._receive_ns[topic][ordinal])
        return msg
