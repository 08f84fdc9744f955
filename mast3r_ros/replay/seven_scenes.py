"""``mast3r-ros convert-7scenes``: one sequence of Microsoft's RGB-D Dataset 7-Scenes as a TUM
RGB-D folder, the layout `TumSequence` reads (and the docs' examples assume).

7-Scenes (Shotton et al., CVPR 2013; non-commercial research only) holds per scene
``seq-NN/frame-NNNNNN.color.png`` (640x480 RGB), ``frame-NNNNNN.depth.png`` (uint16
millimetres, 65535 = no depth) and ``frame-NNNNNN.pose.txt`` (the 4x4 camera-to-world pose,
metres), no timestamps (recorded at 30 Hz), and one published calibration: focal 585 px,
principal point (320, 240), no distortion (the depth camera's; colour and depth are not
registered, and the colour intrinsics are taken for both, as is common practice).

The folder written: ``rgb/S.png`` (the colour PNGs copied byte for byte), ``depth/S.png``
(uint16, TUM's 5000 units per metre, 0 = no depth: millimetres x 5, so up to 13.1 m, beyond
what a Kinect v1 measures), ``rgb.txt`` and ``depth.txt`` (``S rgb/S.png``), ``groundtruth.txt``
(``S tx ty tz qx qy qz qw``: the pose file's camera-to-world pose, ``map_from_cam``, TUM's
order) and ``camera.yaml`` (a ROS camera_info YAML of that calibration), where ``S`` is the
frame number / 30 in seconds with 6 decimals (frame 5: ``0.166667``). It is written in a
temporary sibling and renamed to ``--out`` when complete (`fileio.atomic_folder`).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..core.errors import InputError
from .run_notes import ordinal

log = logging.getLogger(__name__)

FPS = 30.0  # 7-Scenes' Kinect v1 frame rate: frame n is at n / 30 s
WIDTH, HEIGHT = 640, 480
FOCAL_PX, CX_PX, CY_PX = 585.0, 320.0, 240.0  # the dataset's published calibration
NO_DEPTH_MM = 65535  # 7-Scenes' "no depth"
TUM_UNITS_PER_MM = 5  # TUM depth PNGs: 5000 units per metre
RIGID_TOLERANCE = 1e-3  # |R R^T - I|, |det R - 1|, last row: a pose file printed to 7 digits
MARKERS = ("rgb.txt", "depth.txt", "groundtruth.txt", "camera.yaml")  # a converted folder's
KINDS = ("color.png", "depth.png", "pose.txt")
_FRAME_FILE = re.compile(r"^frame-(\d+)\.(color\.png|depth\.png|pose\.txt)$")

CAMERA_YAML = f"""\
image_width: {WIDTH}
image_height: {HEIGHT}
camera_name: 7scenes
camera_matrix:
  rows: 3
  cols: 3
  data: [{FOCAL_PX:.6f}, 0.000000, {CX_PX:.6f}, 0.000000, {FOCAL_PX:.6f}, {CY_PX:.6f}, 0.000000, \
0.000000, 1.000000]
distortion_model: plumb_bob
distortion_coefficients:
  rows: 1
  cols: 5
  data: [0, 0, 0, 0, 0]
rectification_matrix:
  rows: 3
  cols: 3
  data: [1, 0, 0, 0, 1, 0, 0, 0, 1]
projection_matrix:
  rows: 3
  cols: 4
  data: [{FOCAL_PX:.6f}, 0.000000, {CX_PX:.6f}, 0.000000, 0.000000, {FOCAL_PX:.6f}, \
{CY_PX:.6f}, 0.000000, 0.000000, 0.000000, 1.000000, 0.000000]
"""


def stamp_text(frame: int) -> str:
    """Frame number ``frame``'s TUM stamp, seconds with 6 decimals (frame 5: '0.166667')."""
    return f"{frame / FPS:.6f}"


def stamp_ns(frame: int) -> int:
    """`stamp_text` as integer nanoseconds, exactly as a TUM reader parses it."""
    whole, frac = stamp_text(frame).split(".")
    return int(whole) * 1_000_000_000 + int(frac) * 1000


