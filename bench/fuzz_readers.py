"""Reader targets of bench/fuzz_inputs.py: ROS 1 ``.bag`` files (rosbags' reader), ``--params``
ROS 2 parameter files, EuRoC/ASL dataset folders and KITTI odometry sequences, each built valid
once (as the test suite builds them) and mutated per input. A read that succeeds is checked too
(`_check_frames`: finite rigid poses, int stamps, intrinsics of the image's size): a wrong value
read silently is an escape (AssertionError) as a traceback is."""

from __future__ import annotations

import importlib
import shutil
import struct
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np



def _pick(rng, items):
    return items[int(rng.integers(0, len(items)))]


def _fresh(ctx: dict, name: str) -> Path:
    out = ctx["tmp"] / name
    if out.exists():
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    return out


def mutate_bytes(rng, data: bytes) -> Tuple[bytes, str]:
    """`fuzz_targets.mutate_bytes` (imported when called: fuzz_targets imports this module)."""
    from fuzz_targets import mutate_bytes as mutate
    return mutate(rng, data)


def mutate_text(rng, text: str) -> Tuple[str, str]:
    from fuzz_targets import mutate_text as mutate
    return mutate(rng, text)


def restate_png_size(rng, data: bytes) -> Tuple[bytes, str]:
    from fuzz_targets import restate_png_size as restate
    return restate(rng, data)

# ---------------------------------------------------------------- checks of what was read


def _check_frames(source) -> int:
    """Read every frame of ``source``; assert what a read frame holds. Returns frames read."""
    from mast3r_ros.replay.sources import frames_or_unreadable
    from mast3r_ros.core.types import UnreadableFrame
    n = 0
    for item in frames_or_unreadable(source):
        if isinstance(item, UnreadableFrame):
            continue
        n += 1
        assert item.rgb.dtype == np.uint8 and item.rgb.ndim == 3
        if item.intrinsics is not None:
            assert (item.intrinsics.width, item.intrinsics.height) == item.rgb.shape[1::-1]
            assert np.isfinite(item.intrinsics.K).all()
        if item.map_from_cam is not None:
            _check_pose(item.map_from_cam)
    stamps = np.asarray(source.stamps_ns)
    assert stamps.dtype.kind == "i" and len(stamps) == len(source)
    return n


def _check_pose(pose) -> None:
    pose = np.asarray(pose)
    assert pose.shape == (4, 4) and np.isfinite(pose).all(), pose
    rot = pose[:3, :3]
    assert np.abs(rot.T @ rot - np.eye(3)).max() < 1e-6 and np.linalg.det(rot) > 0, pose
    assert np.allclose(pose[3], [0, 0, 0, 1]), pose


# ---------------------------------------------------------------- ROS 1 .bag files


def _ros1_setup(ctx: dict) -> None:
    from rosbags.rosbag1 import Writer
    t1 = importlib.import_module("test_ros1_bag")
    ctx["t1"] = t1
    bags = [t1._write_ros1_bag(ctx["tmp"] / "plain.bag"),
            t1._write_ros1_bag(ctx["tmp"] / "tf1.bag", "tf/msg/tfMessage")]
    for fmt in (Writer.CompressionFormat.BZ2, Writer.CompressionFormat.LZ4):
        bags.append(_write_ros1(ctx["tmp"] / f"{fmt.name.lower()}.bag", t1, _ros1_messages(t1),
                                fmt))
    ctx["bags"] = bags


def _ros1_messages(t1) -> List[Tuple[str, int, object]]:
    """The messages of test_ros1_bag's bag: (topic, stamp ns, message)."""
    ms = t1.MS
    msgs = [("/tf_static", 1, t1._tf("base_link", "camera_optical", 0, [0.1, 0.0, 0.5]))]
    for i, t in enumerate([1000 * ms, 1100 * ms]):
        msgs.append(("/camera/color/image_raw", t, t1.T1["sensor_msgs/msg/Image"](
            header=t1._header(t, seq=i), height=t1.H, width=t1.W, encoding="rgb8",
            is_bigendian=0, step=t1.W * 3, data=t1.RGB.reshape(-1).copy())))
        msgs.append(("/camera/color/camera_info", t, t1._camera_info(t)))
    for t, x in [(950 * ms, 0.0), (1050 * ms, 0.1), (1150 * ms, 0.2)]:
        msgs.append(("/tf", t, t1._tf("map", "base_link", t, [x, 0.0, 0.0])))
    return msgs


