"""Which time an image is given: its ``header.stamp``, or when it was received.

Parameter ``image_stamp`` (the node) and ``--image-stamp`` (``build-map``, ``localize`` reading
a bag). 'header' (the default) keeps the stamp the driver wrote. 'receive' replaces it by the
time the image arrived: the node clock's now when its image callback runs (ROS time: ``/clock``
under ``use_sim_time``), a bag's receive (log) time of the message. That is the usual remedy
for a driver that stamps with the camera's own clock (time since boot, a clock never set, one
that jumps) while tf and odometry are stamped with the robot's; its cost is the transport
latency (driver, middleware, a network link) added to every image's time, so the pose at the
image is looked up that much late.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Tuple

from .errors import InputError

# --sync-tolerance's largest value (the CLI's check; the bag reader's receive-gap hint offers
# none past it): image and depth further apart are not one view of a moving camera; more is a
# unit slip (20 ms given as 20). Here, not in core.trajectory: the CLI's --help reads it and
# must not import scipy
MAX_SYNC_TOLERANCE_S = 1.0

#: the values of ``image_stamp`` / ``--image-stamp``, the default first
IMAGE_STAMPS = ("header", "receive")

#: what 'receive' costs, said where it is offered as a remedy
RECEIVE_COST = ("each image's time is then when it arrived, later than the exposure by the "
                "transport latency: tens of ms, more for large images over a network")

#: the largest ``sec`` of ``builtin_interfaces/Time`` (int32: 2038-01-19 03:14:07 UTC)
MAX_STAMP_SEC = 2**31 - 1


def check_image_stamp(value: Any, name: str = "image_stamp") -> str:
    """``value`` when it is one of `IMAGE_STAMPS`; else `InputError` naming ``name`` (how the
    caller's user gives it, e.g. ``"--image-stamp"``) and the values."""
    if not isinstance(value, str) or value not in IMAGE_STAMPS:
        raise InputError(f"{name} must be one of {', '.join(IMAGE_STAMPS)} ('header': the "
                         f"image's header.stamp; 'receive': when it arrived), got {value!r}")
    return value


def stamp_fields(stamp_ns: int) -> Tuple[int, int]:
    """(sec, nanosec) of ``builtin_interfaces/Time`` for ``stamp_ns`` (int ns, >= 0)."""
    sec, nanosec = divmod(int(stamp_ns), 1_000_000_000)
    return sec, nanosec


def restamp_on_receipt(header: Any, mode: str, now_ns: int) -> bool:
    """Give an arriving image its time by ``mode`` (`IMAGE_STAMPS`): for 'receive', set
    ``header.stamp`` (``sec``, ``nanosec``: a ``std_msgs/Header``'s, or any object with those
    fields) to ``now_ns`` (the node clock's now at the image callback, int ns; 0 or less
    under ``use_sim_time`` before the first ``/clock`` gives stamp 0, which the node refuses
    as it refuses every frame then) and return True; for 'header' leave it, return False.
    Raises `InputError` for another ``mode``, and for a ``now_ns`` past what the stamp's int32
    ``sec`` holds (`MAX_STAMP_SEC`: a clock past 2038), the header then left as it was."""
    if check_image_stamp(mode) == "header":
        return False
    sec, nanosec = stamp_fields(max(int(now_ns), 0))
    if sec > MAX_STAMP_SEC:
        raise InputError(f"image_stamp receive: the clock reads {sec} s, past what an image's "
                         f"header.stamp holds (int32 sec, at most {MAX_STAMP_SEC} s: "
                         "2038-01-19 03:14:07 UTC); check the clock (/clock under use_sim_time), "
                         "or set image_stamp to header")
    header.stamp.sec, header.stamp.nanosec = sec, nanosec
    return True


#: how each value times an image, in the mismatch notes
_TIMED_BY = {"header": "its header stamp", "receive": "when it arrived"}


#: a map manifest's ``recording`` (build-map: the kind of recording it read) for a rosbag2
BAG_RECORDING = "rosbag2"
#: ... for a ROS 1 bag (a ``.bag`` file, read by the same reader)
ROS1_BAG_RECORDING = "rosbag1"
#: the kinds that offer the image_stamp choice (a bag's receive times)
BAG_RECORDINGS = (BAG_RECORDING, ROS1_BAG_RECORDING)


def bag_image_stamp(record: Mapping[str, Any]) -> Optional[str]:
    """The ``image_stamp`` of one build's ``record`` (a map manifest, or a merged map's
    ``merged_from`` entry) where it counts: only a bag's recording offers the choice. None
    where it records none, where its ``recording`` (build-map records the kind it read:
    `BAG_RECORDINGS`, 'tum', 'euroc', 'kitti') is not a bag, and for 'header' where it records
    no ``recording`` (a map of an older build: the previous release recorded 'header' for a
    TUM/EuRoC/KITTI folder as for a bag, so 'header' alone does not say a bag's setting;
    'receive' does: a folder refuses it)."""
    value = record.get("image_stamp") if isinstance(record, Mapping) else None
    if value not in IMAGE_STAMPS:
        return None
    kind = record.get("recording")
    if kind is None:
        return "receive" if value == "receive" else None
    return str(value) if kind in BAG_RECORDINGS else None


def recorded_image_stamp(manifest: Mapping[str, Any]) -> Optional[str]:
    """The ``image_stamp`` a map's build read its recording with, from the map's parsed
    ``manifest``: its own (`bag_image_stamp`: build-map records it for a bag, the only
    recording that offers the choice), else, for a merged map, the one every source that
    records one shares (``merged_from``, nested merges too). None where none records one (a
    map of a TUM/EuRoC/KITTI folder, a map built before it was recorded) or the sources differ
    (no one setting to match)."""
    own = bag_image_stamp(manifest)
    if own is not None:
        return own
    found = set()

    def walk(sources: Any) -> None:
        for src in sources if isinstance(sources, list) else ():
            if isinstance(src, Mapping):
                if bag_image_stamp(src) is not None:
                    found.add(bag_image_stamp(src))
                walk(src.get("merged_from"))

    walk(manifest.get("merged_from") if isinstance(manifest, Mapping) else None)
    return found.pop() if len(found) == 1 else None


def image_stamp_mismatch(setting: Optional[str], manifest: Mapping[str, Any], map_path: str,
                         reader: str, matters: str, fix: str,
                         refused: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """One warning line when images timed by ``setting`` (`IMAGE_STAMPS`; None: a reader
    without the choice, which says nothing) are localized against a map whose recording was
    read with another (`recorded_image_stamp` of its ``manifest``); None when they agree or the
    map records none. ``reader`` names the setting and its value ('this bag is read with
    --image-stamp header', '... with image_stamp: receive in FILE'),
    ``matters`` what depends on it (the map's poses do not: they came from its own
    recording), ``fix`` how to match the map ('pass --image-stamp'), followed by the map's
    value. ``refused``: per value this reader refuses, what that means for it (a video topic
    and 'receive'), said instead of ``fix`` when the map's value is one of them: the line
    never advises a value the input refuses."""
    recorded = recorded_image_stamp(manifest)
    if setting not in IMAGE_STAMPS or recorded is None or recorded == setting:
        return None
    cannot = (refused or {}).get(recorded)
    tail = cannot or f"if this camera and driver recorded the map, {fix} {recorded} to match"
    return (f"{reader} (each image timed by {_TIMED_BY[setting]}), but "
            f"the map {map_path} was built from a recording read with image_stamp {recorded} "
            f"(timed by {_TIMED_BY[recorded]}): the poses localized against the map do not "
            f"depend on it, {matters}; {tail}")


def node_image_stamp_note(setting: str, manifest: Mapping[str, Any],
                          map_path: str) -> Optional[str]:
    """The node's configure warning (`image_stamp_mismatch`) for its parameter ``image_stamp``
    against the map it loaded; None when they agree or the map records none."""
    return image_stamp_mismatch(
        setting, manifest, map_path, f"parameter image_stamp is {setting}",
        "the TF lookups at each image's time (odom_frame, base_frame) do",
        "set the parameter image_stamp to")
