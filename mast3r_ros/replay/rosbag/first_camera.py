"""A bag's camera size read before its indexing pass: the first CameraInfo message of the
CameraInfo topic the reader would take (`topics._TopicSelection`: the given one, else the only
one, else the only one in the image topic's namespace), binning and ROI applied as the reader
applies them. For build-map's check of a camera the network cannot take, said before the
network loads (`build_network.check_camera_size`), where that CameraInfo is cheap to read."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Tuple

from . import realsense, sqlite_open
from .opening import _open_bag, bag_label, bag_messages, bag_deserialize
from .topics import CAMERA_INFO_TYPE, IMAGE_TYPES, _image_namespace
from ...core.errors import Mast3rRosError
from ...core.message_fields import camera_info_to_intrinsics


def _chosen_topic(topics: dict, camera_info_topic: Optional[str],
                  image_topic: Optional[str]) -> Optional[str]:
    """The CameraInfo topic the reader takes, when that is plain from the names alone; None
    where it needs more (a RealSense recording, several CameraInfo topics and no one image
    topic by name) or where the reader refuses the bag's topics (it says why)."""
    if camera_info_topic is not None:
        info = topics.get(camera_info_topic)
        return camera_info_topic if info is not None and info.msgtype == CAMERA_INFO_TYPE \
            else None
    if realsense.is_realsense(topics):
        return None
    infos = sorted(n for n, i in topics.items() if i.msgtype == CAMERA_INFO_TYPE and i.msgcount)
    if len(infos) == 1:
        return infos[0]
    if image_topic is None:  # the only image topic not named as depth, if just one
        images = [n for n, i in topics.items()
                  if i.msgtype in IMAGE_TYPES and i.msgcount and "depth" not in n.lower()]
        image_topic = images[0] if len(images) == 1 else None
    if image_topic is None:
        return None
    same = [t for t in infos if t.rsplit("/", 1)[0] == _image_namespace(image_topic)]
    return same[0] if len(same) == 1 else None


def first_camera_size(path: str, camera_info_topic: Optional[str] = None,
                      image_topic: Optional[str] = None) -> Optional[Tuple[int, int, str]]:
    """(width, height, what) of the images of the bag at ``path`` as its first CameraInfo on
    the chosen topic (`_chosen_topic`; ``camera_info_topic`` / ``image_topic`` as given, None
    when not) tells them, in pixels after binning and ROI; ``what`` names it ('/cam/info's
    first CameraInfo in rosbag2 PATH'). None, nothing said, where that is not cheap or not
    plain: the topic is not plain from the names, a .db3 without a time index (its first
    message costs a sort of the file), no CameraInfo that can be read and is calibrated, a bag
    that cannot be opened: the reader then says what it says, and the first keyframe is
    checked as before. Never raises."""
    try:
        with _open_bag(Path(path)) as reader:
            if any(w == str(path) or w.startswith(os.path.join(str(path), ""))
                   for w in sqlite_open._warned):  # unindexed: a sort of the file first
                return None
            topic = _chosen_topic(dict(reader.topics), camera_info_topic, image_topic)
            if topic is None:
                return None
            gen = bag_messages(reader, connections=reader.topics[topic].connections)
            try:
                for conn, _, raw in gen:
                    try:
                        cam = camera_info_to_intrinsics(bag_deserialize(reader, raw,
                                                                        conn.msgtype))
                    except (Mast3rRosError, ValueError):
                        return None
                    return (int(cam.width), int(cam.height),
                            f"{topic}'s first CameraInfo in {bag_label(path)}")
            finally:
                gen.close()
    except Exception:  # noqa: BLE001 - a peek: the reader says what is wrong with the bag
        return None
    return None