def listed_frames(seq: Path) -> Dict[int, Dict[str, Path]]:
    """{frame number: {kind ('color.png', 'depth.png', 'pose.txt'): path}} of ``seq``'s
    ``frame-NNNNNN.*`` files; `InputError` for a missing folder, a scene folder (its
    ``seq-NN`` inside), a zip, or a folder without a colour frame."""
    if seq.is_file() and seq.suffix.lower() == ".zip":
        raise InputError(f"{seq} is a zip archive: unzip it first (7-Scenes ships SCENE.zip "
                         "holding seq-NN.zip, each to unzip) and give the seq-NN folder")
    if not seq.is_dir():
        raise InputError(f"7-Scenes sequence folder {seq} does not exist or is not a folder")
    frames: Dict[int, Dict[str, Path]] = {}
    for entry in os.scandir(seq):
        m = _FRAME_FILE.match(entry.name)
        if m:
            frames.setdefault(int(m.group(1)), {})[m.group(2)] = Path(entry.path)
    if not any("color.png" in f for f in frames.values()):
        inner = sorted(p.name for p in seq.glob("seq-*") if p.is_dir() or p.suffix == ".zip")
        hint = (f": it looks like a scene folder; give one sequence, e.g. {seq / inner[0]}"
                + (" (unzipped)" if inner[0].endswith(".zip") else "") if inner else
                ": a 7-Scenes sequence holds frame-000000.color.png, .depth.png and .pose.txt")
        raise InputError(f"{seq} holds no 7-Scenes frame (frame-NNNNNN.color.png){hint}")
    return frames


def select_frames(frames: Dict[int, Dict[str, Path]], every: int = 1,
                  first: Optional[int] = None, last: Optional[int] = None) -> List[int]:
    """The frame numbers ``first``, ``first + every``, ... up to ``last`` (defaults: the
    sequence's first and last colour frames); `InputError` for a bad option (a ``last`` past
    the sequence's last frame too) or when any of them lacks one of its three files (naming the
    first such file and how many are missing)."""
    if every < 1:
        raise InputError(f"--every must be >= 1 (every Nth frame), got {every}")
    listed = sorted(n for n, f in frames.items() if "color.png" in f)
    lo = listed[0] if first is None else first
    hi = listed[-1] if last is None else last
    given = " ".join(f"--{k} {v}" for k, v in (("first", first), ("last", last))
                     if v is not None)
    holds = f"the sequence holds frames {listed[0]}..{listed[-1]}"
    if min(lo, hi) < 0 or (first is not None and last is not None and last < first):
        raise InputError(f"{given}: need 0 <= first <= last ({holds})")
    if lo > listed[-1] or hi < listed[0]:
        raise InputError(f"{given} takes no frame: {holds}")
    chosen = list(range(lo, hi + 1, every))
    if chosen[-1] > listed[-1]:  # was: 'frame-000030.color.png is missing (47 of the 50 ...)'
        raise InputError(f"--last {hi} is past the sequence's last frame: {holds} (a shorter "
                         "sequence, or one unzipped only in part? 7-Scenes sequences hold 1000 "
                         f"frames, stairs' 500): give --last {listed[-1]} or less, or leave it out")
    lacking = [n for n in chosen if len(frames.get(n, {})) < len(KINDS)]
    if lacking:
        n = lacking[0]
        kind = next(k for k in KINDS if k not in frames.get(n, {}))
        step = int(np.gcd.reduce(np.diff(listed))) if len(listed) > 1 else 0
        fix = _missing_fix(listed, step, every, lo, hi)
        more = f" ({len(lacking)} of the {len(chosen)} frames taken lack a file)" if len(
            lacking) > 1 else ""
        raise InputError(f"{seq_name(frames)}: frame-{n:06d}.{kind} is missing{more}: {fix}")
    return chosen


