"""A ``sensor_msgs/msg/CameraInfo`` saved with ``ros2 topic echo`` (or ROS 1's ``rostopic
echo``) -> `CameraIntrinsics`.

``ros2 topic echo /camera/camera_info --once > cam.yaml`` writes the message as YAML
(rosidl_runtime_py's ``message_to_yaml``, the same in Humble and Jazzy): every field, the
float64 arrays as lists of Python floats (block style, one ``- 525.0`` a line; one flow
mapping with ``--flow-style``), then a ``---`` line. Without ``--once`` each message received
follows, separated by ``---``. It prints two notices on stdout too, so they land in the file
before the message: ``WARNING: topic [/x] does not appear to be published yet`` (it then waits
for a publisher) and ``A message was lost!!!`` with its two tab-indented count lines, the last
ending in ``---``; `skip_echo_notices` blanks them. ROS 1's ``rostopic echo -n 1
/camera/camera_info`` prints the ROS 1 message: the same fields but the arrays in capitals (``D``,
``K``, ``R``, ``P``, flow lists), ``header.seq`` and ``stamp.secs``/``nsecs``, then ``---``; it
is read as the same message. The fields are read through the code that reads a CameraInfo
message (`message_fields.camera_info_to_intrinsics`: K, D, binning and ROI as image_geometry
applies them), so a file reads as the message it was printed from.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from types import SimpleNamespace
from typing import List, NamedTuple, Optional, Tuple

import yaml

from ..errors import InputError
from ..types import CameraIntrinsics
from .camera_info import P_WITHOUT_K_IN_A_FILE, projection_without_k, warn_far_principal_point

log = logging.getLogger(__name__)

# sensor_msgs/msg/CameraInfo's fields, in its order (as ros2 topic echo prints them)
CAMERA_INFO_FIELDS = ("header", "height", "width", "distortion_model", "d", "k", "r", "p",
                      "binning_x", "binning_y", "roi")
# the fields K and D are read from: echo prints them all, so a file without one was edited
_REQUIRED = ("height", "width", "distortion_model", "d", "k")
_LENGTHS = {"r": 9, "p": 12}  # not used here; checked so that a cut or edited file is refused
_SAVE_ONE = "save one message with 'ros2 topic echo --once TOPIC > FILE'"
# ROS 1's sensor_msgs/CameraInfo names its arrays in capitals (as rostopic echo prints them)
_ROS1_ARRAYS = {"D": "d", "K": "k", "R": "r", "P": "p"}


class _Echo(NamedTuple):
    """How the file's tool and message name things: the echo command, how to save one message,
    the option that leaves arrays out, and each field's name as the file writes it."""
    tool: str
    save_one: str
    no_arr: str
    names: dict

    def name(self, field: str) -> str:
        return self.names.get(field, field)


_ROS2 = _Echo("ros2 topic echo", _SAVE_ONE, "--no-arr", {})
_ROS1 = _Echo("rostopic echo", "save one message with 'rostopic echo -n 1 TOPIC > FILE'",
              "--noarr", {v: k for k, v in _ROS1_ARRAYS.items()})


def looks_like_echoed_camera_info(keys: List[str]) -> bool:
    """Whether a YAML mapping with ``keys`` is taken for an echoed CameraInfo: ``k`` (ROS 1:
    ``K``), or both ``width`` and ``height``. The caller first rules out the
    camera_calibration_parsers layout (whose ``image_width`` / ``camera_matrix`` no message
    has)."""
    return "k" in keys or "K" in keys or {"width", "height"} <= set(keys)


# what ``ros2 topic echo`` prints on stdout before a message (ros2topic's api.get_msg_class and
# echo's message-lost callback): not the message, so a file it was redirected to holds them
_NOT_PUBLISHED = re.compile(r"WARNING: topic \[[^\]]*\] does not appear to be published yet")
_NO_TYPE = "Could not determine the type for the passed topic"
_LOST = "A message was lost!!!"
_LOST_COUNT = re.compile(r"\s+total count( change)?: ?\d+(---)?")
# a line rclpy's (rcutils') console logger writes: '[WARN] [1718500617.123] [node]: ...'
_ROS_LOG_LINE = re.compile(r"\[(DEBUG|INFO|WARN|ERROR|FATAL)\] \[\d+(\.\d+)?\] \[")


