"""Recording targets of bench/fuzz_inputs.py: Intel RealSense Viewer / librealsense ROS 1 bags
(``realsense``: topic names, the 'Depth Units' option, camera_info distortion names, the
streams' extrinsics, librealsense's trailing ``depth_units`` bytes, record fields and message
bytes) and ``--stereo-depth`` EuRoC/ASL and KITTI folders (``stereo_depth``: cam1's sensor.yaml
T_BS / intrinsics / distortion / resolution, calib.txt's P1 / P3, the right camera's images and
lists), each built valid once (as test_realsense_bag.py and test_stereo_depth.py build them)
and mutated per input. A read that succeeds is checked (`fuzz_readers._check_frames`, and each
frame's depth: float32 of the image's size, no inf, none negative). ``CLI_SHARE`` of the
stereo inputs (``ctx["cli_share"]`` where set) run ``mast3r-ros build-map --matcher sift
--stereo-depth`` instead and check its exit status (0 or 2), its one-line refusal, that a
refused build leaves no map behind and that a built map's poses are finite and rigid."""

from __future__ import annotations

import importlib
import io
import shutil
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import numpy as np

from fuzz_readers import (_check_frames, _check_pose, damaged_bag_copy,
                          _edit_number, _fresh, _pick, mutate_bytes, mutate_text,
                          restate_png_size)

CLI_SHARE = 0.05  # of stereo_depth inputs also built into a map through the CLI


def _unit_tests() -> None:
    unit = str(Path(__file__).resolve().parents[1] / "test" / "unit")
    if unit not in sys.path:
        sys.path.insert(0, unit)


def _check_depth(source) -> int:
    """`_check_frames`, and every read frame's depth: (H, W) float32 metres, >= 0 where
    valid (invalid: NaN from a bag, as `depth_to_metres` marks it; 0 from stereo), no inf."""
    from mast3r_ros.core.types import UnreadableFrame
    from mast3r_ros.replay.sources import frames_or_unreadable
    n = _check_frames(source)
    for item in frames_or_unreadable(source):
        if isinstance(item, UnreadableFrame) or item.depth_m is None:
            continue
        depth = item.depth_m
        assert depth.dtype == np.float32 and depth.shape == item.rgb.shape[:2], depth.shape
        assert not np.isinf(depth).any() and not (depth < 0).any(), "depth inf or negative"
    return n


def _quiet_refusal(read: Callable[[], None]) -> None:
    """``read()``; a package error it ends in must come alone: a numpy RuntimeWarning before
    it would print lines on the CLI's stderr before its one-line refusal (an escape)."""
    import warnings

    from mast3r_ros.core.errors import Mast3rRosError
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        try:
            read()
        except Mast3rRosError:
            noisy = [w for w in caught if issubclass(w.category, RuntimeWarning)]
            assert not noisy, (f"refused after {noisy[0].category.__name__} "
                               f"'{noisy[0].message}' at {noisy[0].filename}:{noisy[0].lineno}")
            raise


# ---------------------------------------------------------------- RealSense ROS 1 bags

_ODD_FLOATS = [np.nan, np.inf, -np.inf, 0.0, -0.0, -0.001, 1e-30, 1e-45, 1e30, 3.4e38,
               1e-300, 1e300, 0.001, 0.0001, 2.0]
_RS_TOPIC_EDITS = [("sensor_1", "sensor_01"), ("sensor_1", "sensor_"), ("Color_0", "color_0"),
                   ("Color_0", "Color_"), ("Color_0", "Color_7"), ("Color_0", "Infrared_2"),
                   ("/image/data", "/image/data/"), ("/image/data", "/image"),
                   ("Depth Units", "Depth units"), ("Depth Units", "Depth Units "),
                   ("/tf/0", "/tf/1"), ("/tf/0", "/tf/x"), ("/tf/0", "/tf/"),
                   ("/info/camera_info", "/info/camerainfo"), ("/file_version", "/fileversion"),
                   ("device_0", "device_1"), ("Depth_0", "Depth_1"), ("/", "//"),
                   ("Depth_0", "Color_0"), ("Infrared_1", "Color_1")]
_RS_MODELS = ["", "None", "Brown Conrady", "Inverse Brown Conrady", "Modified Brown Conrady",
              "Kannala Brandt4", "brown conrady", "Ftheta", "plumb_bob", "equidistant",
              "rational_polynomial", "Brown Conrady ", "\x00", "é"]


