"""File targets of bench/fuzz_inputs.py: camera_info YAML of every layout, TUM folders, keyframe
map folders and rosbag2 recordings, each built valid once (as the test suite builds them) and
mutated per input. See `fuzz_targets` for the mutators and the message targets."""

from __future__ import annotations

import importlib
import json
import shutil
import sys
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import numpy as np

from fuzz_targets import mutate_bytes, mutate_text, restate_png_size

UNIT = Path(__file__).resolve().parents[1] / "test" / "unit"
if str(UNIT) not in sys.path:
    sys.path.insert(0, str(UNIT))


def _pick(rng, items):
    return items[int(rng.integers(0, len(items)))]


def _fresh(ctx: dict, name: str) -> Path:
    out = ctx["tmp"] / name
    if out.exists():
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    return out


# ---------------------------------------------------------------- camera_info YAML files


def _camera_yaml_setup(ctx: dict) -> None:
    codec = importlib.import_module("test_image_codec")
    formats = importlib.import_module("test_camera_info_formats")
    kalibr = importlib.import_module("test_camera_info_kalibr")
    orb = importlib.import_module("test_camera_info_orbslam")
    euroc = importlib.import_module("test_camera_info_euroc")
    ocv = formats._opencv(ctx["tmp"], formats._calibration()).read_text()
    kalibr_text = kalibr.CAMCHAIN.format(model="radtan", coeffs=kalibr.RADTAN)
    euroc_text = euroc.SENSOR.format(model="radial-tangential", coeffs=euroc.RADTAN)
    ctx["texts"] = [("ros", codec.CAMERA_YAML), ("echo", formats.ECHO),
                    ("echo_flow", formats.ECHO_FLOW), ("ros1_echo", formats.ECHO_ROS1),
                    ("opencv", ocv), ("kalibr", kalibr_text), ("orbslam2", orb.ORBSLAM2),
                    ("orbslam3", orb.ORBSLAM3_KB8), ("euroc", euroc_text),
                    ("euroc_unformatted", euroc.SENSOR)]


def _camera_yaml_case(rng, ctx, note) -> None:
    from mast3r_ros.core.image_codec import load_camera_info_yaml
    kind, text = _pick(rng, ctx["texts"])
    text, what = mutate_text(rng, text)
    if rng.random() < 0.3:
        text, more = mutate_text(rng, text)
        what += "; " + more
    path = ctx["tmp"] / "cam.yaml"
    path.write_bytes(text.encode("utf-8", "surrogateescape") if rng.random() < 0.8
                     else text.encode("latin-1", "replace"))
    note[0] = f"{kind}: {what}"
    load_camera_info_yaml(path, rectified=bool(rng.random() < 0.2))


# ---------------------------------------------------------------- TUM folders


def _tum_setup(ctx: dict) -> None:
    from mast3r_ros.replay.synthetic import write_demo_sequences
    map_dir, _ = write_demo_sequences(str(ctx["tmp"] / "demo"), num_frames=4, width=64,
                                      height=48, seed=1)
    ctx["tum"] = Path(map_dir)
    ctx["tum_files"] = sorted(p.name for p in Path(map_dir).iterdir() if p.is_file())


def _tum_case(rng, ctx, note) -> None:
    from mast3r_ros.replay.sources import SourceOptions, frames_or_unreadable, open_source
    folder = _fresh(ctx, "case")
    shutil.copytree(ctx["tum"], folder)
    what = []
    for _ in range(int(rng.integers(1, 3))):
        name = _pick(rng, ["rgb.txt", "depth.txt", "groundtruth.txt", "camera.yaml",
                           "rgb.txt", "groundtruth.txt", "image"])
        if name == "image":
            images = sorted((folder / _pick(rng, ["rgb", "depth"])).glob("*.png"))
            path = images[int(rng.integers(0, len(images)))]
            mutate = restate_png_size if rng.random() < 0.2 else mutate_bytes
            data, m = mutate(rng, path.read_bytes())
            path.write_bytes(data)
            what.append(f"{path.parent.name}/{path.name} {m}")
            continue
        path = folder / name
        if not path.exists():
            continue
        if rng.random() < 0.2:
            data, m = mutate_bytes(rng, path.read_bytes())
            path.write_bytes(data)
        else:
            text, m = mutate_text(rng, path.read_bytes().decode("utf-8", "surrogateescape"))
            path.write_bytes(text.encode("utf-8", "surrogateescape"))
        what.append(f"{name} {m}")
    note[0] = "; ".join(what)
    opts = SourceOptions(depth_scale=None)
    source = open_source(str(folder), opts)
    for item in frames_or_unreadable(source):
        _ = item
    _ = len(source), source.stamps_ns