def skip_echo_notices(path: Path, text: str) -> str:
    """``text`` with the notices ``ros2 topic echo`` prints before a message (module docstring)
    blanked where they come before anything else (each line left empty, so that YAML's line
    numbers stay the file's), logged once (info); any other line stays, for the reader to
    judge. InputError, naming ``path``, for a file that holds nothing else, or ros2cli's own
    failure after the first notice (no publisher: the echo printed no message)."""
    lines = text.splitlines(keepends=True)
    skipped: List[str] = []
    lost = False  # within a lost-message notice: its count lines follow
    for i, line in enumerate(lines):
        bare = line.rstrip("\r\n").lstrip("\ufeff") if i == 0 else line.rstrip("\r\n")
        if not bare.strip():
            continue
        if bare.strip() == _NO_TYPE and skipped:
            raise InputError(f"{path} holds no message: 'ros2 topic echo' printed "
                             f"{skipped[0]!r} and {_NO_TYPE!r} (nothing was publishing the "
                             f"topic then); {_SAVE_ONE} while its publisher runs")
        lost = lost and bool(_LOST_COUNT.fullmatch(bare))
        if not (lost or _NOT_PUBLISHED.fullmatch(bare.strip()) or bare.strip() == _LOST):
            if _ROS_LOG_LINE.match(bare):  # rclpy's QoS warnings, ... are logged on stderr
                raise InputError(f"{path}: line {i + 1} is a ROS log line, not YAML "
                                 f"({bare.strip():.60}...): the echo's stderr was saved in the "
                                 f"file too (2>&1); save its stdout only, or remove the line")
            break
        lost = lost or bare.strip() == _LOST
        skipped.append(bare.strip())
        lines[i] = line[len(line.rstrip("\r\n")):]  # its line ending only
    else:
        if skipped:
            raise InputError(f"{path} holds no message, only what 'ros2 topic echo' printed "
                             f"before one ({skipped[0]!r}); {_SAVE_ONE}")
        return text
    if not skipped:
        return text
    log.info("%s: %d line(s) 'ros2 topic echo' printed before the message skipped (%s)", path,
             len(skipped), "; ".join(dict.fromkeys(_notice_kind(s) for s in skipped)))
    return "".join(lines)


def _notice_kind(line: str) -> str:
    return "the topic was not published yet" if line.startswith("WARNING") else "a message lost"


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


class _EchoLoader(yaml.SafeLoader):
    """PyYAML's safe loader that also reads a number with an exponent and no '.' (``1e-05``,
    Python's text of the float, which ROS 1's rostopic echo prints: a float in YAML 1.2 and
    to ROS's yaml-cpp, a string to PyYAML's YAML 1.1) as the float it is."""


_EchoLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$"), list("-+0123456789."))


