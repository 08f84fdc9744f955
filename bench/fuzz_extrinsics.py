"""Targets of bench/fuzz_inputs.py for the inputs added on 2026-12-06: ``realsense_units`` (the
float32 ``depth_units`` librealsense writes after each Image's data in a RealSense ROS 1 bag:
per image, against the 'Depth Units' option, odd values, cut or longer tails), ``tf_extrinsic``
(a depth camera's extrinsic to the colour camera on /tf only: odd values, NaN / inf / huge,
chains through other frames, transforms that change, repeated or unordered stamps, a frame
also on /tf_static) and ``euroc_cam1`` (``--stereo-depth`` EuRoC folders whose cam1/data.csv
lost, repeated, reordered or shifted stamps). Besides no escape, what a read gives is checked:
RealSense depth is in a unit the recording states; a /tf extrinsic that moves past 1 mm or
0.1 deg is never registered with; a cam0 frame gets stereo depth only when cam1 lists its
exact stamp."""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import numpy as np

from fuzz_readers import _fresh, _pick
from fuzz_recordings import (_ODD_FLOATS, _check_depth, _quiet_refusal, _realsense_messages,
                             _unit_tests, _write_realsense)

# units a RealSense device uses (a D400's, a D405's, an L515's) and their float32 neighbours
_UNITS = [0.001, 0.0001, 0.00025, float(np.float32(0.001)), 0.0010000001, 0.00099, 1e-6, 0.01]


# ---------------------------------------------------------------- per-image depth_units

def _f32(value: float) -> bytes:
    """``value`` as little-endian float32 bytes (1e300 is inf there, as a float32 holds it)."""
    with np.errstate(over="ignore"):
        return np.array([value], "<f4").tobytes()


def _units_setup(ctx: dict) -> None:
    _unit_tests()
    ctx["rs"] = importlib.import_module("test_realsense_bag")


def _units_case(rng, ctx, note) -> None:
    from mast3r_ros.replay.sources import SourceOptions, open_source
    rs = ctx["rs"]
    aligned = bool(rng.random() < 0.7)  # a D405's: depth read pixel for pixel, values checked
    option = _pick(rng, [None] * 4 + _UNITS[:3] * 2 + _ODD_FLOATS[:6])
    msgs = _realsense_messages(rs, aligned, option)
    pool = _UNITS + _ODD_FLOATS if rng.random() < 0.5 else _UNITS[:3] + [0.0]
    same = _pick(rng, pool)
    carried, what = [], []
    for m in msgs:
        if not m[0].endswith("/image/data"):
            continue
        kind = rng.random()
        if kind < 0.6:  # the recording's one unit (depth), 0 (other streams), or another
            value = same if m[0] == rs.DEPTH or rng.random() < 0.3 else 0.0
            m[3] = _f32(value)
        elif kind < 0.9:
            value = _pick(rng, pool)
            m[3] = _f32(value)
        else:  # no tail, a cut one or a longer one: no unit carried
            value = None
            m[3] = _pick(rng, [b"", b"\x00", b"\x00" * 3, b"\x00" * 8, m[3] * 2])
        what.append("-" if value is None else f"{value:g}")
        if m[0] == rs.DEPTH and value is not None:
            carried.append(float(np.frombuffer(m[3], "<f4")[0]))
    scale = _pick(rng, [None] * 10 + [1000.0, 10000.0, 0.001, 1e9])
    note[0] = (f"{'aligned ' if aligned else ''}option {option!r}, image units "
               f"{' '.join(what)}, --depth-scale {scale}")
    try:
        _write_realsense(ctx["tmp"] / "w.bag", rs, msgs)
    except Exception:  # noqa: BLE001 - not serializable: no recorder writes it
        note[0] += " (not written)"
        return
    path = _fresh(ctx, "case.bag")
    shutil.move(str(ctx["tmp"] / "w.bag"), path)

    def read() -> None:
        source = open_source(str(path), SourceOptions(depth_topic=rs.DEPTH, depth_scale=scale))
        _check_depth(source)
        if not aligned:
            return
        stated = [1 / scale] if scale else (
            [option] if option else carried)  # the unit the depth must be in
        for frame in source:
            if frame.depth_m is None:
                continue
            valid = frame.depth_m[np.isfinite(frame.depth_m) & (frame.depth_m > 0)]
            if valid.size:
                got = float(np.median(valid)) / 1000.0  # raw 1000 everywhere
                assert any(np.isclose(got, u, rtol=1e-5) for u in stated), (
                    f"depth read with {got:g} m a unit, the recording states {stated}")

    _quiet_refusal(read)