def _write_ros1(path: Path, t1, msgs, compression=None) -> Path:
    from rosbags.rosbag1 import Writer
    writer = Writer(path)
    if compression is not None:
        writer.set_compression(compression)
    with writer:
        conns: Dict[str, object] = {}
        for topic, t, msg in sorted(msgs, key=lambda m: m[1]):
            if topic not in conns:
                conns[topic] = writer.add_connection(topic, msg.__msgtype__, typestore=t1.TS1)
            writer.write(conns[topic], t, t1.TS1.serialize_ros1(msg, msg.__msgtype__))
    return path


def ros1_fields(data: bytes) -> List[Tuple[str, int, int, int]]:
    """The header fields of a ROS 1 bag's records (walking uncompressed chunks and connection
    records' data too): (name, offset of the field's 4-byte length, of its value, value size);
    also ``<header_len>`` and ``<data_len>`` entries (the value is the 4-byte length)."""
    out: List[Tuple[str, int, int, int]] = []

    def fields(start: int, end: int) -> Dict[str, bytes]:
        found: Dict[str, bytes] = {}
        pos = start
        while pos + 4 <= end:
            flen = struct.unpack_from("<I", data, pos)[0]
            if pos + 4 + flen > end:
                break
            name, _, value = data[pos + 4:pos + 4 + flen].partition(b"=")
            key = name.decode("latin-1")
            out.append((key, pos, pos + 4 + len(name) + 1, len(value)))
            found[key] = value
            pos += 4 + flen
        return found

    def records(start: int, end: int, depth: int) -> None:
        pos = start
        while pos + 4 <= end:
            hlen = struct.unpack_from("<I", data, pos)[0]
            if pos + 8 + hlen > end:
                return
            out.append(("<header_len>", pos, pos, 4))
            head = fields(pos + 4, pos + 4 + hlen)
            dpos = pos + 4 + hlen
            dlen = struct.unpack_from("<I", data, dpos)[0]
            out.append(("<data_len>", dpos, dpos, 4))
            if dpos + 4 + dlen > end:
                return
            op = head.get("op", b"")
            if op == b"\x05" and head.get("compression") == b"none" and depth == 0:
                records(dpos + 4, dpos + 4 + dlen, 1)
            elif op == b"\x07":
                fields(dpos + 4, dpos + 4 + dlen)
            pos = dpos + 4 + dlen

    if data.startswith(b"#ROSBAG V2.0\n"):
        records(13, len(data), 0)
    return out


_ODD_INTS = [0, 1, 2, 3, 5, 7, 8, 0x7F, 0xFF, 0xFFFF, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1]


def _edit_ros1_field(rng, data: bytes) -> Tuple[bytes, str]:
    """One header field of a record set to an odd value of its size (an op code, a connection
    id, a count, a chunk position, a time, a length; a compression, type or md5sum text)."""
    found = ros1_fields(data)
    if not found:
        return mutate_bytes(rng, data)
    name, flen_at, at, size = _pick(rng, found)
    out = bytearray(data)
    if rng.random() < 0.15 and not name.startswith("<"):  # the field's own length
        value = _pick(rng, _ODD_INTS)
        out[flen_at:flen_at + 4] = struct.pack("<I", value)
        return bytes(out), f"{name} field length {value}"
    if name == "op":
        value = bytes([int(rng.integers(0, 12))])
    elif name == "compression":
        value = _pick(rng, [b"none", b"bz2", b"lz4", b"NONE", b"zstd", b""]).ljust(size)[:size]
    elif name in ("type", "md5sum", "topic", "message_definition", "callerid", "latching"):
        text = bytearray(data[at:at + size])
        if text:
            text[int(rng.integers(0, len(text)))] = _pick(rng, b"/*0 x\x00\xff")
        value = bytes(text)
    elif size in (4, 8):
        v = _pick(rng, _ODD_INTS + [int.from_bytes(data[at:at + size], "little") + 1])
        value = (v % 2 ** (8 * size)).to_bytes(size, "little")
    else:
        value = rng.integers(0, 256, size, np.uint8).tobytes()
    out[at:at + size] = value[:size]
    return bytes(out), f"{name}={bytes(value[:size])[:16]!r}"