def _the_message(path: Path, text: str) -> Tuple[dict, _Echo]:
    """The one message of an echo file (the ``---`` trailer ends it; an empty document is
    skipped) as a mapping, and the echo it is ROS 1's or ROS 2's (`_dialect`); InputError for
    several messages or one that is not a mapping."""
    try:
        nodes = [n for n in yaml.compose_all(text, Loader=_EchoLoader)
                 if not (isinstance(n, yaml.ScalarNode) and n.tag.endswith(":null"))]
    except yaml.YAMLError as err:
        raise InputError(f"{path} is not valid YAML: {' '.join(str(err).split())}") from err
    if len(nodes) != 1:
        lines = ", ".join(str(n.start_mark.line + 1) for n in nodes)
        if nodes and _dialect(nodes[0]) is _ROS1:
            raise InputError(f"{path}: holds {len(nodes)} YAML documents (at lines {lines}), "
                             f"read as messages saved by ROS 1's 'rostopic echo' (without -n 1 "
                             f"it prints every message received): keep one message, or "
                             f"{_ROS1.save_one}")
        raise InputError(f"{path}: holds {len(nodes)} YAML documents (at lines {lines}), read "
                         f"as messages saved by 'ros2 topic echo' (without --once it prints "
                         f"every message received, -v adds a message_info document): keep one "
                         f"message, or {_SAVE_ONE}")
    _repeated_key(nodes[0], path)
    loader = _EchoLoader("")
    try:
        doc = loader.construct_document(nodes[0])
    except yaml.YAMLError as err:  # a tag no safe loader constructs ('!1.0' of a lost space)
        raise InputError(f"{path} is not a message's YAML: "
                         f"{' '.join(str(err).split())}") from err
    finally:
        loader.dispose()
    if not isinstance(doc, dict):
        raise InputError(f"{path}: expected a CameraInfo message (a mapping), got "
                         f"{type(doc).__name__}")
    return doc, _dialect(nodes[0])


def _fields(node: Optional[yaml.Node]) -> dict:
    """A mapping node's values by their keys' text ({} for another node)."""
    return ({k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}
            if isinstance(node, yaml.MappingNode) else {})


def _dialect(node: yaml.Node) -> _Echo:
    """ROS 1's message (an array named in capitals, ``K``, or a ``header.seq``, which ROS 2's
    Header has not: ``rostopic echo --noarr`` leaves the arrays out) or ROS 2's."""
    fields = _fields(node)
    ros1 = any(k in _ROS1_ARRAYS for k in fields) or "seq" in _fields(fields.get("header"))
    return _ROS1 if ros1 else _ROS2


def _as_ros2(doc: dict, path: Path, echo: _Echo) -> dict:
    """``doc`` with ROS 1's ``D``, ``K``, ``R``, ``P`` named as ROS 2 names them (in its
    order); one that names an array both ways (``K`` and ``k``: no echo writes that) refused."""
    if echo is not _ROS1:
        return doc
    both = [f"{upper} and {lower}" for upper, lower in _ROS1_ARRAYS.items()
            if upper in doc and lower in doc]
    if both:
        raise InputError(f"{path}: holds {', '.join(both)}: ROS 1's 'rostopic echo' names the "
                         f"CameraInfo arrays in capitals (D, K, R, P), ROS 2's in lower case; "
                         f"keep one of each, or {_ROS1.save_one}")
    return {_ROS1_ARRAYS.get(k, k): v for k, v in doc.items()}


def _check_fields(doc: dict, path: Path, echo: _Echo = _ROS2) -> None:
    """Unknown and missing fields, and an ``r``/``p`` of another length, refused naming them
    (as ``echo``'s message names them: ``K`` in ROS 1's)."""
    unknown = [str(echo.name(k)) for k in doc if k not in CAMERA_INFO_FIELDS]
    if unknown:
        are = "is not a field" if len(unknown) == 1 else "are not fields"
        fields = ", ".join(echo.name(f) for f in CAMERA_INFO_FIELDS)
        raise InputError(f"{path}: {', '.join(map(repr, unknown))} {are} of "
                         f"sensor_msgs/msg/CameraInfo (the file was read as a message saved "
                         f"by '{echo.tool}'; its fields: {fields})")
    missing = [echo.name(name) for name in _REQUIRED if name not in doc]
    if missing:
        raise InputError(f"{path}: missing field {', '.join(map(repr, missing))} of the "
                         f"echoed CameraInfo message ('{echo.tool}' prints every field: was "
                         f"the file cut or edited?); {echo.save_one}")
    for name, size in _LENGTHS.items():
        value = doc.get(name)
        if isinstance(value, list) and len(value) != size:
            raise InputError(f"{path}: CameraInfo {echo.name(name)} must have {size} values, "
                             f"got {len(value)} (was the file cut or edited?); "
                             f"{echo.save_one}")


