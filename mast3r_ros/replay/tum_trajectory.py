"""TUM trajectory files (``timestamp tx ty tz qx qy qz qw``) and the rows of a TUM folder's
lists: stamps in seconds or integer nanoseconds, comments, repeated lines, atomic writing.

The file rules (UTF-8, or UTF-16/32 after their byte-order mark, any line ends, comments, the
one time unit of a file) are those of `mast3r_ros.replay.tum`'s module docstring, which
re-exports this module's public names; apart from it to keep that module within its size.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import decimal
import logging
import os
import re
import shlex
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from ..core.durable import fsync_dir, mkstemp_public
from ..core.errors import InputError
from ..core.text_files import decode_text, image_kind, not_text, not_text_fix
from ..core.trajectory import check_stamped_poses, overlapping_reset
from .misfiled_trajectory import clip, misfiled
from .shared_stamps import SharedPoses, poses_sharing_a_stamp

log = logging.getLogger(__name__)

TRAJECTORY_LAYOUT = "timestamp tx ty tz qx qy qz qw"
_TRAJECTORY_HEADER = f"# {TRAJECTORY_LAYOUT}\n"

PathLike = str | os.PathLike

_NS_INTEGER_THRESHOLD = 10**12  # an integer stamp above this is nanoseconds (see module doc)
_INT64_MAX = 2**63 - 1


def _parse_stamp(token: str) -> Tuple[int, str]:
    """A TUM stamp token -> (integer nanoseconds, unit 's' or 'ns'), exactly (no float rounding).

    Integers greater than 1e12 are nanoseconds; anything else is seconds. Raises ValueError with
    the reason for a non-number, a non-finite value or a stamp outside the int64 nanosecond range.
    """
    plain = token.lstrip("+-")
    if plain.isdigit() and int(plain) > _NS_INTEGER_THRESHOLD:
        stamp_ns, unit = int(token), "ns"
    else:
        try:
            value = decimal.Decimal(token)
        except decimal.InvalidOperation:
            raise ValueError(f"timestamp {clip(token)} is not a number") from None
        if not value.is_finite():
            raise ValueError(f"timestamp {clip(token)} is not finite")
        scaled = value.scaleb(9)
        if abs(scaled) > _INT64_MAX and plain.isdigit():  # 9.2e9 .. 1e12: seconds by the rule
            raise ValueError(
                f"timestamp {clip(token)} is out of range as seconds (more than 292 years from the "
                "epoch); integers are read as nanoseconds only above 1e12 (17 minutes after the "
                f"epoch): write nanoseconds below that in seconds ({_format_stamp(int(token))})"
            )
        if abs(scaled) > _INT64_MAX:
            raise ValueError(
                f"timestamp {clip(token)} s is out of range (more than 292 years from the epoch); "
                "nanosecond stamps must be written as integers"
            )
        stamp_ns = int(scaled.to_integral_value(rounding=decimal.ROUND_HALF_EVEN))
        unit = "s"
    if abs(stamp_ns) > _INT64_MAX:
        raise ValueError(f"timestamp {clip(token)} ns is out of range (more than 292 years)")
    return stamp_ns, unit


def _parse_stamp_ns(token: str) -> int:
    """A TUM stamp token -> integer nanoseconds (see ``_parse_stamp``)."""
    return _parse_stamp(token)[0]


def _strip_comment(line: str) -> str:
    """The line without its comment: from a '#' at the start or after white space."""
    for index, char in enumerate(line):
        if char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index]
    return line


_COLUMN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\[[A-Za-z]+\])?\Z")


def _is_column_header(fields: List[str], columns: int) -> bool:
    """Whether a file's first data line is a header of column names without its '#' (a
    table written by pandas, a spreadsheet or a script: 'timestamp tx ty tz qx qy qz qw',
    'timestamp filename'): as many fields as the layout, each a name ('timestamp', 't[s]'),
    none a number ('nan', 'inf') or a file name."""
    return len(fields) == columns and all(_COLUMN_NAME.match(f) and not _is_float(f)
                                          for f in fields)


# a quaternion component's column name in a header ('qw', 'q_RS_w', 'quat.x',
# 'field.pose.orientation.z'), lower case; the group is the component
_QUATERNION_COLUMN = re.compile(
    r"(?:^|[_.])(?:q|quat|quaternion|orientation|rotation|rot)(?:[_.][a-z0-9]+)*?[_.]?([wxyz])\Z")
_KITTI_HINT = (": a KITTI pose file (a 3x4 matrix per line, no timestamp)? write each pose "
               "as 'timestamp tx ty tz qx qy qz qw' with its time from the sequence's times.txt, "
               "or leave it out: a KITTI sequence folder given as SOURCE reads its poses/NN.txt "
               "(camera 0's, moved to the camera read)")
_EUROC_COLUMNS = ("p_rs_r_x", "q_rs_w")  # EuRoC's state ground truth (the body's pose)


def _header_order_problem(header: List[Tuple[int, str]], layout: str) -> str:
    """Why the header lines (line number, text) before a trajectory's first pose say that its
    columns are not TUM's, '' when they do not: an EuRoC ground-truth CSV, or a header that
    names the quaternion components in another order than x y z w (exporters that write
    'qw qx qy qz': read as x y z w, every rotation would be wrong without a word, both orders
    being unit quaternions)."""
    for lineno, text in header:
        names = [t.lower() for t in re.split(r"[\s,;#]+", text) if t and not t.startswith("[")]
        if any(n in _EUROC_COLUMNS for n in names):
            return (f"{lineno}: an EuRoC ground-truth CSV (timestamp [ns], p_RS_R x y z, q_RS "
                    f"w x y z, ...: the body's pose, quaternion w first), not a TUM trajectory "
                    f"'{layout}': convert it to TUM with the quaternion's w last (e.g. 'evo_traj "
                    "euroc FILE --save_as_tum') and the body-to-camera transform applied, or "
                    "leave it out: the dataset folder given as SOURCE gives its frames the "
                    "camera's poses from it")
        order = "".join(m.group(1) for m in map(_QUATERNION_COLUMN.search, names) if m)
        if len(order) == 4 and sorted(order) == list("wxyz") and order != "xyzw":
            return (f"{lineno}: its header {clip(text.strip())} names the quaternion components in "
                    f"the order {' '.join(order)}, but a TUM trajectory is '{layout}' (w last): "
                    "reorder the columns to qx qy qz qw, or correct the header if it is wrong")
    return ""


ASSOCIATE_LAYOUT = "rgb_timestamp rgb_file depth_timestamp depth_file"


def is_associate_pair(fields: List[str]) -> bool:
    """Whether a line's whitespace-separated ``fields`` are one of the pairs TUM's
    ``associate.py`` writes (`ASSOCIATE_LAYOUT`; ORB-SLAM's associations.txt)."""
    return (len(fields) == 4 and _is_float(fields[0]) and _is_float(fields[2])
            and not _is_float(fields[1]) and not _is_float(fields[3]))


def associate_pairs_fix(path: Path) -> str:
    """What a file ``path`` of associate.py pairs is and the shell commands that split it into
    the TUM folder's rgb.txt and depth.txt beside it (paths quoted; a pairs file named rgb.txt
    or depth.txt is moved away first, so that its split does not truncate it)."""
    path = Path(path)
    folder = path.parent
    pairs = folder / "rgb_depth_pairs.txt" if path.name in ("rgb.txt", "depth.txt") else path
    q = lambda p: shlex.quote(str(p))  # noqa: E731
    move = f"mv {q(path)} {q(pairs)}; " if pairs != path else ""
    return (f"colour and depth pairs '{ASSOCIATE_LAYOUT}' as TUM's associate.py writes them "
            "(ORB-SLAM's associations.txt), but a TUM folder lists them apart, in rgb.txt and "
            f"depth.txt ('timestamp filename' each); split them: {move}"
            f"awk '!/^#/ {{print $1, $2}}' {q(pairs)} > {q(folder / 'rgb.txt')}; "
            f"awk '!/^#/ {{print $3, $4}}' {q(pairs)} > {q(folder / 'depth.txt')}")


def _is_image_list(fields: List[str]) -> bool:
    """Whether a line's ``fields`` are ``timestamp path`` (rgb.txt, depth.txt), or two such
    pairs (associate.py's): an image list given where a trajectory goes."""
    return len(fields) in (2, 4) and all(
        _is_float(f) != bool(i % 2) for i, f in enumerate(fields))


def _is_float(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


# lines going back onto earlier stamps named one by one (`repeated_stamp_note`); more are a
# clock reset's second recording or a file out of order
MAX_REPEATED_OUT_OF_ORDER = 3


def _format_stamp(stamp_ns: int) -> str:
    sign = "-" if stamp_ns < 0 else ""
    seconds, nanoseconds = divmod(abs(int(stamp_ns)), 1_000_000_000)
    return f"{sign}{seconds}.{nanoseconds:09d}"


def _drop_repeated_lines(path: Path, stamps_ns: np.ndarray, rows: List[List[str]]
                         ) -> Tuple[np.ndarray, List[List[str]]]:
    """The rows without those that repeat an earlier row's stamp and file name (a line pasted
    twice: the same frame would be read twice), with a warning naming the first; images that
    only share a stamp are kept."""
    seen: set = set()
    keep = []
    for stamp, row in zip(stamps_ns.tolist(), rows):
        key = (stamp, row[0])
        keep.append(key not in seen)
        seen.add(key)
    dropped = len(rows) - sum(keep)
    if dropped:
        first = next(i for i, k in enumerate(keep) if not k)
        log.warning("%s: %d line(s) repeat an earlier line's timestamp and file (first: '%s %s'); "
                    "each image is read once", path, dropped, _format_stamp(stamps_ns[first]),
                    rows[first][0])
        stamps_ns = stamps_ns[np.asarray(keep)]
        rows = [r for r, k in zip(rows, keep) if k]
    _warn_shared(path, [(int(t), r[0]) for t, r in zip(stamps_ns.tolist(), rows)])
    return stamps_ns, rows


def repeated_stamp_note(stamps_ns: np.ndarray, rows: List[List[str]], linenos: List[int]
                        ) -> Optional[str]:
    """When every line that goes back in time (below a stamp listed before it) repeats an
    earlier line's stamp, and there are at most `MAX_REPEATED_OUT_OF_ORDER` of them: '; 1 of 30
    repeat an earlier image's stamp (line 31 at t=0.600000 s, as line 4: rgb/x.png and
    rgb/y.png): two images at one stamp, ...' -- a list edited or merged wrongly, not a clock
    reset (whose second recording goes back many lines; a simulator's may repeat the first's
    stamps), said as a rosbag's repeated stamps are. None otherwise. ``stamps_ns`` (int64, ns),
    ``rows`` (file name first) and ``linenos`` (1-based) in file order."""
    top = None
    first: dict = {}
    odd = []
    for i, stamp in enumerate(stamps_ns.tolist()):
        if top is not None and stamp < top:
            if stamp not in first:
                return None  # a step back to a new stamp: out of order, or a clock reset
            odd.append((i, first[stamp]))
        first.setdefault(stamp, i)
        top = stamp if top is None else max(top, stamp)
    if not odd or len(odd) > MAX_REPEATED_OUT_OF_ORDER:
        return None
    named = ", ".join(f"line {linenos[i]} at t={stamps_ns[i] * 1e-9:.6f} s, as line "
                      f"{linenos[j]}: {rows[j][0]} and {rows[i][0]}" for i, j in odd)
    return (f"; {len(odd)} of {len(rows)} repeat an earlier image's stamp ({named}): two "
            "images at one stamp listed out of order, not a clock reset; each is localized as "
            "a frame of its own at that stamp -- fix the line's stamp (or remove it)")


def _warn_shared(path: Path, lines: List[Tuple[int, str]]) -> None:
    """A warning for an image listed at two timestamps (the same picture localized twice):
    rgb.txt was edited or generated wrongly. Two images at one timestamp are the reader's to
    say, with their line numbers (`shared_stamps.SharedStamps`: their ground truth is left
    out)."""
    first: dict = {}
    shared = []
    for stamp, name in lines:
        seen = first.setdefault(name, (stamp, name))
        if seen[0] != stamp:
            shared.append((seen, (stamp, name)))
    if shared:
        (t1, f1), (t2, f2) = shared[0]
        log.warning("%s: %d image(s) are listed at two or more timestamps (first: '%s %s' and "
                    "'%s %s'); each line is localized and scored on its own: check the file",
                    path, len({a[1] for a, _ in shared}), _format_stamp(t1), f1,
                    _format_stamp(t2), f2)


def folder_instead_of_file(path: Path, layout: str = TRAJECTORY_LAYOUT) -> str:
    """The refusal of a folder ``path`` given where a text file of ``layout`` goes; for a
    trajectory it names the folder's own groundtruth.txt, or its parent's, where one exists."""
    path = Path(path)
    example = ""
    if layout == TRAJECTORY_LAYOUT:
        near = [p / "groundtruth.txt" for p in (path, path.parent)]
        found = [str(p) for p in near if p.is_file()]
        example = f" (e.g. {found[0]})" if found else " (e.g. a TUM folder's groundtruth.txt)"
    return f"{path} is a folder, not a text file of '{layout}': give the file itself{example}"


# keys only a camera calibration has (ROS CameraInfo YAML and its message echo, OpenCV and
# ORB-SLAM settings, EuRoC sensor.yaml, Kalibr camchain), at a line's start
_CALIBRATION_KEY = re.compile(
    r"^\s*(camera_matrix|distortion_model|distortion_coefficients|projection_matrix|image_width|"
    r"camera_model|intrinsics|distortion_coeffs|Camera1?\.fx|K|k)\s*:", re.MULTILINE)


def _calibration_key(text: str) -> str:
    """The first camera-calibration key in ``text`` (a calibration YAML given where a
    trajectory goes), else ''."""
    m = _CALIBRATION_KEY.search(text)
    return m.group(1) if m else ""


def _read_numbered_rows(
    path: Path, columns: int, layout: str, option: str = ""
) -> Tuple[np.ndarray, List[List[str]], List[int], str]:
    """``_read_rows`` plus the 1-based line number of each row and the file's stamp unit ('s',
    'ns': integers above 1e12; '' for no row). ``option``: the one the file was given with
    ('--groundtruth'), named in a refusal's advice."""
    if path.is_dir():  # a TUM folder given where its file goes (--groundtruth, --trajectory)
        raise InputError(folder_instead_of_file(path, layout))
    try:
        data = path.read_bytes()
        text = decode_text(data)  # UTF-8, or UTF-16/32 after their byte-order mark
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror}") from err
    except UnicodeDecodeError as err:
        fix = not_text_fix(data, "save it as UTF-8")
        if image_kind(data[:12]) and layout == TRAJECTORY_LAYOUT:  # no re-saving mends it
            fix = (f"an image is not a trajectory: {option + ' takes' if option else 'give'} a "
                   f"TUM trajectory file, one '{layout}' line per pose")
        raise InputError(f"{path} is not {not_text(data, err)}; {fix}") from None
    stamps: List[int] = []
    rows: List[List[str]] = []
    linenos: List[int] = []
    file_unit = ""
    header_possible = True
    header: List[Tuple[int, str]] = []  # the lines before the first row, comments included
    for lineno, raw_line in enumerate(text.splitlines(), start=1):
        line = _strip_comment(raw_line.replace("\ufeff", "")).strip()
        if not rows:
            header.append((lineno, raw_line.replace("\ufeff", "")))
        if not line:
            continue
        fields = line.split()
        first, header_possible = header_possible, False  # only the first data line may be
        if first and _is_column_header(fields, columns):
            log.info("%s:%d: '%s' read as a column header (a TUM file marks it with '#')", path,
                     lineno, line)
            continue
        problem = _header_order_problem(header, layout) if (
            not rows and layout == TRAJECTORY_LAYOUT) else ""
        if problem:
            raise InputError(f"{path}:{problem}")
        try:
            if len(fields) != columns:
                n = len(fields)
                raise ValueError(f"{n} column{'' if n == 1 else 's'}" + (
                    ": the values are separated by commas; TUM files separate them by "
                    "whitespace (spaces or tabs)" if "," in line else _KITTI_HINT if (
                        n == 12 and layout == TRAJECTORY_LAYOUT) else ""))
            stamp, unit = _parse_stamp(fields[0])
        except (ValueError, ArithmeticError) as err:
            key = _calibration_key(text) if not rows and layout == TRAJECTORY_LAYOUT else ""
            if key:
                raise InputError(
                    f"{path}:{lineno}: a camera calibration (its {key!r} key: a camera.yaml, "
                    "sensor.yaml or CameraInfo YAML), not a trajectory; "
                    f"{option + ' takes' if option else 'give'} a TUM trajectory file, one "
                    f"'{layout}' line per pose "
                    "(map_from_cam, metres); a calibration goes to --camera-info") from None
            why = misfiled(text, option) if not rows and layout == TRAJECTORY_LAYOUT else ""
            if why:
                raise InputError(f"{path}:{lineno}: {why}") from None
            pairs = columns == 2 and is_associate_pair(fields)
            if layout == TRAJECTORY_LAYOUT and _is_image_list(fields):
                raise InputError(
                    f"{path}:{lineno}: this is an image list ('timestamp path', as a TUM "
                    f"folder's rgb.txt or depth.txt; got {clip(line)}), not a trajectory "
                    f"('{layout}'): pass the sequence's groundtruth.txt"
                    + (f", or leave {option} out: a TUM folder given as SOURCE reads its "
                       "groundtruth.txt" if option else "")) from None
            raise InputError(
                f"{path}:{lineno}: expected '{layout}', got {clip(line)} ({err})"
                + (f": {associate_pairs_fix(path)}" if pairs else "")
            ) from None
        file_unit = file_unit or unit
        if unit != file_unit:
            first = "nanoseconds" if file_unit == "ns" else "seconds"
            raise InputError(
                f"{path}:{lineno}: timestamp {clip(fields[0])} is in "
                f"{'nanoseconds' if unit == 'ns' else 'seconds'} but the file's first stamp is in "
                f"{first}; use one unit throughout"
            )
        stamps.append(stamp)
        rows.append(fields[1:])
        linenos.append(lineno)
    if file_unit == "ns":
        log.info("%s: integer stamps > 1e12 read as nanoseconds", path)
    return np.asarray(stamps, dtype=np.int64).reshape(-1), rows, linenos, file_unit


def _read_rows(path: Path, columns: int, layout: str) -> Tuple[np.ndarray, List[List[str]]]:
    """Data lines of a whitespace-separated file -> (stamps_ns int64, other columns).

    UTF-8 with or without a BOM, any line ends, comments anywhere (see the module docstring);
    stamps in seconds, or integer nanoseconds when > 1e12. Raises InputError with ``path:line``
    and the reason for an unreadable file, a wrong column count or a bad stamp.
    """
    stamps, rows, _, _ = _read_numbered_rows(path, columns, layout)
    return stamps, rows


def read_tum_trajectory(path: PathLike) -> Tuple[np.ndarray, np.ndarray]:
    """`read_tum_trajectory_and_unit` without the unit."""
    stamps, poses, _ = read_tum_trajectory_and_unit(path)
    return stamps, poses


_POSE_COLUMNS = ("tx", "ty", "tz", "qx", "qy", "qz", "qw")


def read_tum_trajectory_and_unit(path: PathLike, option: str = ""
                                 ) -> Tuple[np.ndarray, np.ndarray, str]:
    """`read_tum_trajectory_shared` without its `SharedPoses` (not warned about: a reader that
    scores or places frames by the poses takes them, `shared_stamps`)."""
    stamps, poses, unit, _ = read_tum_trajectory_shared(path, option)
    return stamps, poses, unit


def read_tum_trajectory_shared(path: PathLike, option: str = ""
                               ) -> Tuple[np.ndarray, np.ndarray, str, SharedPoses]:
    """Read and fully validate a TUM trajectory -> (stamps_ns int64 (N,), poses float64
    (N, 4, 4), the unit its stamps were written in: 's', 'ns' for integers above 1e12, '' when
    it has no pose; its `shared_stamps.SharedPoses`, the stamps it gives two different poses,
    not warned about: the caller says what it does with them).

    Each line is ``timestamp tx ty tz qx qy qz qw`` (metres, unit quaternion x y z w); the pose
    is ``map_from_cam`` for ground truth and estimates alike. Stamps are seconds, or integer
    nanoseconds when > 1e12 (see the module docstring). Every line is checked before anything is
    returned, so a caller (e.g. ``localize --groundtruth``) can read the file before it starts work.
    ``option``: the one the file was given with ('--groundtruth'), named in a refusal.

    Raises:
        InputError: ``path:line`` and the reason for the first bad line (column count, stamp out
            of range or in mixed units, a non-numeric or non-finite value, a quaternion whose
            norm is not 1 within 1e-2), or an unreadable / non-UTF-8 file.
    """
    path = Path(path)
    layout = TRAJECTORY_LAYOUT
    stamps, rows, linenos, unit = _read_numbered_rows(path, 8, layout, option)
    poses = np.tile(np.eye(4), (len(rows), 1, 1))
    if not rows:
        return stamps, poses, unit, poses_sharing_a_stamp(path, stamps, np.zeros((0, 7)), [])
    values = np.empty((len(rows), 7))
    for i, (row, lineno) in enumerate(zip(rows, linenos)):
        try:
            values[i] = [float(v) for v in row]
        except ValueError as err:
            token = next((v for v in row if not _is_float(v)), str(err))
            raise InputError(f"{path}:{lineno}: expected '{layout}', non-numeric value "
                             f"{clip(token)}") from None
    norms = np.linalg.norm(values[:, 3:], axis=1)
    bad = np.flatnonzero(~np.isfinite(values).all(axis=1) | (np.abs(norms - 1.0) > 1e-2))
    if bad.size:
        i = bad[0]
        where = f"{path}:{linenos[i]}: pose {i + 1} (timestamp {_format_stamp(stamps[i])})"
        nonfinite = np.flatnonzero(~np.isfinite(values[i]))
        if nonfinite.size:  # name the column: its quaternion's norm is no clue then
            col = nonfinite[0]
            raise InputError(f"{where} has a non-finite {_POSE_COLUMNS[col]} "
                             f"({rows[i][col]}); every value must be a finite number")
        raise InputError(f"{where} has a quaternion of norm {norms[i]:.6f} "
                         "instead of 1 (qx qy qz qw)" + (
                             ": all zero, no rotation at all (a pose never filled in?)"
                             if norms[i] == 0 else
                             ": write unit quaternions (each divided by its norm), or check "
                             "the columns (a missing or extra one shifts the quaternion)"))
    poses[:, :3, :3] = Rotation.from_quat(values[:, 3:]).as_matrix()
    poses[:, :3, 3] = values[:, :3]
    _warn_identity_written_w_first(path, values[0], linenos[0])
    return stamps, poses, unit, poses_sharing_a_stamp(path, stamps, values, linenos)


def _warn_identity_written_w_first(path: Path, first: np.ndarray, lineno: int) -> None:
    """A warning when the first pose (``first``: tx ty tz qx qy qz qw as read) is exactly the
    origin turned 180 degrees about x (qx qy qz qw = +-1 0 0 0): the identity, where a trajectory
    relative to its first camera starts (SLAM output), written w first ('qw qx qy qz', Eigen's
    w() printed first), which is read as x y z w without a word (both are unit quaternions).
    Not refused: a camera converted from OpenGL's axes to OpenCV's starts at that turn too.
    Only the first pose: a quaternion alone cannot tell the orders apart elsewhere (reordering
    keeps the angle between any two, so a path stays as smooth); the images can, and do:
    build-map's map check (`map_check.diagnose`, 'quaternion_wxyz') and localize's
    `metrics.quaternion_order` against the localized poses."""
    q = first[3:]
    if np.any(first[:3] != 0) or abs(abs(q[0]) - 1) > 1e-6 or np.any(np.abs(q[1:]) > 1e-6):
        return
    log.warning("%s:%d: the first pose is the origin turned exactly 180 degrees about x (qx qy "
                "qz qw = %s 0 0 0): the identity pose as it reads when its quaternion is "
                "written w first (qw qx qy qz = 1 0 0 0: a trajectory starting at its first "
                "camera). If the file is 'timestamp tx ty tz qw qx qy qz', move qw to the last "
                "column ('%s', e.g. awk '{print $1,$2,$3,$4,$6,$7,$8,$5}'); every rotation is "
                "wrong otherwise. If the turn is meant (OpenGL camera axes converted to "
                "OpenCV's), ignore this", path, lineno, "1" if q[0] > 0 else "-1",
                TRAJECTORY_LAYOUT)


def write_tum_trajectory(path: PathLike, stamps_ns: np.ndarray, poses: np.ndarray) -> None:
    """Write (N,) integer-nanosecond stamps and (N, 4, 4) poses as a TUM trajectory, atomically.

    The poses are written as given; this package passes ``map_from_cam`` (the camera pose in
    the map frame, TUM's convention). Timestamps are written in seconds with 9 decimals;
    quaternions as x y z w with w >= 0. The file is written to a temporary file in the same
    folder and renamed over ``path``. Raises `InputError` unless the stamps are (N,) integers
    and the poses finite (N, 4, 4).
    """
    path = Path(path)
    stamps, poses = check_stamped_poses(stamps_ns, poses, "write_tum_trajectory")
    quats = Rotation.from_matrix(poses[:, :3, :3]).as_quat() if stamps.size else np.zeros((0, 4))
    quats[quats[:, 3] < 0] *= -1.0
    lines = [_TRAJECTORY_HEADER]
    for stamp, pose, quat in zip(stamps, poses, quats):
        values = " ".join(repr(float(v)) for v in (*pose[:3, 3], *quat))
        lines.append(f"{_format_stamp(int(stamp))} {values}\n")
    _write_atomic(path, "".join(lines))


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = mkstemp_public(str(path.parent), prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    fsync_dir(str(path.parent))  # the rename itself


def trajectory_reset_reason(stamps_ns: np.ndarray, split: str,
                            poses: Optional[np.ndarray] = None) -> str:
    """Why a trajectory (stamps in file order; ``poses`` (N, 4, 4) beside them) cannot give
    frames their poses, or '': it goes back in time once, into its own earlier stamps
    (`core.trajectory.overlapping_reset`) -- two recordings across a clock reset (a simulator
    restarted), which sorting by stamp interleaves, so a frame of one would take, or be
    interpolated from, a pose of the other (the rosbag2 reader reads one run of such a
    recording). A line repeating an earlier one's stamp and pose (the file's end written twice)
    gives no frame another pose and is left out of the test. ``split`` is the fix, said last."""
    stamps_ns = np.asarray(stamps_ns, dtype=np.int64).reshape(-1)
    if poses is not None and len(poses) == len(stamps_ns) > 0:
        flat = np.ascontiguousarray(poses, dtype=np.float64).reshape(len(stamps_ns), -1)
        seen: set = set()
        keep = np.ones(len(stamps_ns), dtype=bool)
        for k, (t, row) in enumerate(zip(stamps_ns.tolist(), flat)):
            key = (t, row.tobytes())
            keep[k] = key not in seen
            seen.add(key)
        stamps_ns = stamps_ns[keep]
    i = overlapping_reset(stamps_ns)
    if i is None:
        return ""
    a, b = int(stamps_ns[i]), int(stamps_ns[i + 1])
    return (f"it goes back {(a - b) * 1e-9:.3f} s once (t={a * 1e-9:.3f} -> {b * 1e-9:.3f} s) "
            "into its own earlier stamps: two recordings across a clock reset (a simulator "
            "restarted?), whose poses sorting by time interleaves, so frames would take poses of "
            f"the other recording; {split}")