# ---------------------------------------------------------------- /tf-only extrinsics

def _tf_setup(ctx: dict) -> None:
    _unit_tests()
    ctx["tf"] = importlib.import_module("test_rosbag_depth_tf")


def _tf_case(rng, ctx, note) -> None:
    from mast3r_ros.replay.rosbag import BagSequence
    tfm = ctx["tf"]
    frame = importlib.import_module("test_rosbag_depth_frame")
    color, depth = frame.COLOR, frame.DEPTH
    stamps = list(tfm.STAMPS)
    base = tfm.LINK_FROM_DEPTH.copy()
    chain = rng.random() < 0.3  # camera_link -> mid -> depth: a chain of two /tf edges
    mid = np.eye(4)
    mid[1, 3] = 0.02
    what = []
    samples = []  # (parent, child, stamp, 4x4)
    static = [("camera_link", color, 0, np.eye(4))] if rng.random() < 0.6 else []
    colour_on_tf = not static
    for t in stamps:
        m = base.copy()
        if chain:
            samples.append(("camera_link", "mid", t, mid.copy()))
            m = np.linalg.inv(mid) @ m
        samples.append(("mid" if chain else "camera_link", depth, t, m))
        if colour_on_tf:
            samples.append(("camera_link", color, t, np.eye(4)))
    ops = int(rng.integers(1, 4))
    for _ in range(ops):
        op = int(rng.integers(0, 8))
        dep = [s for s in samples if s[1] in (depth, "mid")]
        i = int(rng.integers(0, len(dep))) if dep else 0
        if op == 0 and dep:  # an odd value in one sample's translation or quaternion
            p, c, t, m = dep[i]
            m = m.copy()
            k = int(rng.integers(0, 7))  # x y z, then quaternion x y z w
            value = _pick(rng, _ODD_FLOATS + [5.0, -2.0])
            if k < 3:
                m[k, 3] = value
            else:
                m = np.vstack([m, _quat(m)])  # a 5th row: the quaternion as written
                m[4, k - 3] = value
            samples = [(p, c, t, m) if s is dep[i] else s for s in samples]
            what.append(f"{c} @{t} {'xyz'[k] if k < 3 else 'q' + 'xyzw'[k - 3]} = {value!r}")
        elif op == 1 and dep:  # the depth frame moves from one sample on
            step = float(_pick(rng, [0.0005, 0.002, 0.05, 1e6]))
            for s in dep[i:]:
                s[3][0, 3] += step
            what.append(f"moves {step:g} m from sample {i}")
        elif op == 2 and dep:  # a repeated sample at the same stamp, maybe another value
            p, c, t, m = dep[i]
            m = m.copy()
            shift = float(_pick(rng, [0.0, 0.0, 0.01]))
            m[1, 3] += shift
            samples.append((p, c, t, m))
            what.append(f"{c} twice at {t} ({shift:g} m)")
        elif op == 3:  # stamps out of order, 0, or all one stamp
            kind = _pick(rng, ["shuffle", "zero", "one", "huge"])
            if kind == "shuffle":
                order = rng.permutation(len(samples))
                samples = [samples[j] for j in order]
            else:
                value = {"zero": 0, "one": stamps[0], "huge": 2 ** 62}[kind]
                samples = [(p, c, value if rng.random() < 0.5 else t, m)
                           for p, c, t, m in samples]
            what.append(f"stamps {kind}")
        elif op == 4 and dep:  # one sample only, or none of the depth's
            keep = dep[i]
            samples = [s for s in samples if s[1] not in (depth, "mid") or s is keep]
            what.append("one depth sample" if rng.random() < 0.5 else "no depth sample")
            if what[-1] == "no depth sample":
                samples = [s for s in samples if s is not keep]
        elif op == 5:  # the depth frame also on /tf_static, maybe elsewhere
            m = base.copy()
            m[0, 3] += float(_pick(rng, [0.0, 0.1]))
            static.append(("camera_link", depth, 0, m))
            what.append(f"{depth} also on /tf_static ({m[0, 3]:g})")
        elif op == 6:  # frame names: a leading slash, a loop, the depth frame as a parent
            kind = _pick(rng, ["slash", "loop", "self"])
            if kind == "slash":
                samples = [(("/" + p) if rng.random() < 0.5 else p, c, t, m)
                           for p, c, t, m in samples]
            elif kind == "loop":
                samples.append((depth, "camera_link", stamps[0], np.eye(4)))
            else:
                samples.append((depth, depth, stamps[0], np.eye(4)))
            what.append(f"frames {kind}")
        else:  # a huge rotation-free offset everywhere (constant, far)
            off = float(_pick(rng, [10.0, 1e6, 1e300]))
            for s in dep:
                s[3][2, 3] += off
            what.append(f"constant offset {off:g} m")
    note[0] = ("chain; " if chain else "") + "; ".join(what)
    path = _fresh(ctx, "bag")
    try:
        bag = _write_tf_bag(frame, path, tfm, static, samples)
    except Exception:  # noqa: BLE001 - not serializable (a frame a writer cannot write)
        note[0] += " (not written)"
        return

    def read() -> None:
        seq = BagSequence(bag, image_topic=frame.CAM, depth_topic=tfm.TOPIC)
        for f in seq:
            d = f.depth_m
            assert d is None or not (np.isinf(d).any() or (d < 0).any()), "depth inf / < 0"
        # a registration with a transform that moved past 1 mm is wrong depth (static wins)
        moved = _moved(samples, depth)
        assert moved <= 0.0011 or op_static(static, depth), f"registered though it moved {moved}"

    _quiet_refusal(read)