def _refuse_array_text(doc: dict, path: Path, echo: _Echo = _ROS2) -> None:
    """An array field written as text is refused with how to save its values: Python's
    ``array('d', [...])`` (``print`` of a message, ``ros2 topic echo --field d``) or what
    ``ros2 topic echo --no-arr`` prints instead of them (``'<array type: double[9]>'``; ROS
    1's ``--noarr``: ``<array type: float64, length: 9>``)."""
    for name in ("d", "k", "r", "p"):
        value = doc.get(name)
        if not isinstance(value, str):
            continue
        if value.lstrip().startswith("array("):
            raise InputError(f"{path}: CameraInfo {echo.name(name)} is Python's text of an "
                             f"array ({value:.30}...), not the YAML list '{echo.tool}' prints "
                             f"for a whole message; {echo.save_one}")
        if value.startswith(("<array type", "<sequence type")):
            raise InputError(f"{path}: CameraInfo {echo.name(name)} is {value!r}: the message "
                             f"was echoed with {echo.no_arr}, which leaves the arrays out; "
                             f"{echo.save_one}")


def load_echoed_camera_info(path: Path, text: str, rectified: bool = False) -> CameraIntrinsics:
    """``text``, the YAML that ``ros2 topic echo`` (or ROS 1's ``rostopic echo``: its ``D``,
    ``K``, ``R``, ``P`` read as ``d``, ``k``, ``r``, ``p``) printed for one CameraInfo message
    (read from ``path``), -> `CameraIntrinsics` of the image stream it describes, as the node
    reads the message (`message_fields.camera_info_to_intrinsics`, not rectified: K and D;
    binning and ROI applied as image_geometry does; absent binning or ROI: none).

    Raises:
        InputError: naming ``path``: several messages (YAML documents), a field given twice
            (or an array in both ROS 1's and ROS 2's spelling: ``K`` and ``k``),
            a field CameraInfo has not, a missing ``height``, ``width``, ``distortion_model``,
            ``d`` or ``k``, ``r``/``p`` not 9/12 values, an array printed as Python's
            ``array('d', [...])`` or left out (``--no-arr``), and whatever the message
            reader refuses (K not 9 numbers, an unsupported model or coefficient count, a size
            that is no whole number, a ROI outside the image, ...).
    """
    from ..message_fields import camera_info_to_intrinsics  # here: it imports this package

    doc, echo = _the_message(path, text)
    doc = _as_ros2(doc, path, echo)
    _check_fields(doc, path, echo)
    _refuse_array_text(doc, path, echo)
    msg = SimpleNamespace(**{name: doc.get(name) for name in CAMERA_INFO_FIELDS})
    focal = projection_without_k(msg.k, msg.p) if isinstance(msg.k, list) else ""
    if focal and not rectified:  # read through P, as the message is, with image_rectified
        raise InputError(f"{path}: K is all zeros but P is set ({focal}): "
                         f"{P_WITHOUT_K_IN_A_FILE}")
    try:
        cam = camera_info_to_intrinsics(msg, rectified=bool(focal))
    except (InputError, TypeError, ValueError) as err:
        raise InputError(f"{path}: {err}") from err
    header = doc.get("header")
    frame: Optional[object] = header.get("frame_id") if isinstance(header, dict) else None
    log.info("%s: read as a sensor_msgs/CameraInfo message saved by %s'%s' (frame_id %r): "
             "%dx%d image, %s distortion", path, "ROS 1's " if echo is _ROS1 else "", echo.tool,
             frame, cam.width, cam.height, cam.distortion_model)
    k = msg.p[:3] + msg.p[4:7] if focal else msg.k  # P's 3x3 where it is the model read
    warn_far_principal_point(float(k[2]), float(k[5]), int(msg.width), int(msg.height),
                             f"echoed CameraInfo {path}")
    return cam