def _edit_ros1_payload(rng, data: bytes) -> Tuple[bytes, str]:
    """Bytes of one message's serialized payload changed in place (its record's lengths kept):
    a string's or an array's length, a stamp, pixel bytes."""
    found = ros1_fields(data)
    payloads = [(at + 4, struct.unpack_from("<I", data, at)[0])
                for (name, _, at, _), (prev, _, _, _) in zip(found[1:], found)
                if name == "<data_len>" and prev == "time"]  # a message record's data
    if not payloads:
        return mutate_bytes(rng, data)
    start, size = _pick(rng, payloads)
    out = bytearray(data)
    at = start + min(int(rng.integers(0, 48)), max(size - 4, 0))
    value = _pick(rng, [0, 1, 2 ** 31, 2 ** 32 - 1, 0xFFFF, 7, size, size + 1])
    out[at:at + 4] = value.to_bytes(4, "little")[:len(out[at:at + 4])]
    return bytes(out), f"payload +{at - start} of {size} B = {value}"


def _edit_ros1_message(rng, t1, msgs) -> str:
    """One message of the bag given an odd but serializable field."""
    i = int(rng.integers(0, len(msgs)))
    topic, t, msg = msgs[i]
    if "image_raw" in topic:
        field = _pick(rng, ["height", "width", "step", "encoding", "data", "stamp"])
        if field == "encoding":
            msg.encoding = _pick(rng, ["", "mono8", "16UC1", "bgr8", "yuv422", "x"])
        elif field == "data":
            msg.data = msg.data[: int(rng.integers(0, msg.data.size + 1))]
        elif field == "stamp":
            msg.header.stamp.sec = _pick(rng, [0, 2 ** 31 - 1, 2 ** 32 - 1])
        else:
            setattr(msg, field, _pick(rng, [0, 1, 2 ** 32 - 1, getattr(msg, field) * 2]))
        return f"#{i} image {field}"
    if "camera_info" in topic:
        field = _pick(rng, ["K", "D", "P", "R", "width", "distortion_model"])
        if field in ("K", "P", "R"):
            arr = getattr(msg, field).copy()
            arr[int(rng.integers(0, arr.size))] = _pick(rng, [np.nan, np.inf, 0.0, -1.0])
            setattr(msg, field, arr)
        elif field == "D":
            msg.D = np.zeros(int(rng.integers(0, 16)))
        elif field == "width":
            msg.width = _pick(rng, [0, 1, 2 ** 32 - 1])
        else:
            msg.distortion_model = _pick(rng, ["", "equidistant", "x"])
        return f"#{i} camera_info {field}"
    tr = msg.transforms[0]
    field = _pick(rng, ["rotation", "translation", "child", "parent"])
    if field == "rotation":
        q = tr.transform.rotation
        q.x = q.y = q.z = q.w = _pick(rng, [0.0, np.nan, 1.0])
    elif field == "translation":
        tr.transform.translation.x = _pick(rng, [np.nan, np.inf, 1e300])
    elif field == "child":
        tr.child_frame_id = _pick(rng, ["", "/camera_optical", "map", "base_link"])
    else:
        tr.header.frame_id = _pick(rng, ["", "/map", "camera_optical"])
    return f"#{i} {topic} {field}"


