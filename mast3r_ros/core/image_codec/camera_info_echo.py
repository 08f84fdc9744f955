"""A ``sensor_msgs/msg/CameraInfo`` saved with ``ros2 topic echo`` -> `CameraIntrinsics`.

``ros2 topic echo /camera/camera_info --once > cam.yaml`` writes the message as YAML
(rosidl_runtime_py's ``message_to_yaml``, the same in Humble and Jazzy): every field, the
float64 arrays as lists of Python floats (block style, one ``- 525.0`` a line; one flow
mapping with ``--flow-style``), then a ``---`` line. Without ``--once`` each message received
follows, separated by ``---``. The fields are read through the code that reads a CameraInfo
message (`message_fields.camera_info_to_intrinsics`: K, D, binning and ROI as image_geometry
applies them), so a file reads as the message it was printed from.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace
from typing import List, Optional

import yaml

from ..errors import InputError
from ..types import CameraIntrinsics
from .camera_info import warn_far_principal_point

log = logging.getLogger(__name__)

# sensor_msgs/msg/CameraInfo's fields, in its order (as ros2 topic echo prints them)
CAMERA_INFO_FIELDS = ("header", "height", "width", "distortion_model", "d", "k", "r", "p",
                      "binning_x", "binning_y", "roi")
# the fields K and D are read from: echo prints them all, so a file without one was edited
_REQUIRED = ("height", "width", "distortion_model", "d", "k")
_LENGTHS = {"r": 9, "p": 12}  # not used here; checked so that a cut or edited file is refused
_SAVE_ONE = "save one message with 'ros2 topic echo --once TOPIC > FILE'"


def looks_like_echoed_camera_info(keys: List[str]) -> bool:
    """Whether a YAML mapping with ``keys`` is taken for an echoed CameraInfo: ``k``, or both
    ``width`` and ``height``. The caller first rules out the camera_calibration_parsers layout
    (whose ``image_width`` / ``camera_matrix`` no message has)."""
    return "k" in keys or {"width", "height"} <= set(keys)


def _repeated_key(node: yaml.Node, path: Path, prefix: str = "") -> None:
    """A key given twice in one mapping is refused: PyYAML keeps the last, so the file holds
    two values for one field (``ros2 topic echo`` never writes that: the file was edited)."""
    if not isinstance(node, yaml.MappingNode):
        return
    seen = {}
    for key, value in node.value:
        if isinstance(key, yaml.ScalarNode) and key.value in seen:
            raise InputError(f"{path}: {prefix}{key.value} is given twice (lines "
                             f"{seen[key.value]} and {key.start_mark.line + 1}) in the echoed "
                             f"CameraInfo message: keep one, or {_SAVE_ONE}")
        if isinstance(key, yaml.ScalarNode):
            seen[key.value] = key.start_mark.line + 1
            _repeated_key(value, path, f"{prefix}{key.value}.")


def _the_message(path: Path, text: str) -> dict:
    """The one message of an echo file (the ``---`` trailer ends it; an empty document is
    skipped) as a mapping; InputError for several messages or one that is not a mapping."""
    try:
        nodes = [n for n in yaml.compose_all(text, Loader=yaml.SafeLoader)
                 if not (isinstance(n, yaml.ScalarNode) and n.tag.endswith(":null"))]
    except yaml.YAMLError as err:
        raise InputError(f"{path} is not valid YAML: {' '.join(str(err).split())}") from err
    if len(nodes) != 1:
        lines = ", ".join(str(n.start_mark.line + 1) for n in nodes)
        raise InputError(f"{path}: holds {len(nodes)} YAML documents (at lines {lines}), read "
                         f"as messages saved by 'ros2 topic echo' (without --once it prints "
                         f"every message received, -v adds a message_info document): keep one "
                         f"message, or {_SAVE_ONE}")
    _repeated_key(nodes[0], path)
    loader = yaml.SafeLoader("")
    try:
        doc = loader.construct_document(nodes[0])
    finally:
        loader.dispose()
    if not isinstance(doc, dict):
        raise InputError(f"{path}: expected a CameraInfo message (a mapping), got "
                         f"{type(doc).__name__}")
    return doc


def _check_fields(doc: dict, path: Path) -> None:
    """Unknown and missing fields, and an ``r``/``p`` of another length, refused naming them."""
    unknown = [str(k) for k in doc if k not in CAMERA_INFO_FIELDS]
    if unknown:
        ros1 = [k for k in unknown if k in ("D", "K", "R", "P")]
        hint = (f"; ROS 1's rostopic echo writes D, K, R, P in capitals: rename "
                f"{', '.join(f'{k} to {k.lower()}' for k in ros1)}" if ros1 else "")
        are = "is not a field" if len(unknown) == 1 else "are not fields"
        raise InputError(f"{path}: {', '.join(map(repr, unknown))} {are} of "
                         f"sensor_msgs/msg/CameraInfo (the file was read as a message saved "
                         f"by 'ros2 topic echo'; its fields: {', '.join(CAMERA_INFO_FIELDS)})"
                         f"{hint}")
    missing = [name for name in _REQUIRED if name not in doc]
    if missing:
        raise InputError(f"{path}: missing field {', '.join(map(repr, missing))} of the "
                         f"echoed CameraInfo message ('ros2 topic echo' prints every field: was "
                         f"the file cut or edited?); {_SAVE_ONE}")
    for name, size in _LENGTHS.items():
        value = doc.get(name)
        if isinstance(value, list) and len(value) != size:
            raise InputError(f"{path}: CameraInfo {name} must have {size} values, got "
                             f"{len(value)} (was the file cut or edited?); {_SAVE_ONE}")


def _refuse_array_text(doc: dict, path: Path) -> None:
    """An array field written as text is refused with how to save its values: Python's
    ``array('d', [...])`` (``print`` of a message, ``ros2 topic echo --field d``) or what
    ``ros2 topic echo --no-arr`` prints instead of them (``'<array type: double[9]>'``)."""
    for name in ("d", "k", "r", "p"):
        value = doc.get(name)
        if not isinstance(value, str):
            continue
        if value.lstrip().startswith("array("):
            raise InputError(f"{path}: CameraInfo {name} is Python's text of an array "
                             f"({value:.30}...), not the YAML list 'ros2 topic echo' prints "
                             f"for a whole message; {_SAVE_ONE}")
        if value.startswith(("<array type", "<sequence type")):
            raise InputError(f"{path}: CameraInfo {name} is {value!r}: the message was echoed "
                             f"with --no-arr, which leaves the arrays out; {_SAVE_ONE}")


def load_echoed_camera_info(path: Path, text: str) -> CameraIntrinsics:
    """``text``, the YAML that ``ros2 topic echo`` printed for one CameraInfo message (read from
    ``path``), -> `CameraIntrinsics` of the image stream it describes, as the node reads the
    message (`message_fields.camera_info_to_intrinsics`, not rectified: K and D; binning and
    ROI applied as image_geometry does; absent binning or ROI: none).

    Raises:
        InputError: naming ``path``: several messages (YAML documents), a field given twice,
            a field CameraInfo has not, a missing ``height``, ``width``, ``distortion_model``,
            ``d`` or ``k``, ``r``/``p`` not 9/12 values, an array printed as Python's
            ``array('d', [...])`` or left out (``--no-arr``), and whatever the message
            reader refuses (K not 9 numbers, an unsupported model or coefficient count, a size
            that is no whole number, a ROI outside the image, ...).
    """
    from ..message_fields import camera_info_to_intrinsics  # here: it imports this package

    doc = _the_message(path, text)
    _check_fields(doc, path)
    _refuse_array_text(doc, path)
    msg = SimpleNamespace(**{name: doc.get(name) for name in CAMERA_INFO_FIELDS})
    try:
        cam = camera_info_to_intrinsics(msg)
    except (InputError, TypeError, ValueError) as err:
        raise InputError(f"{path}: {err}") from err
    header = doc.get("header")
    frame: Optional[object] = header.get("frame_id") if isinstance(header, dict) else None
    log.info("%s: read as a sensor_msgs/CameraInfo message saved by 'ros2 topic echo' (frame_id "
             "%r): %dx%d image, %s distortion", path, frame, cam.width, cam.height,
             cam.distortion_model)
    k = msg.k
    warn_far_principal_point(float(k[2]), float(k[5]), int(msg.width), int(msg.height),
                             f"echoed CameraInfo {path}")
    return cam
