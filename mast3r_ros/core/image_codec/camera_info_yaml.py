"""``load_camera_info_yaml``: a camera_info YAML (camera_calibration_parsers' file layout, as
camera_info_manager loads it) -> `CameraIntrinsics`, read as ROS reads it, without ROS; a
CameraInfo saved by ``ros2 topic echo`` (`camera_info_echo`), an OpenCV FileStorage YAML
(`camera_info_opencv`) or a Kalibr camchain.yaml (`camera_info_kalibr`) is told apart and read
by its own module."""

from __future__ import annotations

import difflib
import logging
import math
import re
from typing import Optional, Tuple, Union

from pathlib import Path

import numpy as np
import yaml

from ..errors import InputError
from ..text_files import decode_text, not_text, not_text_fix
from ..types import CameraIntrinsics
from .camera_info import (P_WITHOUT_K_IN_A_FILE, intrinsics_from_camera_info,
                          projection_without_k, rectified_intrinsics_from_camera_info,
                          warn_far_principal_point)
from .camera_info_kalibr import (looks_like_asl_sensor, looks_like_kalibr_camchain,
                                 refuse_unmarked_asl_sensor)
from .camera_info_echo import (load_echoed_camera_info, looks_like_echoed_camera_info,
                               skip_echo_notices)
from .camera_info_misgiven import not_a_mapping

log = logging.getLogger(__name__)

def _yaml_field(doc: dict, path: Path, *keys: str) -> object:
    value: object = doc
    for depth, key in enumerate(keys):
        if not isinstance(value, dict) or key not in value:
            raise InputError(f"{path}: missing field {'.'.join(keys[: depth + 1])!r}")
        value = value[key]
    return value