def _trajectory_case(rng, ctx, note) -> None:
    """A TUM trajectory file (--groundtruth, --trajectory): groundtruth.txt mutated."""
    from mast3r_ros.replay.tum_trajectory import read_tum_trajectory_and_unit
    text = (ctx["tum"] / "groundtruth.txt").read_text()
    data, what = mutate_text(rng, text)
    if rng.random() < 0.3:
        data, more = mutate_text(rng, data)
        what += "; " + more
    path = ctx["tmp"] / "trajectory.txt"
    path.write_bytes(data.encode("utf-8", "surrogateescape"))
    note[0] = what
    read_tum_trajectory_and_unit(path)


# ---------------------------------------------------------------- keyframe maps


def _map_setup(ctx: dict) -> None:
    from mast3r_ros.replay.cli import main
    from mast3r_ros.replay.synthetic import write_demo_sequences
    map_dir, _ = write_demo_sequences(str(ctx["tmp"] / "demo"), num_frames=8, width=160,
                                      height=120, seed=1)
    out = ctx["tmp"] / "map"
    assert main(["build-map", map_dir, "--out", str(out), "--matcher", "sift",
                 "--log-level", "error"]) == 0
    ctx["map"] = out
    ctx["map_files"] = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())


def _odd_json(rng, value):
    return _pick(rng, [None, -1, 0, 1.5, float("nan"), "x", [], {}, [1, "a"], True, 10 ** 30,
                       {"a": 1}, value, str(value)])


def _mutate_json(rng, doc, depth=0):
    """Replace, drop or retype one entry somewhere in a JSON document."""
    if isinstance(doc, dict) and doc:
        key = _pick(rng, sorted(doc))
        op = int(rng.integers(0, 4))
        if op == 0:
            del doc[key]
            return f"drop {key}"
        if op == 1 or depth > 3 or not isinstance(doc[key], (dict, list)):
            doc[key] = _odd_json(rng, doc[key])
            return f"{key}={doc[key]!r:.40}"
        return f"{key}." + _mutate_json(rng, doc[key], depth + 1)
    if isinstance(doc, list) and doc:
        i = int(rng.integers(0, len(doc)))
        if rng.random() < 0.3:
            doc.append(doc[i])
            return f"[{i}] doubled"
        if isinstance(doc[i], (dict, list)) and rng.random() < 0.6:
            return f"[{i}]." + _mutate_json(rng, doc[i], depth + 1)
        doc[i] = _odd_json(rng, doc[i])
        return f"[{i}]={doc[i]!r:.40}"
    return "nothing"