def _realsense_setup(ctx: dict) -> None:
    _unit_tests()
    rs = importlib.import_module("test_realsense_bag")
    ctx["rs"] = rs
    ctx["bags"] = [
        rs.write_realsense_bag(ctx["tmp"] / "d435.bag"),
        rs.write_realsense_bag(ctx["tmp"] / "d405.bag", colour_sensor=0, colour_offset_m=0.0,
                               depth_units=0.0001, depth_raw=10000),
        rs.write_realsense_bag(ctx["tmp"] / "plain.bag", trailing=False, infrared=False,
                               colour_model="Brown Conrady",
                               colour_d=(0.1, -0.05, 0.001, 0.002, 0.01))]


def _realsense_messages(rs, aligned: bool, units) -> List[list]:
    """[topic, bag stamp ns, message, trailing bytes] of test_realsense_bag's recording (the
    colour camera on the depth module when ``aligned``: a D405's, whose depth is read)."""
    T, h, w = rs.T, 6, 8
    colour = f"/device_0/sensor_{0 if aligned else 1}/Color_0"
    trail = np.float32(units if units is not None else 0.0).tobytes()
    msgs = [["/file_version", 1, T["std_msgs/msg/UInt32"](data=3), b""],
            [f"{colour}/info/camera_info", 1, rs._info(w, h, rs.K), b""],
            ["/device_0/sensor_0/Depth_0/info/camera_info", 1,
             rs._info(w, h, rs.K, "Inverse Brown Conrady" if aligned else "Brown Conrady"), b""],
            ["/device_0/sensor_0/Infrared_1/info/camera_info", 1,
             rs._info(w, h, rs.K, "Brown Conrady"), b""],
            ["/device_0/sensor_0/Depth_0/tf/0", 1, rs._transform(0.0), b""],
            ["/device_0/sensor_0/Infrared_1/tf/0", 1, rs._transform(0.0), b""],
            [f"{colour}/tf/0", 1, rs._transform(0.0 if aligned else 0.015), b""]]
    if units is not None:
        msgs.append(["/device_0/sensor_0/option/Depth Units/value", 1,
                     T["std_msgs/msg/Float32"](data=units), b""])
    base = 1_700_000_000 * rs.S
    for n in range(2):
        t, bag_t = base + n * 100_000_000, (n + 1) * 100_000_000
        msgs.append([f"{colour}/image/data", bag_t, rs._image(t, n, rs.RGB, "rgb8"), trail])
        msgs.append([rs.DEPTH, bag_t + 1, rs._image(t + 1000, n, np.full((h, w), 1000, np.uint16),
                                                    "mono16"), trail])
        msgs.append(["/device_0/sensor_0/Infrared_1/image/data", bag_t + 2,
                     rs._image(t + 1000, n, np.full((h, w), 90, np.uint8), "8UC1"), trail])
    return msgs


