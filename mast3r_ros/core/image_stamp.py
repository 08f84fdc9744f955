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

from typing import Any, Tuple

from .errors import InputError

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