def _mutate_npy(rng, path: Path) -> str:
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception:  # noqa: BLE001 - damaged by an earlier edit of this input
        arr = np.zeros(0)
    op = int(rng.integers(0, 5)) if arr.dtype.names is None else 4
    if op == 0:
        out = arr.astype(_pick(rng, [np.float16, np.float64, np.int32, np.uint8, np.int64]))
    elif op == 1 and arr.ndim:
        out = arr[: int(rng.integers(0, arr.shape[0] + 1))]
    elif op == 2:
        out = arr.reshape(-1) if arr.ndim > 1 else arr.reshape(1, -1)
    elif op == 3 and arr.dtype.kind == "f":
        out = arr.copy()
        out.reshape(-1)[: max(1, out.size // 7)] = _pick(rng, [np.nan, np.inf, -1e30])
    else:
        data, m = mutate_bytes(rng, path.read_bytes())
        path.write_bytes(data)
        return m
    np.save(path, out)
    return f"{arr.dtype}{arr.shape} -> {out.dtype}{out.shape}"


def _resign(folder: Path) -> str:
    """The manifest's size and sha256 of each file it lists made those of the file as it is
    now (a map written that way by a broken writer, not damaged after)."""
    import hashlib
    manifest = folder / "manifest.json"
    try:
        doc = json.loads(manifest.read_text())
        files = doc["files"]
        for rel, entry in files.items():
            data = (folder / rel).read_bytes()
            entry["sha256"], entry["bytes"] = hashlib.sha256(data).hexdigest(), len(data)
    except Exception:  # noqa: BLE001 - a manifest the edits broke: left as it is
        return "not re-signed"
    manifest.write_text(json.dumps(doc))
    return "re-signed"


def _map_case(rng, ctx, note) -> None:
    from mast3r_ros.core.keyframes import KeyframeMap
    folder = _fresh(ctx, "case")
    shutil.copytree(ctx["map"], folder)
    what = []
    for _ in range(int(rng.integers(1, 3))):
        rel = _pick(rng, ctx["map_files"] + ["manifest.json"] * 4)
        path = folder / rel
        if not path.exists():
            continue
        if rel.endswith(".json") and rng.random() < 0.7:
            try:
                doc = json.loads(path.read_text())
            except ValueError:
                continue
            what.append(f"{rel}: " + _mutate_json(rng, doc))
            path.write_text(json.dumps(doc))
        elif rel.endswith(".png") and rng.random() < 0.2:
            data, m = restate_png_size(rng, path.read_bytes())
            path.write_bytes(data)
            what.append(f"{rel}: {m}")
        elif rel.endswith(".npy") and rng.random() < 0.7:
            what.append(f"{rel}: " + _mutate_npy(rng, path))
        else:
            data, m = mutate_bytes(rng, path.read_bytes())
            path.write_bytes(data)
            what.append(f"{rel}: {m}")
    if rng.random() < 0.5:  # the edits re-signed: past the checksums, into the parsers
        what.append(_resign(folder))
    note[0] = "; ".join(what)
    if rng.random() < 0.2:
        KeyframeMap.check_folder(str(folder))
    kmap = KeyframeMap.load(str(folder), lazy=bool(rng.random() < 0.5))
    kmap.verify_files()
    for i in range(len(kmap)):
        _ = kmap.keyframe(i), kmap.image(i), kmap.depth(i)
    _ = kmap.poses, kmap.stamps_ns, kmap.cameras, kmap.distortions, kmap.has_depth
    for identity, size in kmap.encoding_keys():
        kmap.load_encodings(identity, size)


# ---------------------------------------------------------------- rosbag2


def _bag_setup(ctx: dict) -> None:
    tb = importlib.import_module("test_rosbag")
    bags = []
    for storage in tb.STORAGES:
        path = tb.write_bag(ctx["tmp"] / f"bag_{storage.name.lower()}", storage,
                           tb.rgbd_messages())
        bags.append(path)
    ctx["bags"] = bags


def _bag_case(rng, ctx, note) -> None:
    from mast3r_ros.replay.sources import SourceOptions, frames_or_unreadable, open_source
    src = _pick(rng, ctx["bags"])
    folder = _fresh(ctx, "case")
    shutil.copytree(src, folder)
    files = sorted(p for p in folder.iterdir() if p.is_file())
    what = []
    for _ in range(int(rng.integers(1, 3))):
        path = _pick(rng, files)
        if path.name == "metadata.yaml" and rng.random() < 0.7:
            text, m = mutate_text(rng, path.read_bytes().decode("utf-8", "surrogateescape"))
            path.write_bytes(text.encode("utf-8", "surrogateescape"))
        else:
            data, m = mutate_bytes(rng, path.read_bytes())
            path.write_bytes(data)
        what.append(f"{path.name}: {m}")
    note[0] = f"{src.name}: " + "; ".join(what)
    source = open_source(str(folder), SourceOptions())
    for item in frames_or_unreadable(source):
        _ = item
    _ = len(source), source.stamps_ns


def _bag_fields_setup(ctx: dict) -> None:
    ctx["tb"] = importlib.import_module("test_rosbag")


_STAMP_EDITS = [(-1, 0), (0, 0), (2 ** 31 - 1, 999_999_999), (1, 1_999_999_999), (1, 0)]


def _edit_message(rng, msg, msgtype: str) -> str:
    """One field of an Image, CameraInfo or TFMessage set to an odd but serializable value."""
    if rng.random() < 0.2:
        sec, nsec = _pick(rng, _STAMP_EDITS)
        header = msg.transforms[0].header if msgtype == "tf" else msg.header
        header.stamp.sec, header.stamp.nanosec = sec, nsec
        return f"stamp {sec}.{nsec}"
    if rng.random() < 0.1:
        frame = _pick(rng, ["", "/", "camera_optical ", "map", "é", "a" * 300])
        if msgtype == "tf":
            msg.transforms[0].child_frame_id = frame
        else:
            msg.header.frame_id = frame
        return f"frame_id {frame!r:.20}"
    if msgtype == "image":
        field = _pick(rng, ["height", "width", "step", "encoding", "data", "is_bigendian"])
        if field == "encoding":
            msg.encoding = _pick(rng, ["", "mono8", "16UC1", "32FC1", "bgra8", "nv12", "x"])
        elif field == "data":
            msg.data = msg.data[: int(rng.integers(0, msg.data.size + 1))]
        elif field == "is_bigendian":
            msg.is_bigendian = int(rng.integers(0, 256))
        else:
            setattr(msg, field, _pick(rng, [0, 1, 2 ** 32 - 1, 2 ** 31, getattr(msg, field) * 2,
                                            getattr(msg, field) + 1]))
        return f"image {field}={getattr(msg, field)!r:.30}"
    if msgtype == "camera_info":
        field = _pick(rng, ["k", "d", "p", "r", "width", "height", "binning_x",
                            "distortion_model", "roi"])
        odd = _pick(rng, [np.nan, np.inf, 0.0, -1.0, 1e300])
        if field in ("k", "p", "r"):
            arr = getattr(msg, field).copy()
            arr[int(rng.integers(0, arr.size))] = odd
            setattr(msg, field, arr)
        elif field == "d":
            msg.d = np.full(int(rng.integers(0, 16)), odd if rng.random() < 0.5 else 0.0)
        elif field == "distortion_model":
            msg.distortion_model = _pick(rng, ["", "equidistant", "rational_polynomial", "x"])
        elif field == "roi":
            msg.roi.x_offset, msg.roi.width = int(rng.integers(0, 20)), int(rng.integers(0, 20))
        else:
            setattr(msg, field, _pick(rng, [0, 1, 3, 2 ** 32 - 1, 2 ** 31]))
        return f"camera_info {field}"
    tr = msg.transforms[0].transform
    field = _pick(rng, ["translation", "rotation", "rotation"])
    odd = _pick(rng, [np.nan, np.inf, 0.0, 1e300])
    part = getattr(tr, field)
    if field == "rotation" and rng.random() < 0.5:
        part.x = part.y = part.z = part.w = 0.0
        return "tf rotation all zero"
    setattr(part, _pick(rng, ["x", "y", "z"]), odd)
    return f"tf {field} {odd}"


def _bag_fields_case(rng, ctx, note) -> None:
    from mast3r_ros.replay.sources import SourceOptions, frames_or_unreadable, open_source
    tb = ctx["tb"]
    messages = tb.rgbd_messages()
    what = []
    for _ in range(int(rng.integers(1, 4))):
        i = int(rng.integers(0, len(messages)))
        topic, _, msg = messages[i]
        kind = ("tf" if "tf" in topic else "camera_info" if "camera_info" in topic
                else "image")
        what.append(f"#{i} {topic}: " + _edit_message(rng, msg, kind))
    if rng.random() < 0.15:
        i = int(rng.integers(1, len(messages)))
        messages.insert(i, messages[i - 1])
        what.append(f"#{i - 1} twice")
    note[0] = "; ".join(what)
    storage = _pick(rng, tb.STORAGES)
    folder = _fresh(ctx, "case")
    try:
        tb.write_bag(folder, storage, messages)
    except Exception:  # noqa: BLE001 - not serializable: not an input a recorder writes
        note[0] += " (not written)"
        return
    pose_frames = _pick(rng, [None, "map:base_link", "map"])
    source = open_source(str(folder), SourceOptions(pose_frames=pose_frames))
    for item in frames_or_unreadable(source):
        _ = item
    _ = len(source), source.stamps_ns


FILE_TARGETS: Dict[str, Tuple[Callable, Callable]] = {
    "bag_fields": (_bag_fields_setup, _bag_fields_case),
    "camera_yaml": (_camera_yaml_setup, _camera_yaml_case),
    "tum": (_tum_setup, _tum_case),
    "trajectory": (_tum_setup, _trajectory_case),
    "map": (_map_setup, _map_case),
    "bag": (_bag_setup, _bag_case),
}
_: List = []
