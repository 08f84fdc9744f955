"""The refusal of a file given as a camera calibration whose YAML is no mapping: a TUM
trajectory (``groundtruth.txt``) or image list (``rgb.txt``) passed as ``--camera-info`` is
named as what it is, with the option it goes to (`load_camera_info_yaml`)."""

from __future__ import annotations

from pathlib import Path

_FIX = ("; --camera-info takes a camera calibration (a camera_calibration YAML with "
        "image_width, image_height, camera_matrix; see README: 'Supported inputs')")


def _numbers(fields: list) -> bool:
    try:
        [float(f) for f in fields]
    except ValueError:
        return False
    return True


def not_a_mapping(path: Path, text: str, doc: object) -> str:
    """The one-line refusal (str) of calibration file ``path`` whose ``text`` parsed to ``doc``,
    a YAML scalar or sequence rather than a mapping."""
    first = next(((n, line.split()) for n, line in enumerate(text.splitlines(), 1)
                  if line.strip() and not line.lstrip().startswith("#")), None)
    if first is not None:
        lineno, fields = first
        if len(fields) == 8 and _numbers(fields):
            return (f"{path}:{lineno}: a TUM trajectory ('timestamp tx ty tz qx qy qz qw' "
                    "lines), not a camera calibration: pass it with --trajectory (build-map) "
                    f"or --groundtruth (localize){_FIX}")
        if len(fields) == 2 and _numbers(fields[:1]):
            return (f"{path}:{lineno}: a TUM image list ('timestamp filename' lines, as "
                    f"rgb.txt or depth.txt), not a camera calibration{_FIX}")
    return f"{path}: not a camera calibration: its YAML is a {type(doc).__name__}{_FIX}"