def _missing_fix(listed: List[int], step: int, every: int, lo: int, hi: int) -> str:
    """How to take frames that exist when frames ``lo``, ``lo + every``, ... up to ``hi`` miss
    one: ``listed`` the sequence's colour frame numbers (ascending), ``step`` their spacing
    (the gcd of their differences; 0 for one frame). Every option it names takes a frame."""
    holds = f"the sequence holds every {ordinal(step)} frame" if step > 1 else ""
    inside = [m for m in listed if lo <= m <= hi]
    if not inside:  # nothing in lo..hi at any step: the nearest frames on either side
        before = max(m for m in listed if m < lo)
        after = min(m for m in listed if m > hi)
        keep = f"--first {before}" + (f" --last {before}" if before + every <= hi else "")
        return (f"{holds + ' and' if holds else 'the sequence holds'} no frame in {lo}..{hi} "
                f"(the nearest: {before} and {after}): {keep}, or --first {after} --last {after}")
    off = step > 1 and lo % step != listed[0] % step  # --first is not one of them
    start = f"--first {inside[0]}" if off else ""
    if step > 1 and every % step:
        return f"{holds}: --every {step} or a multiple" + (f", from {start}" if off else "")
    if off:
        return f"{holds}: start at one of them ({start})"
    return ("a sequence copied or unzipped only in part? unzip it again, or take a range "
            "without the gap (--first, --last)")


def seq_name(frames: Dict[int, Dict[str, Path]]) -> str:
    """The sequence folder the files of ``frames`` are in, for messages."""
    return str(next(iter(next(iter(frames.values())).values())).parent)


def read_pose(path: Path) -> np.ndarray:
    """A 7-Scenes ``pose.txt``: (4, 4) float64 camera-to-world, metres; `InputError` naming
    the file when it cannot be read, is not 4 rows of 4 numbers, or not a rigid transform."""
    from ..core.geometry import non_rigid_reason

    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise InputError(f"cannot read pose {path}: {e.strerror or e}") from None
    rows = [line.split() for line in text.splitlines() if line.strip()]
    try:
        pose = np.array([[float(v) for v in row] for row in rows], dtype=np.float64)
    except ValueError:
        pose = None
    if pose is None or pose.shape != (4, 4):
        raise InputError(f"pose {path} is not 4 rows of 4 numbers (a 7-Scenes camera-to-world "
                         "matrix): the file is damaged; copy or unzip the sequence again")
    if not np.isfinite(pose).all():
        raise InputError(f"pose {path} holds a value that is not finite (nan or inf): the "
                         "frame has no pose; take a range without it (--first, --last)")
    why = non_rigid_reason(pose, RIGID_TOLERANCE)
    if why:
        raise InputError(f"pose {path} is not a rigid camera-to-world transform: {why}; the "
                         "file is damaged, or not a 7-Scenes pose")
    return pose