def damaged_bag_copy(rng, src: Path, path: Path, op: float, field_below: float,
                     payload_below: float) -> str:
    """Write ``src`` (a ROS 1 bag) to ``path`` with 1-2 damages -- a record header field
    (``op < field_below``), a message payload (``op < payload_below``), else raw bytes -- and
    return what was done."""
    data = src.read_bytes()
    edits = []
    for _ in range(int(rng.integers(1, 3))):
        if op < field_below:
            data, m = _edit_ros1_field(rng, data)
        elif op < payload_below:
            data, m = _edit_ros1_payload(rng, data)
        else:
            data, m = mutate_bytes(rng, data)
        edits.append(m)
    path.write_bytes(data)
    return f"{src.name}: " + "; ".join(edits)


def _ros1_case(rng, ctx, note) -> None:
    from mast3r_ros.replay.sources import SourceOptions, open_source
    path = _fresh(ctx, "case.bag")
    op = rng.random()
    if op < 0.2:  # a bag written whole of odd messages
        t1 = ctx["t1"]
        msgs = _ros1_messages(t1)
        what = "; ".join(_edit_ros1_message(rng, t1, msgs)
                         for _ in range(int(rng.integers(1, 3))))
        try:
            _write_ros1(path, t1, msgs)
        except Exception:  # noqa: BLE001 - not serializable: no recorder writes it
            note[0] = what + " (not written)"
            return
    else:
        what = damaged_bag_copy(rng, Path(_pick(rng, ctx["bags"])), path, op, 0.5, 0.7)
    pose_frames = _pick(rng, [None, "map:camera_optical", "map:base_link"])
    note[0] = f"{what} (pose_frames {pose_frames})"
    source = open_source(str(path), SourceOptions(pose_frames=pose_frames))
    _check_frames(source)


# ---------------------------------------------------------------- --params files

_PARAM_LINES = ["max_keyframes: 2", "prior_radius_m: 3.0", "map_frame: \"map\"",
                "warmup: true", "device: \"auto\"", "gates:\n      min_inliers: 30",
                "matcher: \"sift\""]
_ODD_YAML = [".nan", ".inf", "-.inf", "1e400", "9" * 30, "-9223372036854775809", "0x10",
             "017", "0o17", "0b101", "1_000", "1:30", "12:30:00", "+12", ".5", "5.", "1e3",
             "-0.0", "'3'", "\"3.0\"", "[1, 2]", "{a: 1}", "~", "null", "", "yes", "on", "No",
             "TRUE", "\"é\"", "\"\\u202e\"", "!!binary aGVsbG8=", "!!float 3", "!!int '3'",
             "!!str 3", "*nowhere", "&a 3", "!!python/object:os.system {}", "2001-12-14",
             "!!set {a}", "!!timestamp 2001-12-14", "=", "<<", "\"\\x00\"", "'" + "x" * 5000 + "'",
             "!!omap [a: 1]", "!custom 3", "|\n      text", ">-\n      folded", "? complex",
             "y", "N", "inf", "nan", "0x1p3", "08", "1e-2", "'1e-2'", "5E0", "1.5e+3", ".5e2",
             "-0x10", "Infinity", "1e", "e3", "0o7"]


def _params_texts(localize: str) -> List[Tuple[str, str]]:
    block = "    ros__parameters:\n      max_keyframes: 2\n      map_frame: \"map\"\n"
    return [
        ("localize.yaml", localize),
        ("wildcard", "/**:\n  ros__parameters:\n    use_sim_time: false\n    max_keyframes: 3\n"
                     "    other_node_param: 1\n"),
        ("nested", "robot1:\n  mast3r_localizer:\n" + block),
        ("namespaced", "/robot1/mast3r_localizer:\n" + block[2:].replace("\n  ", "\n")),
        ("two blocks", "/**:\n  ros__parameters:\n    max_keyframes: 3\n"
                       "mast3r_localizer:\n  ros__parameters:\n    max_keyframes: 4\n"
                       "    gates:\n      min_inliers: 20\n"),
        ("anchors", "common: &common\n  ros__parameters: &p\n    max_keyframes: 3\n"
                    "    map_frame: world\n/**/mast3r_localizer:\n  <<: *common\n"),
        ("alias value", "/**:\n  ros__parameters:\n    map_frame: &f world\n"
                        "    odom_frame: *f\n    gates: &g {min_inliers: 12}\n"),
        ("dotted", "mast3r_localizer:\n  ros__parameters:\n    gates.min_inliers: 15\n"
                   "    qos_overrides./tf.subscription.depth: 5\n"),
        ("empty", ""),
        ("comments", "# nothing\n\n# here\n"),
    ]