def _edit_realsense(rng, rs, msgs: List[list]) -> str:
    """One edit of a recording's messages: a topic renamed or dropped, a 'Depth Units' value
    (or a second one), a distortion name / coefficients, an extrinsic value, an image's
    trailing bytes or fields."""
    op = int(rng.integers(0, 7))
    i = int(rng.integers(0, len(msgs)))
    topic, _, msg, _ = msgs[i]
    if op == 0:
        old, new = _pick(rng, _RS_TOPIC_EDITS)
        hits = [m for m in msgs if old in m[0]]
        for m in hits[:1] if rng.random() < 0.5 else hits:
            m[0] = m[0].replace(old, new, 1)
        return f"topics {old!r} -> {new!r}"
    if op == 1:
        del msgs[i]
        return f"{topic} #{i} dropped"
    if op == 2:
        units = [m for m in msgs if "Depth Units" in m[0]]
        value = _pick(rng, _ODD_FLOATS)
        if units and rng.random() < 0.7:
            units[0][2].data = value
        else:
            msgs.append(["/device_0/sensor_0/option/Depth Units/value", 2,
                         rs.T["std_msgs/msg/Float32"](data=value), b""])
        return f"Depth Units {value!r}"
    infos = [m for m in msgs if m[0].endswith("camera_info")]
    if op == 3 and infos:
        info = _pick(rng, infos)[2]
        info.distortion_model = _pick(rng, _RS_MODELS)
        if rng.random() < 0.5:
            info.D = _pick(rng, [np.zeros(0), np.zeros(3), np.full(5, np.nan), np.ones(5) * 0.1,
                                 np.zeros(14), np.array([0.1, 0, 0, 0, 1e308])])
        if rng.random() < 0.3:
            info.K = info.K.copy()
            info.K[_pick(rng, [0, 2, 4, 5, 8])] = _pick(rng, _ODD_FLOATS)
        return f"camera_info {info.distortion_model!r} D {len(info.D)}"
    tfs = [m for m in msgs if "/tf/" in m[0]]
    if op == 4 and tfs:
        tf = _pick(rng, tfs)[2]
        part = _pick(rng, ["rotation", "translation"])
        field = _pick(rng, ["x", "y", "z", "w"] if part == "rotation" else ["x", "y", "z"])
        value = _pick(rng, _ODD_FLOATS)
        setattr(getattr(tf, part), field, value)
        if part == "rotation" and rng.random() < 0.3:
            q = tf.rotation
            q.x = q.y = q.z = q.w = value
        return f"{part}.{field} = {value!r}"
    images = [m for m in msgs if m[0].endswith("/image/data")]
    if op == 5 and images:
        m = _pick(rng, images)
        m[3] = _pick(rng, [b"", b"\x00", b"\x00" * 3, b"\x00" * 5, b"\x00" * 8,
                           np.float32(np.nan).tobytes(), b"\xff" * 4, m[3] * 2])
        return f"{m[0]} trailing {len(m[3])} B"
    if images:
        img = _pick(rng, images)[2]
        field = _pick(rng, ["encoding", "height", "width", "step", "data"])
        if field == "encoding":
            img.encoding = _pick(rng, ["YUYV", "Z16", "mono16", "", "rgb8", "bgra8", "UYVY"])
        elif field == "data":
            img.data = img.data[: int(rng.integers(0, img.data.size + 1))]
        else:
            setattr(img, field, _pick(rng, [0, 1, 2 ** 32 - 1, getattr(img, field) * 2]))
        return f"image {field}"
    return "no edit"


def _write_realsense(path: Path, rs, msgs: List[list]) -> None:
    from rosbags.rosbag1 import Writer
    with Writer(path) as writer:
        conns: Dict[str, object] = {}
        for topic, t, msg, trail in sorted(msgs, key=lambda m: m[1]):
            if topic not in conns:
                conns[topic] = writer.add_connection(topic, msg.__msgtype__, typestore=rs.TS)
            writer.write(conns[topic], t, bytes(rs.TS.serialize_ros1(msg, msg.__msgtype__))
                         + trail)


def _realsense_case(rng, ctx, note) -> None:
    from mast3r_ros.replay.sources import SourceOptions, open_source
    rs = ctx["rs"]
    path = _fresh(ctx, "case.bag")
    op = rng.random()
    if op < 0.55:  # a recording written whole, of odd topics and messages
        aligned = bool(rng.random() < 0.6)
        msgs = _realsense_messages(rs, aligned, 0.0001 if aligned else 0.001)
        what = ("aligned: " if aligned else "") + "; ".join(
            _edit_realsense(rng, rs, msgs) for _ in range(int(rng.integers(1, 4))))
        try:
            _write_realsense(path, rs, msgs)
        except Exception:  # noqa: BLE001 - not serializable: no recorder writes it
            note[0] = what + " (not written)"
            return
    else:
        what = damaged_bag_copy(rng, Path(_pick(rng, ctx["bags"])), path, op, 0.75, 0.9)
    depth_topic = _pick(rng, [None, rs.DEPTH, rs.DEPTH, "/device_0/sensor_0/Infrared_1/image/"
                              "data", "/device_0/sensor_0/Depth_0/image"])
    depth_scale = _pick(rng, [None, None, None, 1000.0])
    note[0] = f"{what} (depth {depth_topic}, scale {depth_scale})"
    _quiet_refusal(lambda: _check_depth(open_source(
        str(path), SourceOptions(depth_topic=depth_topic, depth_scale=depth_scale))))


# ---------------------------------------------------------------- --stereo-depth folders

_ODD_VALUES = ["nan", ".nan", "inf", "-.inf", "0", "-0", "-1", "1e308", "-1e308", "1e-320",
               "1e-9", "2", "0.5", "-200", "1e6", "4294967296", "'1'", "[]", "null", "3.0"]


def _stereo_setup(ctx: dict) -> None:
    _unit_tests()
    ts = importlib.import_module("test_stereo_depth")
    euroc, _ = ts.euroc_stereo_tree(ctx["tmp"] / "euroc", 2)
    kitti = ctx["tmp"] / "kitti"
    ts.kitti_stereo_tree(kitti, 2)
    ctx["trees"] = [("euroc", euroc), ("kitti", kitti)]


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8", "surrogateescape")