def _quat(m: np.ndarray) -> np.ndarray:
    """(4,) quaternion x y z w of a 4x4's rotation, or its 5th row when it has one (an odd
    value written as is: no SVD of a NaN matrix, which LAPACK may never return from)."""
    from scipy.spatial.transform import Rotation
    return m[4].copy() if m.shape[0] == 5 else Rotation.from_matrix(m[:3, :3]).as_quat()


def _write_tf_bag(frame, path: Path, tfm, static: List[tuple], samples: List[tuple]) -> Path:
    """test_rosbag_depth_frame._bag's recording (three colour images, the depth camera's
    stream and CameraInfo beside it) with /tf_static ``static`` and each /tf sample in its own
    message, quaternions as `_quat` gives them."""
    rb = importlib.import_module("test_rosbag")
    from rosbags.rosbag2 import StoragePlugin
    T = rb.T

    def tf_msg(transforms):
        return T["tf2_msgs/msg/TFMessage"](transforms=[T["geometry_msgs/msg/TransformStamped"](
            header=rb.header(t, p), child_frame_id=c,
            transform=T["geometry_msgs/msg/Transform"](
                translation=T["geometry_msgs/msg/Vector3"](*map(float, m[:3, 3])),
                rotation=T["geometry_msgs/msg/Quaternion"](*map(float, _quat(m)))))
            for p, c, t, m in transforms])

    msgs = [("/tf_static", 0, tf_msg(static))] if static else []
    msgs += [("/tf", max(t, 0), tf_msg([(p, c, t, m)])) for p, c, t, m in samples]
    for i, t in enumerate((1000 * rb.MS, 1100 * rb.MS, 1200 * rb.MS)):
        msgs.append((frame.CAM, t, rb.image(t, "rgb8", rb.RGB, frame_id=frame.COLOR)))
        msgs.append(("/camera/color/camera_info", t, frame._info(t, 30.0, frame.COLOR)))
        msgs.append((tfm.TOPIC, t + 1, rb.image(t, "16UC1", tfm.DEPTH_MM + i,
                                                 frame_id=frame.DEPTH)))
        msgs.append(("/camera/depth/camera_info", t + 1, frame._info(t, 20.0, frame.DEPTH)))
    return rb.write_bag(path, StoragePlugin.MCAP, sorted(msgs, key=lambda m: m[1]))


def _moved(samples: List[tuple], depth: str) -> float:
    """How far the one /tf edge of the depth's chain that changes moves over its finite
    samples, as they are written (rotation through a quaternion): metres, a turn past 0.1 deg
    counted as 1 m; 0 when none or several edges change (their motions may cancel)."""
    from scipy.spatial.transform import Rotation
    moves = []
    for child in (depth, "mid"):
        with np.errstate(over="ignore"):  # every sample, a repeated stamp's too; those the
            got = [m for p, c, _, m in samples  # reader drops (a quaternion of no norm) not
                   if c == child and p.lstrip("/") != child and np.isfinite(m[:3, 3]).all()
                   and 1e-6 <= np.linalg.norm(_quat(m)) < np.inf]
        rots = [Rotation.from_quat(_quat(m) / np.abs(_quat(m)).max()) for m in got]
        if len(got) < 2:
            continue
        far = max(float(np.linalg.norm(m[:3, 3] - got[0][:3, 3])) for m in got)
        turn = max(np.degrees((r * rots[0].inv()).magnitude()) for r in rots)
        move = max(far, 1.0 if turn > 0.11 else 0.0)
        if move > 0:
            moves.append(move)
    return moves[0] if len(moves) == 1 else 0.0