def _yaml_int(value: object, path: Path, name: str, what: str) -> int:
    """An integer of this reader's own keys (binning, roi: camera_calibration_parsers does not
    read them) -> int: a whole number, or a string of one; else an InputError naming the field
    and the value given (``binning_x: "2x"``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    # one sign and ASCII digits ('+-5' and a superscript '²' pass str.isdigit, not int())
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?[0-9]+\s*", value):
        return int(value)
    raise InputError(f"{path}: {name} must be {what}, got {value!r}")


def _check_camera_name(root: Optional[yaml.Node], path: Path) -> None:
    """``camera_name``, not used here, is read by camera_calibration_parsers where present, with
    yaml-cpp's ``as<std::string>``, which throws on a null (``camera_name:`` with nothing after
    it), a list or a mapping: ROS refuses such a file, so it is refused here too."""
    node = _node(root, "camera_name")
    if node is None or (isinstance(node, yaml.ScalarNode) and not node.tag.endswith(":null")):
        return
    found = "empty (YAML null)" if isinstance(node, yaml.ScalarNode) else (
        "a list" if isinstance(node, yaml.SequenceNode) else "a mapping")
    raise InputError(f"{path}: camera_name is {found}, which ROS's camera_calibration_parsers "
                     f"does not read as a name and refuses the file: write a name "
                     f"(camera_name: my_camera) or remove the line")


def _yaml_binning(doc: dict, path: Path, name: str) -> int:
    """``binning_x``/``binning_y`` (this reader's own keys: camera_calibration_parsers does not
    read them, so ROS loads any value and publishes no binning from the file) as an integer;
    left empty (``binning_x: ""`` or nothing after it) it is read as no binning, as ROS would,
    with a warning, since a value may have been meant; a bool, list or mapping is refused (was
    read as 0 for false or [], refused for true)."""
    value = doc.get(name, 0)
    if value is None or (isinstance(value, str) and not value.strip()):
        log.warning("%s: %s is empty (%r): read as no binning, as ROS's camera_calibration_parsers"
                    " (which does not read %s) would; write the factor (0 or 1: none), or remove "
                    "the line", path, name, value, name)
        return 0
    return _yaml_int(value, path, name, "an integer (0 or 1: no binning)")


# What yaml-cpp 0.7/0.8 (ROS 2 Humble, Jazzy) takes from a scalar's text as an integer or a
# double: a stream read with the base detected (0x hex, 0 octal), no leading space, nothing
# but space after; '24.0', '1_000', '' (null) and a sequence are refused.
_CPP_SPACE = r"[ \t\n\v\f\r]*"  # C's isspace
_CPP_INT = re.compile(r"([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)" + _CPP_SPACE)
_CPP_DOUBLE = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?" + _CPP_SPACE)
_CPP_SPECIAL = {sign + inf: float(sign + "inf")
                for sign in ("", "+", "-") for inf in (".inf", ".Inf", ".INF")}
_CPP_SPECIAL.update({nan: float("nan") for nan in (".nan", ".NaN", ".NAN")})


def _refuse_repeated_keys(node: Optional[yaml.Node], path: Path, prefix: str = "") -> None:
    """A key given twice in one mapping (``image_width``, or ``cols`` of a matrix) is refused:
    ROS's yaml-cpp reads the first of them (its map lookup returns the first match), PyYAML
    and so this reader the last, so the file would describe two cameras."""
    if not isinstance(node, yaml.MappingNode):
        return
    seen: dict[str, int] = {}  # key -> its line
    for key, value in node.value:
        if not isinstance(key, yaml.ScalarNode):
            continue
        if key.value in seen:
            raise InputError(f"{path}: {prefix}{key.value} is given twice (lines "
                             f"{seen[key.value]} and {key.start_mark.line + 1}); ROS's "
                             f"camera_calibration_parsers (yaml-cpp) reads the first, this "
                             f"reader would read the last: keep one")
        seen[key.value] = key.start_mark.line + 1
        _refuse_repeated_keys(value, path, f"{prefix}{key.value}.")


def _node(root: Optional[yaml.Node], *keys: str) -> Optional[yaml.Node]:
    """The YAML node at ``keys`` of mapping ``root`` (the last of a repeated key, as
    ``yaml.safe_load`` keeps; `load_camera_info_yaml` refuses one), None where there is
    none."""
    for key in keys:
        if not isinstance(root, yaml.MappingNode):
            return None
        root = next((v for k, v in reversed(root.value)
                     if isinstance(k, yaml.ScalarNode) and k.value == key), None)
    return root


def _cpp_int(node: Optional[yaml.Node], unsigned: bool) -> Optional[int]:
    """yaml-cpp's ``as<int>`` (``as<uint32_t>`` when ``unsigned``) of a scalar's text, as
    camera_calibration_parsers reads ``image_width`` or ``rows``; None where it throws."""
    is_null = isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")
    if not isinstance(node, yaml.ScalarNode) or is_null:
        return None
    m = _CPP_INT.fullmatch(node.value)
    if m is None or (unsigned and m.group(1) == "-"):  # yaml-cpp refuses '-' for unsigned
        return None
    digits = m.group(2)
    base = 16 if digits[1:2] in ("x", "X") else 8 if digits.startswith("0") else 10
    n = int(digits, base) * (-1 if m.group(1) == "-" else 1)
    lo, hi = (0, 2**32 - 1) if unsigned else (-2**31, 2**31 - 1)
    return n if lo <= n <= hi else None


def _ros_int(value: object, node: Optional[yaml.Node], path: Path, name: str, what: str,
             unsigned: bool = False) -> int:
    """An integer camera_calibration_parsers reads (``image_width``: uint32, ``rows``: int) as
    its yaml-cpp reads it (`_cpp_int`), else an InputError naming the field, the value found
    and what ROS takes: a file read here must not be one camera_info_manager refuses."""
    n = _cpp_int(node, unsigned)
    if n is None:
        fix = (f": write {int(value)}" if isinstance(value, float) and value.is_integer()
               else "")
        raise InputError(f"{path}: {name} must be {what}, got {value!r}, which ROS's "
                         f"camera_calibration_parsers (yaml-cpp) does not read as an "
                         f"{'unsigned ' if unsigned else ''}integer and refuses the file "
                         f"(it takes digits, quoted or not){fix}")
    return n


def _yaml_numbers(value: object, node: Optional[yaml.Node], path: Path,
                  name: str) -> np.ndarray:
    """A camera_info YAML list of numbers (``camera_matrix.data``) -> float array, each read
    from its text as yaml-cpp reads a double (``010`` is 10.0 there, 8 for PyYAML; ``nan``,
    ``1_000`` and ``0x1F`` are refused there), else an InputError naming the field and the
    first entry ROS cannot read."""
    if not isinstance(value, (list, tuple)) or not isinstance(node, yaml.SequenceNode):
        raise InputError(f"{path}: {name} must be a list of numbers, got {value!r}")
    out = np.empty(len(node.value), dtype=np.float64)
    for i, (item, raw) in enumerate(zip(value, node.value)):
        text = raw.value if isinstance(raw, yaml.ScalarNode) else None
        if isinstance(text, str) and text in _CPP_SPECIAL:
            out[i] = _CPP_SPECIAL[text]
        elif isinstance(text, str) and _CPP_DOUBLE.fullmatch(text) and math.isfinite(float(text)):
            out[i] = float(text)
        else:  # an overflow (1e400) sets the stream's failbit: refused too
            raise InputError(f"{path}: {name} must be a list of numbers, got {item!r} at "
                             f"index {i}, which ROS's camera_calibration_parsers (yaml-cpp) "
                             f"does not read as a number")
    return out


def _yaml_matrix(value: object, path: Path, name: str, example: str) -> dict:
    """A camera_info YAML matrix field in camera_calibration_parsers' form, a mapping with
    ``rows``, ``cols`` (and ``data``), else an InputError naming the field and that form: its
    readCalibrationYml reads ``rows`` and ``cols`` unconditionally, so it refuses a flat list
    (``distortion_coefficients: [0, 0, 0, 0, 0]``) or a mapping without them, and a file read
    here would fail in ROS."""
    form = f"a mapping of rows, cols and data, as ROS writes it ({name}: {example})"
    if not isinstance(value, dict):
        kind = "a list" if isinstance(value, (list, tuple)) else type(value).__name__
        raise InputError(f"{path}: {name} must be {form}, got {kind} {value!r:.60}, which ROS's "
                         f"camera_calibration_parsers refuses")
    absent = [key for key in ("rows", "cols") if key not in value]
    if absent:
        raise InputError(f"{path}: {name} has no {' or '.join(absent)}, which ROS's "
                         f"camera_calibration_parsers needs: write {form}")
    return value


def _warn_unreadable_by_ros(doc: dict, path: Path) -> None:
    """One warning for ``rectification_matrix`` / ``projection_matrix`` missing (or not a
    mapping with rows and cols): this reader does not use them, but camera_calibration_parsers
    reads both unconditionally and refuses the file, so camera_info_manager would not load it.
    Warned, not refused: the camera read here does not depend on them (unlike
    ``distortion_coefficients``, whose absence would silently mean no distortion)."""
    bad = [name for name in ("rectification_matrix", "projection_matrix")
           if not (isinstance(doc.get(name), dict) and {"rows", "cols"} <= set(doc[name]))]
    if bad:
        log.warning("%s: %s missing or not a {rows, cols, data} mapping: not used here, but ROS's "
                    "camera_calibration_parsers (camera_info_manager) refuses such a file; as the "
                    "camera calibrator writes them for a monocular camera: 'rectification_matrix: "
                    "{rows: 3, cols: 3, data: [1, 0, 0, 0, 1, 0, 0, 0, 1]}', "
                    "'projection_matrix: {rows: 3, cols: 4, data: [...]}' (12 values: the "
                    "rectified camera matrix and a zero fourth column)", path, " and ".join(bad))


# The fixed-size matrices camera_calibration_parsers reads (K, R, P), as rows x cols.
_FIXED_SHAPES = {"camera_matrix": (3, 3), "rectification_matrix": (3, 3),
                 "projection_matrix": (3, 4)}


def _check_rectification_projection(doc: dict, root: Optional[yaml.Node], path: Path) -> None:
    """``rectification_matrix`` and ``projection_matrix``, not used here, checked as
    camera_calibration_parsers reads them where given as {rows, cols, data} (else
    `_warn_unreadable_by_ros` warns): 3x3 and 3x4, with that many numbers it reads, so that a
    file read here is not one camera_info_manager refuses or misreads."""
    for name in ("rectification_matrix", "projection_matrix"):
        matrix = doc.get(name)
        if isinstance(matrix, dict) and {"rows", "cols"} <= set(matrix):
            values = _yaml_numbers(_yaml_field(doc, path, name, "data"),
                                   _node(root, name, "data"), path, f"{name}.data")
            _check_stated_shape(matrix, _node(root, name), path, name, values.size)


def _check_stated_shape(matrix: object, node: Optional[yaml.Node], path: Path, name: str,
                        values: int) -> None:
    """``rows`` x ``cols`` of a camera_info YAML matrix (``node``: its YAML node) that
    contradict its data are refused: camera_calibration_parsers reads rows x cols values, this
    reader all of ``data``, so the file would describe two cameras (``cols: 4`` over 5
    coefficients). K, R and P must also say 3x3, 3x3 and 3x4 (`_FIXED_SHAPES`)."""
    if not isinstance(matrix, dict):
        return
    # read as ROS's yaml-cpp reads them (as<int>), quoted too: rows "1" x cols "4" over 5
    # values was skipped here, ROS read 4 of them; 'rows: 1.0' ROS refuses
    rows, cols = (_ros_int(matrix.get(key), _node(node, key), path, f"{name}.{key}",
                           "an integer") for key in ("rows", "cols"))
    fixed = _FIXED_SHAPES.get(name)
    if fixed and (rows, cols) != fixed:
        size = fixed[0] * fixed[1]
        raise InputError(f"{path}: {name} says rows {rows} x cols {cols}; ROS reads it as a "
                         f"{fixed[0]}x{fixed[1]} matrix (camera_calibration_parsers only asserts "
                         f"rows {fixed[0]} and cols {fixed[1]}: a debug build aborts, a release "
                         f"build reads rows x cols values into its {size}, leaving zeros or "
                         f"writing past it): write rows: {fixed[0]}, cols: {fixed[1]} and "
                         f"{size} values, row-major")
    if rows * cols != values:
        raise InputError(f"{path}: {name} says rows {rows} x cols {cols} = {rows * cols} values "
                         f"but its data holds {values}; ROS reads rows x cols of them: correct "
                         f"rows/cols or the data")


# Optional fields whose absence changes the intrinsics read (no distortion, binning or ROI).
_OPTIONAL_FIELDS = ("distortion_model", "distortion_coefficients", "binning_x", "binning_y", "roi")
_KNOWN_FIELDS = (*_OPTIONAL_FIELDS, "image_width", "image_height", "camera_name", "camera_matrix",
                 "rectification_matrix", "projection_matrix")


def _refuse_misspelled_field(doc: dict, path: Path) -> None:
    """A key one typo from an absent optional field (``distortion_coefficents``) is refused:
    read as written it would silently mean no distortion (or binning, or ROI). Other keys of
    one's own (``camera_model``, notes) are left alone, as camera_calibration_parsers does."""
    for key in (k for k in doc if k not in _KNOWN_FIELDS):
        absent = [f for f in _OPTIONAL_FIELDS if f not in doc]
        close = difflib.get_close_matches(str(key), absent, n=1, cutoff=0.8)
        if close:
            raise InputError(f"{path}: unknown field {key!r} (did you mean {close[0]!r}?); "
                             f"as written it is ignored and the camera read without it: "
                             f"rename it {close[0]!r}")