def _write(path: Path, text: str) -> None:
    path.write_bytes(text.encode("utf-8", "surrogateescape"))


def _edit_sensor_yaml(rng, path: Path) -> str:
    """One entry of a sensor.yaml's T_BS data, intrinsics, distortion_coefficients or
    resolution set to an odd value, a list cut or lengthened, or a model renamed."""
    import re
    if not path.exists():
        return f"{path.parent.name}: no sensor.yaml"
    text = _read(path)
    key = _pick(rng, ["data", "intrinsics", "distortion_coefficients", "resolution",
                      "distortion_model", "camera_model"])
    if key in ("distortion_model", "camera_model"):
        value = _pick(rng, ["equidistant", "radtan", "pinhole", "omni", "", "fisheye",
                            "plumb_bob", "radial-tangential ", "[1]"])
        text = re.sub(rf"{key}: .*", f"{key}: {value}", text)
        _write(path, text)
        return f"{path.parent.name} {key}: {value!r}"
    m = re.search(rf"{key}: \[(.*)\]", text)
    if m is None:
        return f"{path.parent.name}: no {key}"
    items = [s.strip() for s in m.group(1).split(",")]
    op = rng.random()
    if op < 0.6:
        k = int(rng.integers(0, len(items)))
        items[k] = _pick(rng, _ODD_VALUES)
        edit = f"[{k}] = {items[k]}"
    elif op < 0.8:
        items = items[: int(rng.integers(0, len(items)))]
        edit = f"cut to {len(items)}"
    elif key == "resolution":
        items = [_pick(rng, ["0", "1", "8", "160", "320", "321", "100000", "-320"]) for _ in items]
        edit = f"= {items}"
    else:
        items = items + ["0.0"] * int(rng.integers(1, 9))
        edit = f"lengthened to {len(items)}"
    text = text[:m.start(1)] + ", ".join(items) + text[m.end(1):]
    _write(path, text)
    return f"{path.parent.name} {key} {edit}"


def _edit_kitti_p(rng, path: Path) -> str:
    """One entry of calib.txt's P0..P3 (mostly the right cameras' P1, P3) set to an odd value
    (the baseline offset, fx, cx, the last row), or a P line dropped or cut."""
    if not path.exists():
        return "no calib.txt"
    lines = _read(path).splitlines(keepends=True)
    rows = [i for i, line in enumerate(lines) if line[:1] == "P"]
    if not rows:
        return "calib.txt: no P line"
    right = [i for i in rows if lines[i][:2] in ("P1", "P3")]
    i = _pick(rng, right * 3 + rows)
    tokens = lines[i].split()
    op = rng.random()
    if op < 0.1:
        del lines[i]
        edit = "dropped"
    elif op < 0.2:
        lines[i] = " ".join(tokens[: int(rng.integers(1, len(tokens)))]) + "\n"
        edit = "cut"
    else:
        k = _pick(rng, [4, 4, 4, 1, 3, 6, 7, 8, 9, 10, 11, 12])  # 4: the x offset fx*(-B)
        if k < len(tokens):
            tokens[k] = _pick(rng, _ODD_VALUES[:14] + ["-1e-12", "-100", "100", "1e-300"])
        lines[i] = " ".join(tokens) + "\n"
        edit = f"P[{k - 1}] = {tokens[k] if k < len(tokens) else '-'}"
    _write(path, "".join(lines))
    return f"calib.txt {tokens[0] if tokens else '?'} {edit}"


def _edit_right_image(rng, path: Path) -> str:
    import cv2
    op = rng.random()
    try:  # one restated to a size over OpenCV's limit: cv2.error
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED) if op < 0.45 else None
    except cv2.error:
        image = None
    if image is None or not image.size:  # damaged by an edit before: its bytes then
        op = max(op, 0.45)
    if op < 0.3:
        size = _pick(rng, [(1, 1), (8, 4), (319, 160), (320, 159), (640, 320)])
        cv2.imwrite(str(path), cv2.resize(image, size))
        return f"{path.name} resized {size}"
    if op < 0.45:
        other = _pick(rng, [np.dstack([image] * 3), image.astype(np.uint16) * 257,
                            np.zeros_like(image), np.dstack([image] * 4)])
        cv2.imwrite(str(path), other)
        return f"{path.name} as {other.dtype} {other.shape}"
    mutate = restate_png_size if op < 0.55 else mutate_bytes
    data, m = mutate(rng, path.read_bytes())
    path.write_bytes(data)
    return f"{path.name}: {m}"