def op_static(static: List[tuple], depth: str) -> bool:
    """Whether /tf_static places ``depth`` (it wins over /tf: moving /tf samples are unread)."""
    return any(c == depth for _, c, _, _ in static)


# ---------------------------------------------------------------- EuRoC cam1 stamps

def _cam1_setup(ctx: dict) -> None:
    _unit_tests()
    ts = importlib.import_module("test_stereo_depth")
    ctx["tree"], _ = ts.euroc_stereo_tree(ctx["tmp"] / "euroc", 3)


def _cam1_stamps(text: str) -> set:
    out = set()
    for line in text.splitlines():
        field = line.split(",")[0].strip()
        if line.strip() and not line.lstrip().startswith("#") and field.isdigit():
            out.add(int(field))
    return out


def _cam1_case(rng, ctx, note) -> None:
    from mast3r_ros.replay.sources import SourceOptions, open_source
    root = _fresh(ctx, "case")
    shutil.copytree(ctx["tree"], root)
    csv = root / "mav0" / "cam1" / "data.csv"
    head, *lines = csv.read_text().splitlines()
    what = []
    for _ in range(int(rng.integers(1, 4))):
        op = int(rng.integers(0, 8))
        i = int(rng.integers(0, len(lines))) if lines else 0
        if op == 0 and lines:
            what.append(f"line {i} dropped")
            del lines[i]
        elif op == 1 and lines:
            lines.insert(i, lines[i])
            what.append(f"line {i} twice")
        elif op == 2:
            lines = [lines[j] for j in rng.permutation(len(lines))]
            what.append("lines shuffled")
        elif op == 3 and lines:  # a stamp shifted by a little or a lot
            stamp, _, name = lines[i].partition(",")
            if not stamp.isdigit():
                continue
            d = int(_pick(rng, [1, -1, 1000, 50_000_000, -50_000_000, 10 ** 18]))
            lines[i] = f"{int(stamp) + d},{name}"
            what.append(f"line {i} stamp {d:+d} ns")
        elif op == 4 and lines:  # the same stamp, a second (missing or other) file
            stamp, _, name = lines[i].partition(",")
            other = _pick(rng, ["missing.png", lines[(i + 1) % len(lines)].partition(",")[2]])
            lines.insert(i + int(rng.integers(0, 2)), f"{stamp},{other}")
            what.append(f"stamp of line {i} also names {other}")
        elif op == 5:
            lines = []
            what.append("no lines")
        elif op == 6 and lines:  # spaces or a leading zero in the stamp
            stamp, _, name = lines[i].partition(",")
            lines[i] = _pick(rng, [f" {stamp} , {name}", f"0{stamp},{name}", f"{stamp}.0,{name}"])
            what.append(f"line {i} written {lines[i]!r}")
        elif op == 7 and lines:  # cam1's image file gone
            name = lines[i].partition(",")[2].strip()
            path = root / "mav0" / "cam1" / "data" / name
            if path.exists():
                path.unlink()
            what.append(f"{name} removed")
    text = "\n".join([head] + lines) + "\n"
    csv.write_text(text)
    listed = _cam1_stamps(text)
    note[0] = "; ".join(what)

    def read() -> None:
        source = open_source(str(root), SourceOptions(stereo_depth=True))
        _check_depth(source)
        from mast3r_ros.core.types import UnreadableFrame
        from mast3r_ros.replay.sources import frames_or_unreadable
        for item in frames_or_unreadable(source):
            if isinstance(item, UnreadableFrame) or item.depth_m is None:
                continue
            assert item.stamp_ns in listed, (
                f"cam0 frame at {item.stamp_ns} got depth though cam1 lists no such stamp")

    _quiet_refusal(read)


EXTRINSIC_TARGETS: Dict[str, Tuple[Callable, Callable]] = {
    "realsense_units": (_units_setup, _units_case),
    "tf_extrinsic": (_tf_setup, _tf_case),
    "euroc_cam1": (_cam1_setup, _cam1_case),
}