def _params_setup(ctx: dict) -> None:
    repo = Path(__file__).resolve().parents[1]
    ctx["texts"] = _params_texts((repo / "config" / "localize.yaml").read_text())


def _edit_params(rng, text: str) -> Tuple[str, str, Optional[Tuple[str, str]]]:
    """A parameter's value replaced by an odd YAML value (the key and value also returned), a
    line added under a block (an unknown key, another node, a wildcard), a recursive or fanning
    alias, or mutate_text."""
    op = int(rng.integers(0, 6))
    lines = text.splitlines(keepends=True)
    values = [i for i, line in enumerate(lines) if ":" in line and not line.lstrip()
              .startswith("#") and line.split(":", 1)[1].strip()]
    if op <= 1 and values:
        i = _pick(rng, values)
        key, _ = lines[i].split(":", 1)
        odd = _pick(rng, _ODD_YAML)
        lines[i] = f"{key}: {odd}\n"
        return "".join(lines), f"l{i + 1} {key.strip()}: {odd[:20]}", (key.strip(), odd)
    if op == 2:
        at = [i for i, line in enumerate(lines) if "ros__parameters" in line] or [0]
        i = _pick(rng, at)
        new = _pick(rng, _PARAM_LINES + ["unknown_param: 1", "gates: 5", "gates:",
                                         "max_keyfrmes: 2", "ros__parameters: {}",
                                         "use_sim_time: 1"])
        key = _pick(rng, ["", "ns", ".", "  "])
        lines.insert(i + 1, " " * 6 + (f"{key}." if key.strip() else "") + new + "\n")
        return "".join(lines), f"add {new!r} after l{i + 1}", None
    if op == 3:
        head = _pick(rng, ["/**", "/*", "/**/mast3r_localizer", "/*/mast3r_localizer",
                           "/robot2/mast3r_localizer", "/robot1/**", "mast3r_localizer",
                           "mast3r_localizer/", "//mast3r_localizer", "/**/**", "*", "**",
                           "robot1", "/robot1/*", "/", "", "'/**'", "/**/mast3r_localizer/*"])
        body = _pick(rng, ["  ros__parameters:\n    max_keyframes: 5\n",
                           "  ros__parameters:\n", "  ros__parameters: 3\n",
                           "  mast3r_localizer:\n    ros__parameters:\n      max_keyframes: 4\n",
                           "  ros__parameters:\n    gates: {min_inliers: 14}\n"])
        return text + f"{head}:\n{body}", f"block {head!r}", None
    if op == 4:
        kind = _pick(rng, ["recursive", "fan", "recursive list"])
        if kind == "recursive":
            extra = "    gates: &g\n      min_inliers: 10\n      inner: *g\n"
        elif kind == "recursive list":
            extra = "    extra: &l [1, *l]\n"
        else:  # each level twice the one below: 2**26 leaves reached through aliases
            levels = ["    l0: &l0 {a: 1, b: 2}\n"] + [
                f"    l{k}: &l{k} {{a: *l{k - 1}, b: *l{k - 1}}}\n" for k in range(1, 27)]
            extra = "".join(levels)
        head = _pick(rng, ["/**", "mast3r_localizer"])
        return text + f"{head}:\n  ros__parameters:\n" + extra, f"alias {kind} in {head}", None
    return (*mutate_text(rng, text), None)