def _copy_colour(src: Path, dst: Path) -> None:
    import cv2

    from ..core.image_codec.compressed import opencv_path

    image = cv2.imread(opencv_path(src, "colour image"), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise InputError(f"cannot read colour image {src}: truncated or corrupt, or not an "
                         "image; copy or unzip the sequence again")
    if image.shape[:2] != (HEIGHT, WIDTH):
        raise InputError(f"colour image {src} is {image.shape[1]}x{image.shape[0]}, not "
                         f"7-Scenes' {WIDTH}x{HEIGHT} (the calibration written is for that)")
    shutil.copyfile(src, dst)  # byte for byte: the PNG as recorded


def _convert_depth(src: Path, dst: Path) -> None:
    import cv2

    from ..core.image_codec.compressed import opencv_path

    raw = cv2.imread(opencv_path(src, "depth image"), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise InputError(f"cannot read depth image {src}: truncated or corrupt, or not an "
                         "image; copy or unzip the sequence again")
    if raw.dtype != np.uint16 or raw.shape != (HEIGHT, WIDTH):
        raise InputError(f"depth image {src} is {raw.shape} {raw.dtype}, not 7-Scenes' "
                         f"({HEIGHT}, {WIDTH}) uint16 millimetres")
    units = raw.astype(np.uint32) * TUM_UNITS_PER_MM
    units[(raw == NO_DEPTH_MM) | (units > np.iinfo(np.uint16).max)] = 0
    ok, data = cv2.imencode(".png", units.astype(np.uint16))
    if not ok:
        raise InputError(f"cannot encode depth image {src} as PNG")
    dst.write_bytes(data.tobytes())


def convert(seq: str, out: str, every: int = 1, first: Optional[int] = None,
            last: Optional[int] = None, overwrite: bool = False) -> Tuple[int, int]:
    """Write 7-Scenes sequence folder ``seq``'s frames ``first``, ``first + every``, ... up to
    ``last`` (frame numbers as in the file names) as the TUM RGB-D folder ``out`` (module
    docstring); returns (frames written, first frame number). Every pose is read and checked
    before an image is; the folder appears whole or not at all. Raises `InputError` for bad
    input (naming the file and the fix) and an existing ``out`` without ``overwrite``
    (``overwrite`` replaces only a folder holding `MARKERS`)."""
    from ..core.fileio import atomic_folder, check_output_folder
    from ..core.progress_output import progress_bar
    from .tum_trajectory import write_tum_trajectory

    check_output_folder(out, overwrite, MARKERS)
    frames = listed_frames(Path(seq))
    chosen = select_frames(frames, every, first, last)
    poses = np.stack([read_pose(frames[n]["pose.txt"]) for n in chosen])
    stamps = [stamp_text(n) for n in chosen]
    with atomic_folder(out, overwrite, MARKERS, what="the TUM folder") as tmp:
        root = Path(tmp)
        (root / "rgb").mkdir()
        (root / "depth").mkdir()
        bar = progress_bar(len(chosen), "convert-7scenes", "frame")
        try:
            for n, s in zip(chosen, stamps):
                _copy_colour(frames[n]["color.png"], root / "rgb" / f"{s}.png")
                _convert_depth(frames[n]["depth.png"], root / "depth" / f"{s}.png")
                bar.update(1)
        finally:
            bar.close()
        for name, folder in (("rgb.txt", "rgb"), ("depth.txt", "depth")):
            (root / name).write_text("# timestamp filename\n" + "".join(
                f"{s} {folder}/{s}.png\n" for s in stamps), encoding="utf-8")
        write_tum_trajectory(root / "groundtruth.txt",
                             np.array([stamp_ns(n) for n in chosen], dtype=np.int64), poses)
        (root / "camera.yaml").write_text(CAMERA_YAML, encoding="utf-8")
    return len(chosen), chosen[0]


def add_parser(sub: argparse._SubParsersAction) -> None:
    from .cli_options import OVERWRITE_HELP, add_log_level

    p = sub.add_parser(
        "convert-7scenes", help="convert a 7-Scenes sequence (seq-NN) to a TUM RGB-D folder",
        description="Write one sequence of Microsoft's RGB-D Dataset 7-Scenes "
                    "(frame-NNNNNN.color.png, .depth.png, .pose.txt) as a TUM RGB-D folder "
                    "(rgb.txt, depth.txt, groundtruth.txt, camera.yaml) that build-map and "
                    "localize read: stamps frame/30 s, depth in TUM's 5000 units per metre, "
                    "the published calibration (585 px, 320, 240).")
    p.add_argument("seq", metavar="SEQ_DIR", help="a 7-Scenes sequence folder, e.g. "
                                                  "redkitchen/seq-01 (unzipped)")
    p.add_argument("--out", required=True, help="the TUM folder to write (whole or not at all)")
    p.add_argument("--every", type=int, default=1, metavar="N",
                   help="take every Nth frame (default 1: all)")
    p.add_argument("--first", type=int, default=None, metavar="A",
                   help="the first frame number to take (default: the sequence's first)")
    p.add_argument("--last", type=int, default=None, metavar="B",
                   help="the last frame number that may be taken (default: the sequence's "
                        "last)")
    p.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    add_log_level(p)
    p.set_defaults(func=_cmd_convert)


def _cmd_convert(args: argparse.Namespace) -> int:
    n, first = convert(args.seq, args.out, args.every, args.first, args.last, args.overwrite)
    print(f"converted {n} frame(s) of {args.seq} (from frame {first}, every {args.every}) "
          f"-> {args.out}")
    return 0

