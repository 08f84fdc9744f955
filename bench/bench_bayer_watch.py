#!/usr/bin/env python3
"""What the raw-Bayer-mosaic watch costs a stream of grey images, and what it tells on real frames.

Cost: one judgement (`bayer_watch.bayer_like`) of a 640x480 grey picture and of a mosaic, the
whole image (the ratios on every row and column, as before the line-pair sample) against the
sample (`MAX_LINE_PAIRS` row and column pairs), each the median of ``--repeat`` calls; then a
stream of ``--frames`` grey 640x480 images through `BayerWatch.check` (judgements counted, and
the mean time an image). Verdicts (``--folder``, a TUM folder's ``rgb/`` and ``depth/``, any
number): each colour frame turned grey (must not warn), mosaicked in the four Bayer patterns
(must warn, and `bayer_encodings` must name its pattern), each depth PNG (must not warn), with
the largest grey and smallest mosaic ratio.

    python bench/bench_bayer_watch.py --folder DATA/redkitchen_a_map --folder ... \\
        --out docs/bench/bayer_watch_cpu_2026-12-09e/result.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any, Dict, List

import cv2
import numpy as np

from mast3r_ros.core.fileio import atomic_write_text
from mast3r_ros.core.image_codec import bayer_watch

PATTERNS = ("rggb", "bggr", "grbg", "gbrg")  # each 2x2 cell, row by row


def mosaic(bgr: np.ndarray, pattern: str) -> np.ndarray:
    """(H, W) mosaic of a (H, W, 3) BGR image in ``pattern`` (its 2x2 cell, row by row)."""
    channel = {"r": bgr[..., 2], "g": bgr[..., 1], "b": bgr[..., 0]}
    out = np.empty(bgr.shape[:2], bgr.dtype)
    for (i, j), c in zip(((0, 0), (0, 1), (1, 0), (1, 1)), pattern):
        out[i::2, j::2] = channel[c][i::2, j::2]
    return out


def scene(seed: int, shape=(480, 640)) -> np.ndarray:
    """(H, W, 3) uint8 BGR: smooth random colour blobs."""
    noise = np.random.default_rng(seed).random((*shape, 3)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 3)
    return ((smooth - smooth.min()) / (smooth.max() - smooth.min()) * 255).astype(np.uint8)


def median_ms(fn, image: np.ndarray, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(image)
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def cost(repeat: int, frames: int) -> Dict[str, Any]:
    bgr = scene(0)
    grey, mos = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), mosaic(bgr, "rggb")
    sampled = bayer_watch.MAX_LINE_PAIRS
    out: Dict[str, Any] = {"max_line_pairs": sampled}
    for name, image in (("grey", grey), ("mosaic", mos)):
        out[f"judgement_sampled_{name}_ms"] = median_ms(bayer_watch.bayer_like, image, repeat)
        bayer_watch.MAX_LINE_PAIRS = 10 ** 6  # every row and column: the judgement before
        try:
            out[f"judgement_whole_{name}_ms"] = median_ms(bayer_watch.bayer_like, image, repeat)
        finally:
            bayer_watch.MAX_LINE_PAIRS = sampled
    watch = bayer_watch.BayerWatch()
    t0 = time.perf_counter()
    for _ in range(frames):
        watch.check("stream", grey)
    out.update(stream_frames=frames, stream_judgements=watch.judgements,
               stream_mean_ms_per_image=1000 * (time.perf_counter() - t0) / frames)
    return out


def verdicts(folders: List[Path]) -> Dict[str, Any]:
    counts = {"grey_warned": 0, "grey": 0, "mosaic_warned": 0, "mosaic": 0,
              "pattern_named": 0, "depth_warned": 0, "depth": 0}
    grey_max, mosaic_min = 0.0, float("inf")
    for folder in folders:
        for path in sorted((folder / "rgb").iterdir()):
            bgr = cv2.imread(str(path))
            if bgr is None:
                continue
            grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
            counts["grey"] += 1
            counts["grey_warned"] += bool(bayer_watch.bayer_like(grey))
            grey_max = max(grey_max, max(bayer_watch.bayer_ratios(grey) or (0.0,)))
            for pattern in PATTERNS:
                m = mosaic(bgr, pattern)
                counts["mosaic"] += 1
                counts["mosaic_warned"] += bool(bayer_watch.bayer_like(m))
                counts["pattern_named"] += f"bayer_{pattern}8" in bayer_watch.bayer_encodings(m)
                mosaic_min = min(mosaic_min, min(bayer_watch.bayer_ratios(m) or (0.0,)))
        for path in sorted((folder / "depth").glob("*.png")):
            depth = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
            counts["depth"] += 1
            counts["depth_warned"] += bool(bayer_watch.bayer_like(depth))
    return {**counts, "grey_max_ratio": grey_max, "mosaic_min_ratio": mosaic_min}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    ap.add_argument("--folder", action="append", default=[], type=Path)
    ap.add_argument("--repeat", type=int, default=50)
    ap.add_argument("--frames", type=int, default=3000)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    result = {"cost": cost(args.repeat, args.frames)}
    if args.folder:
        result["verdicts"] = verdicts(args.folder)
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(str(args.out), text + "\n")


if __name__ == "__main__":
    main()