def _params_case(rng, ctx, note) -> None:
    from mast3r_ros.core.config import load_config_yaml
    from mast3r_ros.core.config.params import config_to_params
    kind, text = _pick(rng, ctx["texts"])
    what = []
    for _ in range(int(rng.integers(1, 3))):
        text, m, edited = _edit_params(rng, text)
        what.append(m)
    path = ctx["tmp"] / "params.yaml"
    enc = _pick(rng, ["utf-8"] * 6 + ["utf-16", "latin-1"])
    path.write_bytes(text.encode(enc, "surrogateescape" if enc == "utf-8" else "replace"))
    namespace = _pick(rng, [None, None, "robot1", "/", "/robot1", "robot2", "", "a b", "/**"])
    note[0] = f"{kind} ({enc}, namespace {namespace!r}): " + "; ".join(what)
    cfg = load_config_yaml(str(path), namespace=namespace)
    values = config_to_params(cfg)
    for name, value in values.items():
        assert type(value) in (bool, int, float, str), (name, value)
        if isinstance(value, float):
            assert np.isfinite(value), (name, value)
    if edited is not None and enc == "utf-8":  # the last edit's value, as the node reads it
        _check_rcl_typed(edited, values)


_RCL_BOOLS = {v for w in ("y", "yes", "true", "on", "n", "no", "false", "off")
              for v in (w, w.capitalize(), w.upper())}


def _rcl_type(token: str) -> Optional[type]:
    """The type rcl_yaml_param_parser gives a plain YAML scalar (its get_value: bools by name,
    else C's strtoll(base 0), else strtod, else a string); None where this does not tell (a
    tag, a flow collection, an alias, a block scalar, a key)."""
    import re
    t = token.strip()
    if not t or t[0] in "!&*[{|>?<=":
        return None
    if t[0] in "'\"":
        return str
    if t in _RCL_BOOLS:
        return bool
    if re.fullmatch(r"[-+]?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)", t):
        digits = t.lstrip("+-")
        base = 16 if digits[:2].lower() == "0x" else 8 if digits[:1] == "0" else 10
        number = int(digits, base) * (-1 if t[0] == "-" else 1)
        return int if -2 ** 63 <= number < 2 ** 63 else float
    if t in (".nan", ".NaN", ".NAN") or re.fullmatch(r"[-+]?\.(inf|Inf|INF)", t):
        return float
    if re.fullmatch(r"[-+]?((\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|(?i:inf(inity)?|nan))", t):
        return float
    return None if t in ("~", "null", "Null", "NULL") else str


def _check_rcl_typed(edited: Tuple[str, str], values: dict) -> None:
    """A file read whose edited parameter holds the value written, though the node (rcl's
    typing, ROS 2's strict types) would refuse it: read silently where ROS refuses."""
    from mast3r_ros.core.config.params import param_specs
    key, token = edited
    specs = [s for s in param_specs() if s.name.split(".")[-1] == key]
    rcl = _rcl_type(token)
    if len(specs) != 1 or rcl is None or rcl is specs[0].type:
        return
    import yaml
    try:
        written = yaml.safe_load(f"k: {token}")["k"]
    except Exception:  # noqa: BLE001 - not one value: nothing to compare
        return
    got = values[specs[0].name]
    assert not (type(got) is type(written) and got == written), (
        f"{specs[0].name} read as {got!r}, but rcl reads {token!r} as a {rcl.__name__}")


# ---------------------------------------------------------------- EuRoC / ASL folders


def _camera_info(rng, ctx, width: int, height: int):
    """One input in five: a --camera-info YAML of the images' size (its path), else None."""
    if rng.random() >= 0.2:
        return None
    path = ctx["tmp"] / "cam.yaml"
    path.write_text(
        f"image_width: {width}\nimage_height: {height}\ncamera_matrix: {{rows: 3, cols: 3, "
        f"data: [40, 0, {width / 2 - 0.5}, 0, 40, {height / 2 - 0.5}, 0, 0, 1]}}\n"
        "distortion_model: plumb_bob\ndistortion_coefficients: {rows: 1, cols: 5, data: [0, 0, "
        "0, 0, 0]}\nrectification_matrix: {rows: 3, cols: 3, data: [1, 0, 0, 0, 1, 0, 0, 0, 1]}"
        f"\nprojection_matrix: {{rows: 3, cols: 4, data: [40, 0, {width / 2 - 0.5}, 0, 0, 40, "
        f"{height / 2 - 0.5}, 0, 0, 0, 1, 0]}}\n")
    return str(path)


