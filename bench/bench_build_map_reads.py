#!/usr/bin/env python3
"""build-map (sift matcher) on a synthetic TUM folder of ``--frames`` frames three ways: every
frame decoded with each PNG decoded by Pillow's integrity check besides OpenCV (the path
before: ``_candidate_frames`` returning None, ``_png_verifies`` False), every frame decoded
with each PNG verified, and only the keyframe candidates decoded (now); the colour images
decoded are counted and the maps' keyframe tables and PNGs compared byte for byte. The folder
repeats each of ``--frames / --repeat`` rendered demo frames ``--repeat`` times (its own file
each, its own stamp, the same pose), so that about one frame in ``--repeat`` can become a
keyframe, as on a long recording. Wall-clock times of one run each on a warm page cache; on a
shared machine only one run's numbers compare.

    python bench/bench_build_map_reads.py                     # 1000 frames at 512x384
    python bench/bench_build_map_reads.py --frames 300 --width 320 --height 240
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from mast3r_ros.core.image_codec import files
from mast3r_ros.replay import pipeline, tum
from mast3r_ros.replay.cli import main
from mast3r_ros.replay.synthetic import write_demo_sequences


def _listed(path: Path) -> list:
    return [ln.split() for ln in path.read_text().splitlines()
            if ln.strip() and not ln.startswith("#")]


def make_folder(root: Path, frames: int, repeat: int, width: int, height: int) -> Path:
    """A TUM folder of ``frames`` frames, each rendered frame's files copied ``repeat`` times."""
    base = Path(write_demo_sequences(str(root / "render"), num_frames=2 * -(-frames // repeat),
                                     width=width, height=height, seed=1)[0])
    out = root / "tum"
    (out / "rgb").mkdir(parents=True)
    (out / "depth").mkdir()
    shutil.copy(base / "camera.yaml", out / "camera.yaml")
    rgb, depth = _listed(base / "rgb.txt"), _listed(base / "depth.txt")
    gt = _listed(base / "groundtruth.txt")
    lines = {"rgb": [], "depth": [], "gt": []}
    for j in range(frames):
        k, stamp = j // repeat, f"{1.0 + j * 0.01:.6f}"
        for kind, src in (("rgb", rgb[k][1]), ("depth", depth[k][1])):
            name = f"{kind}/{stamp}.png"
            shutil.copy(base / src, out / name)
            lines[kind].append(f"{stamp} {name}")
        lines["gt"].append(" ".join([stamp, *gt[k][1:]]))
    for kind, fname in (("rgb", "rgb.txt"), ("depth", "depth.txt"), ("gt", "groundtruth.txt")):
        (out / fname).write_text("\n".join(lines[kind]) + "\n")
    return out


def build(folder: Path, out: Path, every_frame: bool, pillow_decodes_png: bool = False
          ) -> tuple:
    """(seconds, colour images decoded) of one build-map; ``pillow_decodes_png``: the
    integrity check decodes each PNG with Pillow, as before it verified them."""
    decoded = [0]
    read, lazy, verifies = tum.read_image_file, pipeline._candidate_frames, files._png_verifies
    if pillow_decodes_png:
        files._png_verifies = lambda path: False

    def spy(*a, **k):
        decoded[0] += 1
        return read(*a, **k)
    tum.read_image_file = spy
    if every_frame:
        pipeline._candidate_frames = lambda *a, **k: None
    try:
        t = time.perf_counter()
        assert main(["build-map", str(folder), "--out", str(out), "--matcher", "sift",
                     "--log-level", "warning"]) == 0
        return time.perf_counter() - t, decoded[0]
    finally:
        tum.read_image_file, pipeline._candidate_frames = read, lazy
        files._png_verifies = verifies


def _files(path: Path) -> dict:
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*"))
            if p.is_file() and (p.suffix == ".npy" or p.parent.name == "keyframes")}


def main_bench() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=10, help="copies of each rendered frame")
    ap.add_argument("--width", type=int, default=512)
    ap.add_argument("--height", type=int, default=384)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench_build_reads_"))
    try:
        t = time.perf_counter()
        folder = make_folder(root, args.frames, args.repeat, args.width, args.height)
        print(f"folder: {args.frames} frames at {args.width}x{args.height} "
              f"({time.perf_counter() - t:.1f} s to render and copy)")
        before = build(folder, root / "before", every_frame=True, pillow_decodes_png=True)
        every = build(folder, root / "every", every_frame=True)
        lazy = build(folder, root / "lazy", every_frame=False)
        same = _files(root / "before") == _files(root / "every") == _files(root / "lazy")
        for name, (s, n) in (("every frame, Pillow decodes PNG", before),
                             ("every frame, PNG verified", every),
                             ("candidates only, PNG verified", lazy)):
            print(f"{name:32s} {s:7.2f} s  {n:5d} colour images decoded")
        print(f"keyframe table and PNGs identical: {same}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main_bench()
