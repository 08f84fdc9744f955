"""The depth topic of a bag read where depth is needed (``depth_needed_by``: the sift matcher,
points_source 'depth') and none was given: the bag's only image topic whose first readable
message is depth-encoded (16UC1 / 32FC1, or a compressedDepth format), the colour topic
excepted, is taken and said at INFO, as the image and CameraInfo topics are detected when there
is one candidate. Without one, or with several, the refusal lists the bag's depth-like topics
(`no_depth_reason`) to pass with --depth-topic. Where depth is not needed nothing is detected:
no depth is read."""

from __future__ import annotations

import logging
from typing import Any, List, Optional

from rosbags.highlevel import AnyReader

from ...core.errors import InputError
from . import realsense
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


def _mono16(seq: Any, reader: AnyReader, topic: str) -> bool:
    """Whether ``topic``'s first readable message is mono16 (an Image's encoding, a
    CompressedImage's format: ``mono16; png compressed``): a 16-bit grey image to cv_bridge,
    which some depth drivers publish depth as."""
    msg = seq._first_message(reader, topic)
    if msg is None:
        return False
    if seq._topics[topic].msgtype == IMAGE_TYPE:
        return msg.encoding == "mono16"
    return msg.format.split(";")[0].strip() == "mono16"


def first_depth_encoding(seq: Any, msg: Any, topic: str) -> Optional[str]:
    """The depth topic's first message's encoding (an Image's; a CompressedImage's format),
    which the indexing pass deserializes in full for it; a mono16 one (cv_bridge's 16-bit grey
    image, which some depth drivers publish depth as) said at INFO, once (the first message
    alone comes here): read as 16-bit depth as 16UC1 is (`raw.depth_to_metres`: the same
    REP-118 millimetres, or --depth-scale's unit). A RealSense recording's depth (mono16 with
    its Depth Units) says nothing: `_check_realsense_depth` reads its unit."""
    enc = getattr(msg, "encoding", None) or getattr(msg, "format", None)
    if (enc is None or str(enc).split(";")[0].strip() != "mono16"
            or realsense.is_realsense(seq._topics)):
        return enc
    scale = getattr(seq, "_depth_scale", None)
    unit = (f"{seq._option('depth_scale')} {scale:g} units per metre" if scale is not None else
            f"1000 units per metre (REP-118 millimetres; {seq._option('depth_scale')} for "
            "another unit)")
    log.info("depth topic %s is mono16 (cv_bridge's 16-bit grey image): read as 16-bit "
             "depth, as 16UC1 is: %s", topic, unit)
    return enc


def needed_depth_topic(seq: Any, reader: AnyReader, need: str) -> str:
    """The depth topic of `BagSequence` ``seq`` (its ``depth_like_topics`` set, no
    ``depth_topic`` given) for ``need``: the only depth-encoded one, checked as a given one is
    (`_select_depth_topic`), else `InputError` naming the candidates (the only mono16 one
    named like depth said as such: never taken unasked, as mono16 is a grey image too)."""
    found: List[str] = [t for t in seq.depth_like_topics if _depth_encoded(seq, reader, t)]
    mono = [] if found else [t for t in seq.depth_like_topics if _mono16(seq, reader, t)]
    if len(mono) == 1:
        unit = ("its recorded Depth Units" if realsense.is_realsense(seq._topics) else
                f"millimetres, or {seq._option('depth_scale')}'s unit")
        raise InputError(f"{need} takes its 3-D points from keyframe depth, but in "
                         f"{bag_label(seq.path)} {mono[0]} is named like depth but is mono16 (a "
                         "16-bit grey image to cv_bridge, not taken as depth unasked): if it is "
                         f"depth (some drivers publish it so), pass --depth-topic {mono[0]} "
                         f"(read as 16UC1 is: {unit})")
    if len(found) != 1:
        raise InputError(f"{need} takes its 3-D points from keyframe depth, but "
                         f"{seq.no_depth_reason()}")
    topic = seq._select_depth_topic(found[0], reader)
    log.info("%s: depth from %s, the bag's only depth image topic (%s needs depth); choose "
             "another with --depth-topic", bag_label(seq.path), topic, need)
    return topic