def _parse(text: str) -> Tuple[Optional[yaml.Node], object]:
    """YAML ``text`` -> (its node tree, which keeps each scalar's text as written, for reading
    it as ROS's yaml-cpp does; the document ``yaml.safe_load`` gives). Raises yaml.YAMLError."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        return root, (None if root is None else loader.construct_document(root))
    finally:
        loader.dispose()


def _yaml_error_text(err: yaml.YAMLError) -> str:
    """Where and what a YAML syntax error is, in the file's own lines: ": line 5, column 1:
    found character '\\t' that cannot start any token; YAML indents with spaces, not tabs".
    PyYAML's own text names the source "<unicode string>" (the text was read first) and
    spans several lines."""
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None)
    if mark is None or not problem:
        return ": " + " ".join(str(err).split())
    context = getattr(err, "context", None)
    hint = "; YAML indents with spaces, not tabs" if "'\\t'" in problem else ""
    return (f": line {mark.line + 1}, column {mark.column + 1}: "
            f"{context + ', ' if context else ''}{problem}{hint}")


_OPENCV_MATRIX_TAG = "tag:yaml.org,2002:opencv-matrix"  # !!opencv-matrix
_OPENCV_JSON_MATRIX = re.compile(r'"type_id"\s*:\s*"opencv-matrix"')  # JSON's
# the layout's keys that a CameraInfo message has not (binning_x, binning_y, roi and
# distortion_model are both the message's fields and this layout's)
_ROS_LAYOUT_KEYS = tuple(k for k in _KNOWN_FIELDS if k not in ("distortion_model", "binning_x",
                                                                "binning_y", "roi"))


def _has_tag(node: Optional[yaml.Node], tag: str) -> bool:
    if node is None or node.tag == tag:
        return node is not None
    if isinstance(node, yaml.MappingNode):
        return any(_has_tag(k, tag) or _has_tag(v, tag) for k, v in node.value)
    return isinstance(node, yaml.SequenceNode) and any(_has_tag(n, tag) for n in node.value)


def _file_format(text: str) -> str:
    """Which of the three accepted files ``text`` is: "opencv" (an OpenCV FileStorage YAML: a
    first line ``%YAML:1.0``, which no YAML parser but OpenCV's takes, or ``!!opencv-matrix``
    tags, which ``yaml.safe_load`` refuses; its XML, or JSON with ``"type_id": "opencv-matrix"``,
    the same for ``cv2.FileStorage``), "echo" (``ros2 topic echo`` of a CameraInfo: a
    mapping with the message's ``k`` or ``width`` and ``height`` and none of the
    camera_calibration_parsers layout's keys, which no message has) or "ros" (everything else,
    read as before: camera_calibration_parsers' layout, with its errors). Each file the ROS
    reader accepts is "ros": it has ``image_width`` and ``camera_matrix`` and one YAML
    document that PyYAML constructs."""
    head = text.lstrip("\ufeff").lstrip()
    if head.startswith("%YAML:") or head.startswith(("<?xml", "<opencv_storage")) or (
            head.startswith("{") and _OPENCV_JSON_MATRIX.search(text)):  # its XML and JSON too
        return "opencv"
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError:
        return "ros"  # which says where the YAML is broken
    if any(_has_tag(node, _OPENCV_MATRIX_TAG) for node in nodes):
        return "opencv"
    for node in nodes:
        keys = ([k.value for k, _ in node.value if isinstance(k, yaml.ScalarNode)]
                if isinstance(node, yaml.MappingNode) else [])
        if looks_like_echoed_camera_info(keys) and not set(keys) & set(_ROS_LAYOUT_KEYS):
            return "echo"
    return "ros"


# the files `load_camera_info_yaml` reads, for messages that ask for one (a TUM folder's
# camera.yaml, --camera-info)
CALIBRATION_FILES = ("a camera calibration YAML (camera_calibration_parsers' layout: image_width, "
                     "camera_matrix, ...; a CameraInfo saved with 'ros2 topic echo --once' or "
                     "ROS 1's 'rostopic echo -n 1'; an OpenCV FileStorage calibration or ORB-SLAM "
                     "settings file; a Kalibr camchain.yaml of one pinhole camera; or an "
                     "EuRoC/ASL camera sensor.yaml)")


def load_camera_info_yaml(path: Union[str, Path], rectified: bool = False) -> CameraIntrinsics:
    """Read a camera calibration file -> ``CameraIntrinsics``: a ROS camera_info YAML
    (camera_calibration_parsers layout, below), a CameraInfo message saved with ``ros2 topic
    echo`` (the notices it prints before the message skipped: `skip_echo_notices`) or ROS 1's
    ``rostopic echo`` (`camera_info_echo.load_echoed_camera_info`) or an OpenCV FileStorage YAML
    (`camera_info_opencv.load_opencv_calibration`), told apart by `_file_format`, or a Kalibr
    camera chain of one pinhole camera (`camera_info_kalibr.load_kalibr_camchain`, told by its
    ``cam0`` keys); the three others are each logged once (info) as read so. ``rectified``
    (image_rectified, a bag's rectified stream): a camera_matrix (K) all zero beside a
    projection_matrix (P) set, a rectified stream's model alone, is read through P with no
    distortion, as the CameraInfo message is, where it is otherwise refused; any other file is
    read as written.

    A ROS camera_info YAML (camera_calibration_parsers layout):

    Needs ``image_width``, ``image_height``, ``camera_matrix.data`` and, as
    camera_calibration_parsers does, ``distortion_coefficients`` (``{rows: 1, cols: 0, data:
    []}`` or zeros say "no distortion"); ``distortion_model`` defaults to plumb_bob (as there).
    The sizes, ``rows``, ``cols`` and the matrices' numbers are read from their text as that
    parser's yaml-cpp reads them (``"32"`` is 32, ``015`` the double 15, ``24.0`` no integer).
    The standard file has no binning or ROI (camera_calibration_parsers writes and reads only
    the calibration); for a camera streaming binned or cropped images, the optional keys
    ``binning_x``, ``binning_y`` and ``roi`` (a mapping of x_offset, y_offset, width, height) are
    applied as ``intrinsics_from_camera_info`` applies them to a CameraInfo message. A principal
    point far outside the image is warned about (`warn_far_principal_point`), not refused; so
    is a missing ``rectification_matrix`` or ``projection_matrix`` (`_warn_unreadable_by_ros`:
    not used here, needed by ROS's reader).

    Raises:
        InputError: naming ``path`` (and the field): a file that cannot be read, is not text,
            not valid YAML, empty or not a mapping; a ROS parameter file (``ros__parameters``)
            given instead, or a map's (or export's) ``manifest.json``; a missing
            ``image_width``, ``image_height``, ``camera_matrix.data`` or
            ``distortion_coefficients`` (or one left empty); a field
            of the wrong type; a number that ROS's yaml-cpp does not read as one
            (``image_height: 24.0``, ``rows: 3.0``, ``1_000``: `_ros_int`, `_yaml_numbers`); a
            misspelled optional field (``distortion_coefficents``: `_refuse_misspelled_field`);
            a key given twice in one mapping (`_refuse_repeated_keys`: ROS reads the first);
            a null, list or mapping ``camera_name`` (`_check_camera_name`);
            ``camera_matrix`` or ``distortion_coefficients`` not a mapping with rows and cols
            (a flat list: `_yaml_matrix`);
            ``rows`` x ``cols`` that contradict a matrix's data, or a camera_matrix,
            rectification_matrix or projection_matrix not 3x3, 3x3, 3x4
            (`_check_stated_shape`, `_check_rectification_projection`); anything
            `intrinsics_from_camera_info` refuses.
    """
    path = Path(path)
    from ..fileio import refuse_device

    refuse_device(str(path), "camera_info YAML")  # /dev/zero: read whole, without end
    try:
        data = path.read_bytes()
        text = decode_text(data)  # UTF-8, or UTF-16/32 after their byte-order mark
    except IsADirectoryError:  # said "cannot read camera_info YAML X: Is a directory"
        inside = path / "camera.yaml"  # a TUM folder's calibration
        hint = f" ({inside})" if inside.is_file() else ""
        raise InputError(f"camera_info YAML {path} is a folder: give the calibration file "
                         f"itself{hint}") from None
    except OSError as err:
        raise InputError(f"cannot read camera_info YAML {path}: {err.strerror}") from err
    except UnicodeDecodeError as err:
        fix = not_text_fix(data, "give a camera_calibration YAML, saved as UTF-8")
        raise InputError(f"camera_info YAML {path} is not {not_text(data, err)}; {fix}"
                         ) from None
    text = skip_echo_notices(path, text)  # what ros2 topic echo prints before a message
    kind = _file_format(text)
    if kind == "opencv":
        # imported here: it imports OpenCV, which `mast3r-ros --help` must not load
        from .camera_info_opencv import load_opencv_calibration

        return load_opencv_calibration(path, text)
    if kind == "echo":
        return load_echoed_camera_info(path, text, rectified)
    return _load_ros_layout(path, text, rectified)


def _load_kalibr(path: Path, doc: dict) -> CameraIntrinsics:
    """A Kalibr camchain.yaml or an ASL (EuRoC) sensor.yaml, logged once as read so
    (`camera_info_kalibr`)."""
    from .camera_info_kalibr import load_asl_sensor, load_kalibr_camchain

    if looks_like_asl_sensor(doc):
        cam = load_asl_sensor(path, doc)
        log.info("%s: read as an EuRoC/ASL sensor.yaml (pinhole, K from intrinsics; T_BS, the "
                 "camera in the body frame, is no part of the calibration)", path)
        return cam
    cam = load_kalibr_camchain(path, doc)
    log.info("%s: read as a Kalibr camera chain (pinhole, K from intrinsics)", path)
    return cam


def _load_ros_layout(path: Path, text: str, rectified: bool) -> CameraIntrinsics:
    """`load_camera_info_yaml` of a camera_calibration_parsers layout file's ``text``."""
    try:
        root, doc = _parse(text)
    except yaml.YAMLError as err:
        raise InputError(f"{path} is not valid YAML{_yaml_error_text(err)}") from err
    if doc is None:  # nothing but white space or comments
        raise InputError(f"camera_info YAML {path} is empty: give a camera_calibration YAML "
                         "(image_width, image_height, camera_matrix)")
    if not isinstance(doc, dict):
        raise InputError(not_a_mapping(path, text, doc))
    if looks_like_kalibr_camchain(doc) or looks_like_asl_sensor(doc):  # cam0: {...} / EuRoC
        return _load_kalibr(path, doc)
    refuse_unmarked_asl_sensor(doc, path)
    params = [k for k, v in doc.items() if (isinstance(v, dict) and "ros__parameters" in v)
              or str(k).rsplit("/", 1)[-1] == "mast3r_localizer"]
    if params:  # config/localize.yaml given where the camera calibration goes
        raise InputError(f"{path} is a ROS parameter file (key {params[0]!r}), not a camera_info "
                         "YAML: pass it with --params; --camera-info takes a camera_calibration "
                         "YAML (image_width, image_height, camera_matrix)")
    fmt = doc.get("format")
    if isinstance(fmt, str) and fmt.startswith("mast3r_ros"):  # JSON is YAML: read, then no field
        what = "a keyframe map's" if fmt.endswith("keyframe_map") else "an export's"
        raise InputError(f"{path} is {what} manifest (format {fmt!r}), not a camera_info YAML: "
                         "a map folder goes in --map; --camera-info takes a camera_calibration "
                         "YAML (image_width, image_height, camera_matrix)")
    _refuse_repeated_keys(root, path)
    _refuse_misspelled_field(doc, path)
    _check_camera_name(root, path)
    pixels = "an integer number of pixels"
    width, height = (_ros_int(_yaml_field(doc, path, name), _node(root, name), path, name,
                              pixels, unsigned=True) for name in ("image_width", "image_height"))
    if "camera_matrix" in doc:
        _yaml_matrix(doc["camera_matrix"], path, "camera_matrix",
                     "{rows: 3, cols: 3, data: [fx, 0, cx, 0, fy, cy, 0, 0, 1]}")
    k = _yaml_numbers(_yaml_field(doc, path, "camera_matrix", "data"),
                      _node(root, "camera_matrix", "data"), path, "camera_matrix.data")
    _check_stated_shape(doc["camera_matrix"], _node(root, "camera_matrix"), path,
                        "camera_matrix", k.size)
    _check_rectification_projection(doc, root, path)
    model = doc.get("distortion_model", "plumb_bob")
    if model is None:  # 'distortion_model:' with nothing after it; was "unsupported ... 'None'"
        raise InputError(f"{path}: distortion_model is empty (YAML null: nothing after "
                         "'distortion_model:'): write plumb_bob, rational_polynomial or "
                         "equidistant, or remove the line (plumb_bob is assumed, as in ROS)")
    no_distortion = ("for an undistorted camera write 'distortion_coefficients: {rows: 1, "
                     "cols: 5, data: [0, 0, 0, 0, 0]}' (plumb_bob), or rows: 1, cols: 0, data: []")
    if "distortion_coefficients" not in doc:  # camera_calibration_parsers refuses it too
        raise InputError(f"{path}: missing field 'distortion_coefficients' (read as no distortion, "
                         f"a distorted lens would go unnoticed): {no_distortion}")
    if doc["distortion_coefficients"] is None:  # 'distortion_coefficients:' with nothing after it
        raise InputError(f"{path}: distortion_coefficients is empty (YAML null: nothing after "
                         f"'distortion_coefficients:'), which ROS refuses too: {no_distortion}")
    coefficients = _yaml_matrix(doc["distortion_coefficients"], path, "distortion_coefficients",
                                "{rows: 1, cols: 5, data: [k1, k2, p1, p2, k3]}")
    d_node = _node(root, "distortion_coefficients")
    d = (_yaml_numbers(coefficients["data"], _node(d_node, "data"), path,
                       "distortion_coefficients.data")
         if coefficients.get("data") is not None else np.zeros(0))
    _check_stated_shape(coefficients, d_node, path, "distortion_coefficients", d.size)
    binning = [_yaml_binning(doc, path, name) for name in ("binning_x", "binning_y")]
    roi = doc.get("roi")
    if isinstance(roi, dict):
        roi = {name: _yaml_int(roi.get(name, 0), path, f"roi.{name}", pixels)
               for name in ("x_offset", "y_offset", "width", "height")}
    p = _refuse_projection_without_k(doc, k, path, rectified)
    try:
        cam = (intrinsics_from_camera_info(
            width, height, k, d, str(model), binning_x=binning[0], binning_y=binning[1], roi=roi,
        ) if p is None else rectified_intrinsics_from_camera_info(
            width, height, p, (doc.get("rectification_matrix") or {}).get("data"),
            binning_x=binning[0], binning_y=binning[1], roi=roi))
    except (InputError, TypeError, ValueError) as err:
        raise InputError(f"{path}: {err}") from err
    k = k if p is None else np.asarray(p, dtype=np.float64)[[0, 1, 2, 4, 5, 6]]
    warn_far_principal_point(float(k[2]), float(k[5]), width, height, f"camera_info YAML {path}")
    _warn_unreadable_by_ros(doc, path)
    return cam


def _refuse_projection_without_k(doc: dict, k: np.ndarray, path: str,
                                 rectified: bool) -> Optional[list]:
    """InputError for a camera_matrix all zero beside a projection_matrix with a focal length
    (`projection_without_k`): was "the camera is uncalibrated; ... pass intrinsics from a
    camera_info YAML", of a camera_info YAML. An unreadable projection_matrix is no such.
    With ``rectified`` (image_rectified: a rectified stream), that projection_matrix's data is
    returned instead, read as a CameraInfo message's P is (P's 3x3, no distortion); else None."""
    proj = doc.get("projection_matrix")
    focal = projection_without_k(k, proj.get("data") if isinstance(proj, dict) else None)
    if focal and rectified:
        return list(proj["data"])
    if focal:
        raise InputError(f"{path}: camera_matrix is all zeros but projection_matrix is set "
                         f"({focal}): {P_WITHOUT_K_IN_A_FILE}")