def _stereo_case(rng, ctx, note) -> None:
    from mast3r_ros.replay.sources import SourceOptions, open_source
    kind, src = _pick(rng, ctx["trees"])
    root = _fresh(ctx, "case")
    shutil.copytree(src, root)
    if kind == "euroc":
        mav0 = root / "mav0"
        yamls = [mav0 / "cam1" / "sensor.yaml"] * 3 + [mav0 / "cam0" / "sensor.yaml"]
        lists = [mav0 / "cam1" / "data.csv"]
        images = sorted((mav0 / "cam1" / "data").glob("*.png"))
        given = _pick(rng, [root, root, mav0, mav0 / "cam0", mav0 / "cam1"])
    else:
        seq = root / "dataset" / "sequences" / "00"
        yamls, lists = [], [seq / "times.txt"]
        images = sorted((seq / "image_1").glob("*.png"))
        given = _pick(rng, [seq, seq, seq / "image_0", seq / "image_1"])
    what = []
    for _ in range(int(rng.integers(1, 3))):
        op = rng.random()
        if op < 0.45:
            what.append(_edit_sensor_yaml(rng, _pick(rng, yamls)) if yamls
                        else _edit_kitti_p(rng, seq / "calib.txt"))
        elif op < 0.55:
            path = _pick(rng, yamls or [seq / "calib.txt"])
            if not path.exists():
                continue
            text, m = (_edit_number if rng.random() < 0.5 else mutate_text)(rng, _read(path))
            _write(path, text)
            what.append(f"{path.name}: {m}")
        elif op < 0.8:
            path = _pick(rng, images)
            if path.exists():
                what.append(_edit_right_image(rng, path))
        elif op < 0.9:
            path = _pick(rng, lists)
            if not path.exists():
                continue
            text, m = _edit_number(rng, _read(path))
            _write(path, text)
            what.append(f"{path.name}: {m}")
        else:
            path = _pick(rng, images + lists + yamls)
            if path.exists():
                path.unlink()
                what.append(f"{path.name} removed")
    cli = bool(rng.random() < ctx.get("cli_share", CLI_SHARE))
    note[0] = (f"{kind} as {given.relative_to(root.parent)}{' (build-map)' if cli else ''}: "
               + "; ".join(what))
    if cli:
        _build_map(ctx, given)
        return

    def read() -> None:
        source = open_source(str(given), SourceOptions(stereo_depth=True))
        _check_depth(source)
        for pose in source.groundtruth()[1]:
            _check_pose(pose)

    _quiet_refusal(read)


def _build_map(ctx: dict, given: Path) -> None:
    """``mast3r-ros build-map GIVEN --matcher sift --stereo-depth``: exit 0 with a whole map
    (manifest.json last) or 2 with one line on stderr and no map folder; every keyframe pose
    of a map built finite and rigid."""
    from mast3r_ros.replay.cli import main
    out = _fresh(ctx, "map")
    params = ctx["tmp"] / "p.yaml"
    if not params.exists():
        params.write_text("mast3r_localizer:\n  ros__parameters:\n"
                          "    map_build: {min_translation_m: 0.01}\n")
    import warnings
    err, std = io.StringIO(), io.StringIO()
    with redirect_stderr(err), redirect_stdout(std), warnings.catch_warnings():
        warnings.simplefilter("always", RuntimeWarning)  # printed as a fresh process prints it
        rc = main(["build-map", str(given), "--out", str(out), "--matcher", "sift",
                   "--stereo-depth", "--params", str(params), "--log-level", "error"])
    lines = err.getvalue().strip().splitlines()
    assert rc in (0, 2), (rc, err.getvalue()[-400:])
    if rc == 2:
        assert len(lines) == 1, err.getvalue()[-1200:]
        assert not out.exists() or not any(out.iterdir()), f"refused, left {sorted(out.iterdir())}"
        from mast3r_ros.core.errors import InputError
        raise InputError(lines[0])  # a refusal, counted as one
    from mast3r_ros.core.keyframes import KeyframeMap
    kmap = KeyframeMap.load(str(out))
    for keyframe in kmap.keyframes:
        _check_pose(keyframe.map_from_cam)


RECORDING_TARGETS: Dict[str, Tuple[Callable, Callable]] = {
    "realsense": (_realsense_setup, _realsense_case),
    "stereo_depth": (_stereo_setup, _stereo_case),
}