_EYE = "1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1"
_T_BS_VARIANTS = [  # appended to a sensor.yaml: a second T_BS, Kalibr's nested lists, ...
    f"T_BS:\n  cols: 4\n  rows: 4\n  data: [{_EYE}]\n",
    "T_BS: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]\n",
    "T_cam_imu: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]\n",
    f"T_BS2: &t {{data: [{_EYE}]}}\nT_BS3: *t\n", "T_BS: {data: [1, 0, 0]}\n",
    f"extra: {{data: [{_EYE}]}}\n", "---\nT_BS: {data: []}\n", "T_BS: !!binary aGVsbG8=\n"]


def _euroc_setup(ctx: dict) -> None:
    te = importlib.import_module("test_euroc_source")
    trees = []
    for gt in ("state_groundtruth_estimate0", "vicon0", None):
        root = ctx["tmp"] / f"euroc_{gt}"
        te.euroc_tree(root, frames=4, gt=gt)
        trees.append(root)
    ctx["trees"] = trees


_ODD_TOKENS = ["0", "-0", "1", "-1", "-35.9", "1e-320", "1e308", "-1e308", "nan", "inf", "+1",
               "1e3", "0x10", "1_000", "", " ", "9" * 25, "²", "١٢", "３", "1,5", "1.5.5", "e5",
               "0.0000001", "1403636579763555584", "9223372036854775808", "-1403636579763555584"]


def _edit_number(rng, text: str) -> Tuple[str, str]:
    """One number of a line (split at commas / white space) replaced by an odd token, or a line
    doubled with one number changed (a stamp twice, two poses at it), or two lines swapped."""
    import re
    lines = text.splitlines(keepends=True)
    numbered = [i for i, line in enumerate(lines) if re.search(r"\d", line)
                and not line.lstrip().startswith("#")]
    if not numbered:
        return text, "no number"
    i = _pick(rng, numbered)
    op = rng.random()
    if op < 0.15 and len(numbered) > 1:
        j = _pick(rng, numbered)
        lines[i], lines[j] = lines[j], lines[i]
        return "".join(lines), f"l{i + 1}<->l{j + 1}"
    spans = [m.span() for m in re.finditer(r"[^,\s]+", lines[i])]
    a, b = _pick(rng, spans)
    odd = _pick(rng, _ODD_TOKENS)
    edited = lines[i][:a] + odd + lines[i][b:]
    if op < 0.3:
        lines.insert(i + 1, edited)
        return "".join(lines), f"l{i + 1} doubled as {odd!r}"
    lines[i] = edited
    return "".join(lines), f"l{i + 1} token {a}: {odd!r}"


def _mutate_file(rng, path: Path) -> str:
    if path.suffix == ".png":
        mutate = restate_png_size if rng.random() < 0.2 else mutate_bytes
        data, m = mutate(rng, path.read_bytes())
        path.write_bytes(data)
        return m
    if rng.random() < 0.2:
        data, m = mutate_bytes(rng, path.read_bytes())
        path.write_bytes(data)
        return m
    text = path.read_bytes().decode("utf-8", "surrogateescape")
    text, m = (_edit_number if rng.random() < 0.5 else mutate_text)(rng, text)
    if rng.random() < 0.3:
        text, more = mutate_text(rng, text)
        m += "; " + more
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    return m


def _euroc_case(rng, ctx, note) -> None:
    from mast3r_ros.replay.sources import SourceOptions, open_source
    src = _pick(rng, ctx["trees"])
    root = _fresh(ctx, "case")
    shutil.copytree(src, root)
    files = sorted(p for p in root.rglob("*") if p.is_file())
    texts = [p for p in files if p.suffix in (".csv", ".yaml")]
    what = []
    for _ in range(int(rng.integers(1, 3))):
        path = _pick(rng, texts * 4 + files)
        if rng.random() < 0.05:
            path.unlink()
            what.append(f"{path.relative_to(root)} removed")
            files.remove(path)
            texts = [p for p in files if p.suffix in (".csv", ".yaml")]
            if not files:
                break
            continue
        if path.name == "sensor.yaml" and rng.random() < 0.3:  # T_BS as others write it
            extra = _pick(rng, _T_BS_VARIANTS)
            path.write_bytes(path.read_bytes() + extra.encode())
            what.append(f"{path.relative_to(root)} + {extra!r:.40}")
            continue
        what.append(f"{path.relative_to(root)}: {_mutate_file(rng, path)}")
    given = _pick(rng, [root, root / "mav0", root / "mav0" / "cam0"])
    camera_info = _camera_info(rng, ctx, 64, 48)
    note[0] = (f"{src.name} as {given.relative_to(root.parent)}"
               f"{' with --camera-info' if camera_info else ''}: " + "; ".join(what))
    source = open_source(str(given), SourceOptions(depth_scale=None, camera_info=camera_info))
    _check_frames(source)
    stamps, poses = source.groundtruth()
    assert len(stamps) == len(poses)
    for pose in poses:
        _check_pose(pose)


