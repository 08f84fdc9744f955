"""The depth topic of a bag read where depth is needed (``depth_needed_by``: the sift matcher,
points_source 'depth') and none was given: the bag's only image topic whose first readable
message is depth-encoded (16UC1 / 32FC1, or a compressedDepth format), the colour topic
excepted, is taken and said at INFO, as the image and CameraInfo topics are detected when there
is one candidate. Without one, or with several, the refusal lists the bag's depth-like topics
(`no_depth_reason`) to pass with --depth-topic. Where depth is not needed nothing is detected:
no depth is read."""

from __future__ import annotations

import logging
from typing import Any, List

from rosbags.highlevel import AnyReader

from ...core.errors import InputError
from .opening import bag_label
from .topics import _DEPTH_RAW_ENCODINGS, IMAGE_TYPE

log = logging.getLogger(__name__)


def _depth_encoded(seq: Any, reader: AnyReader, topic: str) -> bool:
    """Whether ``topic``'s first readable message is depth (not only 'depth' in its name: a
    colourized depth image is rgb8)."""
    msg = seq._first_message(reader, topic)
    if msg is None:
        return False
    if seq._topics[topic].msgtype == IMAGE_TYPE:
        return msg.encoding in _DEPTH_RAW_ENCODINGS
    fmt = msg.format
    return "compresseddepth" in fmt.lower() or fmt.startswith(_DEPTH_RAW_ENCODINGS)


def needed_depth_topic(seq: Any, reader: AnyReader, need: str) -> str:
    """The depth topic of `BagSequence` ``seq`` (its ``depth_like_topics`` set, no
    ``depth_topic`` given) for ``need``: the only depth-encoded one, checked as a given one is
    (`_select_depth_topic`), else `InputError` naming the candidates."""
    found: List[str] = [t for t in seq.depth_like_topics if _depth_encoded(seq, reader, t)]
    if len(found) != 1:
        raise InputError(f"{need} takes its 3-D points from keyframe depth, but "
                         f"{seq.no_depth_reason()}")
    topic = seq._select_depth_topic(found[0], reader)
    log.info("%s: depth from %s, the bag's only depth image topic (%s needs depth); choose "
             "another with --depth-topic", bag_label(seq.path), topic, need)
    return topic
