"""The inputs of bench/fuzz_inputs.py: per target a setup (valid inputs, built once into
``ctx``) and a case (one seeded mutation of them, read through the package's entry point).
A case writes what it tried into ``note[0]`` (printed with an escape)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace as NS
from typing import Callable, Dict, List, Tuple

import cv2
import numpy as np

# ---------------------------------------------------------------- mutators

ODD_NUMBERS = ["nan", ".nan", "inf", "-inf", ".inf", "-1", "0", "1e308", "-0", "4294967296",
               "18446744073709551616", "2147483648", "1e-320", "0x10", "1_000", "true", "null",
               "''", "[]", "{}", "[1, 2]", "abc", "9" * 40, "-9999999999", "0.5", "3.0"]


def mutate_bytes(rng: np.random.Generator, data: bytes, rounds: int = 0) -> Tuple[bytes, str]:
    """One to three random byte-level edits of ``data``: (result, what was done)."""
    out = bytearray(data)
    done = []
    for _ in range(rounds or int(rng.integers(1, 4))):
        op = int(rng.integers(0, 8))
        n = len(out)
        at = int(rng.integers(0, n + 1))
        if op == 0 and n:
            del out[int(rng.integers(0, n)):]
            done.append("cut")
        elif op == 1 and n:
            for _ in range(int(rng.integers(1, 9))):
                out[int(rng.integers(0, n))] ^= 1 << int(rng.integers(0, 8))
            done.append("flip")
        elif op == 2:
            out[at:at] = rng.integers(0, 256, int(rng.integers(1, 64)), np.uint8).tobytes()
            done.append("insert")
        elif op == 3 and n:
            span = int(rng.integers(1, min(n, 256) + 1))
            del out[at:at + span]
            done.append("delete")
        elif op == 4 and n:
            k = min(n - 1, at)
            out[k:k + 4] = bytes([0xFF, 0xFF, 0xFF, 0x7F][: len(out[k:k + 4])])
            done.append("maxint")
        elif op == 5 and n:
            k = min(n - 1, at)
            out[k:k + 8] = bytes(len(out[k:k + 8]))
            done.append("zeros")
        elif op == 6:
            out = bytearray(rng.integers(0, 256, int(rng.integers(0, 2 * n + 8)),
                                         np.uint8).tobytes())
            done.append("garbage")
        else:
            chunk = bytes(out[at:at + int(rng.integers(1, 128))])
            out[at:at] = chunk
            done.append("dup")
    return bytes(out), "+".join(done)


def mutate_text(rng: np.random.Generator, text: str) -> Tuple[str, str]:
    """A text-level edit (a number replaced by an odd value, a line dropped, doubled or cut,
    a key renamed) or, one time in six, a byte-level one decoded back (latin-1)."""
    if rng.random() < 1 / 6:
        data, what = mutate_bytes(rng, text.encode("utf-8", "surrogateescape"))
        return data.decode("latin-1"), what
    lines = text.splitlines(keepends=True) or [""]
    done = []
    for _ in range(int(rng.integers(1, 4))):
        i = int(rng.integers(0, len(lines)))
        op = int(rng.integers(0, 6))
        line = lines[i]
        tokens = [t for t in _number_spans(line)]
        if op <= 1 and tokens:
            a, b = tokens[int(rng.integers(0, len(tokens)))]
            odd = ODD_NUMBERS[int(rng.integers(0, len(ODD_NUMBERS)))]
            lines[i] = line[:a] + odd + line[b:]
            done.append(f"l{i + 1}:{odd}")
        elif op == 2:
            del lines[i]
            lines = lines or [""]
            done.append(f"drop l{i + 1}")
        elif op == 3:
            lines.insert(i, line)
            done.append(f"dup l{i + 1}")
        elif op == 4 and line:
            lines[i] = line[: int(rng.integers(0, len(line)))]
            done.append(f"cut l{i + 1}")
        else:
            word = ["\t", " ", ":", ",", "[", "]", "#", "- ", "\x00", "é", "{", "'"]
            w = word[int(rng.integers(0, len(word)))]
            k = int(rng.integers(0, len(line) + 1))
            lines[i] = line[:k] + w + line[k:]
            done.append(f"l{i + 1}+{w!r}")
    return "".join(lines), ",".join(done)


def restate_png_size(rng: np.random.Generator, data: bytes) -> Tuple[bytes, str]:
    """A PNG whose IHDR states another width and height, its CRC fixed (so that libpng reads
    on): OpenCV asserts on a size over its pixel limit rather than returning None."""
    import struct
    import zlib
    if data[12:16] != b"IHDR":
        return data, "not a PNG"
    sizes = [0, 1, 3, 65535, 70000, 2 ** 31 - 1, 2 ** 32 - 1, 1 << 15]
    w, h = _pick_int(rng, sizes), _pick_int(rng, sizes)
    out = bytearray(data)
    out[16:24] = struct.pack(">II", w, h)
    out[29:33] = struct.pack(">I", zlib.crc32(bytes(out[12:29])))
    return bytes(out), f"IHDR {w}x{h}"


def _pick_int(rng: np.random.Generator, items: List[int]) -> int:
    return items[int(rng.integers(0, len(items)))]


def _number_spans(line: str) -> List[Tuple[int, int]]:
    spans, i = [], 0
    while i < len(line):
        if line[i].isdigit() or (line[i] in "-." and i + 1 < len(line) and line[i + 1].isdigit()):
            j = i + 1
            while j < len(line) and (line[j].isdigit() or line[j] in ".eE-+"):
                j += 1
            spans.append((i, j))
            i = j
        else:
            i += 1
    return spans


def odd_value(rng: np.random.Generator, good):
    """A replacement for a message field: often near ``good``, sometimes of another type."""
    choices = [good, 0, -1, 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 64, -2 ** 63, float("nan"),
               float("inf"), 1.5, "3", None, b"x", [], [1, 2], True, np.uint32(7),
               np.int64(-5), np.float32(2.5), 10 ** 6, 65535, 65536]
    if isinstance(good, int) and not isinstance(good, bool):
        choices += [good + 1, good - 1, good * 2, good // 2, max(good, 1) * 1000]
    return choices[int(rng.integers(0, len(choices)))]


# ---------------------------------------------------------------- image / compressed


def _image_setup(ctx: dict) -> None:
    from mast3r_ros.core.image_codec import SUPPORTED_ENCODINGS
    ctx["encodings"] = list(SUPPORTED_ENCODINGS)


def _header():
    return NS(stamp=NS(sec=1, nanosec=5), frame_id="cam")


def _image_case(rng, ctx, note) -> None:
    from mast3r_ros.core import message_fields
    from mast3r_ros.core.image_codec import raw
    enc = ctx["encodings"][int(rng.integers(0, len(ctx["encodings"])))]
    dtype_str, channels = raw._RAW_ENCODINGS[enc]
    item = np.dtype(dtype_str).itemsize
    h, w = int(rng.integers(0, 9)) * 2, int(rng.integers(0, 9)) * 2
    step = w * channels * item + int(rng.integers(0, 3)) * int(rng.integers(0, 5))
    planes = 3 if enc == "nv24" else 1.5 if enc in ("nv21", "nv12") else 1
    size = int(step * h * planes)
    data = rng.integers(0, 256, size, np.uint8).tobytes()
    fields = dict(encoding=enc, height=h, width=w, step=step, is_bigendian=0, data=data)
    what = []
    for _ in range(int(rng.integers(0, 3))):
        key = ["encoding", "height", "width", "step", "is_bigendian", "data", "data",
               "height"][int(rng.integers(0, 8))]
        if key == "data":
            fields["data"], m = mutate_bytes(rng, fields["data"])
            what.append(f"data {m}")
        elif key == "encoding":
            fields["encoding"] = ["", "RGB8", "rgb8 ", "bgr8", "8UC3", "32FC1", "mono16",
                                  "bayer_rggb8", "yuv422", "nv21", "16SC1", "64FC1",
                                  "8UC1"][int(rng.integers(0, 13))]
            what.append(f"encoding {fields['encoding']!r}")
        else:
            fields[key] = odd_value(rng, fields[key])
            what.append(f"{key}={fields[key]!r:.30}")
    note[0] = f"{enc} {w}x{h} step {step}: " + ("; ".join(what) or "valid")
    if rng.random() < 0.2:  # the codec called directly (a library user), numpy-typed sizes
        kind = [np.uint32, np.int32, np.uint16, np.int64][int(rng.integers(0, 4))]
        sizes = [kind(min(max(int(v), 0), 2 ** 14) * int(rng.integers(1, 3)))
                 if isinstance(v, (int, np.integer)) and not isinstance(v, bool) else v
                 for v in (fields["height"], fields["width"], fields["step"])]
        note[0] += f"; decode_image({kind.__name__} {sizes})"
        array = raw.decode_image(fields["encoding"], *sizes, fields["data"],
                                 bool(rng.random() < 0.3))
        raw.to_rgb8(array, fields["encoding"])
        return
    msg = NS(header=_header(), **fields)
    frame = message_fields.frame_from_image_message(msg, None)
    assert frame.rgb.dtype == np.uint8 and frame.rgb.ndim == 3
    if fields["encoding"] in ("16UC1", "mono16", "32FC1"):
        array, enc2 = message_fields.decode_image_message(msg)
        raw.depth_to_metres(array, enc2)


def _compressed_setup(ctx: dict) -> None:
    import sys
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (12, 16, 3), np.uint8)
    depth = rng.integers(0, 5000, (12, 16)).astype(np.uint16)
    depth[::3, ::2] = 0
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "test" / "unit"))
    from test_image_codec import _rvl_encode
    header16 = bytes(4) + bytes(8)
    quant = np.array([100.0, 0.5], "<f4").tobytes()
    inverse = np.where(depth > 0, (depth // 7).astype(np.uint16) + 1, 0).astype(np.uint16)
    rvl = np.array([16, 12], "<u4").tobytes() + _rvl_encode(depth)
    ctx["samples"] = [
        ("jpeg", cv2.imencode(".jpg", rgb)[1].tobytes()),
        ("png", cv2.imencode(".png", rgb)[1].tobytes()),
        ("bgr8; png compressed ", cv2.imencode(".png", rgb[..., 0])[1].tobytes()),
        ("mono16; png compressed", cv2.imencode(".png", depth)[1].tobytes()),
        ("bayer_rggb8; png compressed ", cv2.imencode(".png", rgb[..., 1])[1].tobytes()),
        ("16UC1; compressedDepth png", header16 + cv2.imencode(".png", depth)[1].tobytes()),
        ("32FC1; compressedDepth png", bytes(4) + quant + cv2.imencode(".png", inverse)[1]
         .tobytes()),
        ("16UC1; compressedDepth rvl", header16 + rvl),
        ("32FC1; compressedDepth rvl", bytes(4) + quant + np.array([16, 12], "<u4").tobytes()
         + _rvl_encode(inverse)),
        ("rgba8; png compressed", cv2.imencode(".png", np.dstack([rgb, rgb[..., :1]]))[1]
         .tobytes()),
    ]
    ctx["formats"] = [s[0] for s in ctx["samples"]] + [
        "", "jpeg", "JPEG", "tiff", "16UC1; compressedDepth", "compressedDepth",
        "32FC1; compressedDepth RVL", "8UC1; compressedDepth png", "rgb8; jpeg compressed bgr8",
        "; ;", "bayer_rggb16; png compressed "]


def _compressed_case(rng, ctx, note) -> None:
    from mast3r_ros.core import message_fields
    fmt, data = ctx["samples"][int(rng.integers(0, len(ctx["samples"])))]
    what = "valid"
    if rng.random() < 0.1:
        head = 12 if "compressedDepth" in fmt else 0
        png, what = restate_png_size(rng, data[head:])
        data = data[:head] + png
    elif rng.random() < 0.85:
        data, what = mutate_bytes(rng, data)
    if rng.random() < 0.25:
        fmt = ctx["formats"][int(rng.integers(0, len(ctx["formats"])))]
    note[0] = f"{fmt!r} {len(data)} B: {what}"
    msg = NS(header=_header(), format=fmt, data=np.frombuffer(data, np.uint8))
    array, enc = message_fields.decode_image_message(msg)
    if enc in ("16UC1", "32FC1", "mono16"):
        from mast3r_ros.core.image_codec import depth_to_metres
        depth_to_metres(array, enc)
    if enc != "32FC1":
        message_fields.frame_from_image_message(msg, None)


# ---------------------------------------------------------------- CameraInfo messages


def _camera_info_setup(ctx: dict) -> None:
    pass


def _camera_info_case(rng, ctx, note) -> None:
    from mast3r_ros.core import message_fields
    w, h = 640, 480
    info = dict(
        width=w, height=h, distortion_model="plumb_bob",
        d=[0.1, -0.05, 0.001, 0.0, 0.01], k=[500.0, 0, 319.5, 0, 500.0, 239.5, 0, 0, 1],
        r=[1.0, 0, 0, 0, 1, 0, 0, 0, 1], p=[500.0, 0, 319.5, 0, 0, 500.0, 239.5, 0, 0, 0, 1, 0],
        binning_x=0, binning_y=0,
        roi=NS(x_offset=0, y_offset=0, width=0, height=0, do_rectify=False))
    what = []
    for _ in range(int(rng.integers(1, 4))):
        key = ["width", "height", "distortion_model", "d", "k", "r", "p", "binning_x",
               "binning_y", "roi"][int(rng.integers(0, 10))]
        if key in ("d", "k", "r", "p"):
            arr = list(info[key]) if isinstance(info[key], (list, np.ndarray)) else [1.0] * 9
            op = int(rng.integers(0, 5))
            if op == 0 and arr:
                arr[int(rng.integers(0, len(arr)))] = odd_value(rng, 1.0)
            elif op == 1:
                arr = arr[: int(rng.integers(0, len(arr) + 1))]
            elif op == 2:
                arr = arr + [0.0] * int(rng.integers(1, 10))
            elif op == 3:
                arr = np.asarray(rng.normal(0, 1e3, int(rng.integers(0, 20))))
            else:
                arr = odd_value(rng, arr)
            info[key] = arr
        elif key == "distortion_model":
            info[key] = ["", "rational_polynomial", "equidistant", "fisheye", "PLUMB_BOB",
                         None, 5, "plumb_bob "][int(rng.integers(0, 8))]
        elif key == "roi":
            roi = info["roi"]
            f = ["x_offset", "y_offset", "width", "height"][int(rng.integers(0, 4))]
            setattr(roi, f, odd_value(rng, getattr(roi, f)))
        else:
            info[key] = odd_value(rng, info[key])
        what.append(f"{key}={info[key]!r:.60}")
    rectified = bool(rng.random() < 0.3)
    note[0] = f"rectified={rectified} " + "; ".join(what)
    msg = NS(header=_header(), **info)
    message_fields.camera_info_to_intrinsics(msg, rectified)
    message_fields.camera_info_reduction(msg)
    message_fields.rectification_mismatch("/cam/image_raw", msg, rectified)


TARGETS: Dict[str, Tuple[Callable, Callable]] = {
    "image": (_image_setup, _image_case),
    "compressed": (_compressed_setup, _compressed_case),
    "camera_info": (_camera_info_setup, _camera_info_case),
}

from fuzz_files import FILE_TARGETS  # noqa: E402

TARGETS.update(FILE_TARGETS)

from fuzz_readers import READER_TARGETS  # noqa: E402

TARGETS.update(READER_TARGETS)

from fuzz_recordings import RECORDING_TARGETS  # noqa: E402

TARGETS.update(RECORDING_TARGETS)

from fuzz_extrinsics import EXTRINSIC_TARGETS  # noqa: E402

TARGETS.update(EXTRINSIC_TARGETS)
_ = (json, shutil)