# ---------------------------------------------------------------- KITTI odometry sequences


def _kitti_setup(ctx: dict) -> None:
    tk = importlib.import_module("test_kitti_source")
    trees = []
    for poses in (True, False):
        root = ctx["tmp"] / f"kitti_{poses}"
        tk.kitti_tree(root, frames=4, poses=poses)
        trees.append(root)
    ctx["trees"] = trees


def _edit_projection(rng, path: Path) -> str:
    """One entry of a P line of calib.txt set to an odd value, a K entry (fx, cx, fy, cy, the
    last row) or an offset: a singular or negative K, an offset of 1e308."""
    lines = path.read_bytes().decode("utf-8", "surrogateescape").splitlines(keepends=True)
    rows = [i for i, line in enumerate(lines) if line.startswith("P")]
    if not rows:
        return "calib.txt: no P line"
    i = _pick(rng, rows)
    tokens = lines[i].split()
    k = _pick(rng, [1, 3, 6, 7, 9, 10, 11, 12, 4, 8])  # after the name: row-major 3x4
    if k < len(tokens):
        tokens[k] = _pick(rng, ["0", "-0", "-1", "1e-320", "-35.9", "1e308", "1e-9", "0.5"])
    lines[i] = " ".join(tokens) + "\n"
    path.write_bytes("".join(lines).encode("utf-8", "surrogateescape"))
    return f"calib.txt l{i + 1} P[{k - 1}] = {tokens[k] if k < len(tokens) else '-'}"


def _kitti_case(rng, ctx, note) -> None:
    from mast3r_ros.replay.sources import SourceOptions, open_source
    src = _pick(rng, ctx["trees"])
    root = _fresh(ctx, "case")
    shutil.copytree(src, root)
    seq = root / "dataset" / "sequences" / "00"
    files = sorted(p for p in root.rglob("*") if p.is_file())
    texts = [p for p in files if p.suffix == ".txt"]
    what = []
    for _ in range(int(rng.integers(1, 3))):
        path = _pick(rng, texts * 4 + files)
        if not path.exists():
            continue
        if rng.random() < 0.05:
            path.unlink()
            what.append(f"{path.relative_to(root)} removed")
            continue
        if path.name == "calib.txt" and rng.random() < 0.4:
            what.append(_edit_projection(rng, path))
            continue
        what.append(f"{path.relative_to(root)}: {_mutate_file(rng, path)}")
    given = _pick(rng, [seq, seq / "image_0", seq / "image_2"])
    camera_info = _camera_info(rng, ctx, 62, 19)
    note[0] = (f"{src.name} as {given.name}{' with --camera-info' if camera_info else ''}: "
               + "; ".join(what))
    source = open_source(str(given), SourceOptions(depth_scale=None, camera_info=camera_info))
    n = _check_frames(source)
    assert n <= len(source)
    stamps, poses = source.groundtruth()
    assert len(stamps) == len(poses)
    for pose in poses:
        _check_pose(pose)


READER_TARGETS: Dict[str, Tuple[Callable, Callable]] = {
    "ros1_bag": (_ros1_setup, _ros1_case),
    "params": (_params_setup, _params_case),
    "euroc": (_euroc_setup, _euroc_case),
    "kitti": (_kitti_setup, _kitti_case),
}
