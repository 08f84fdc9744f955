#!/usr/bin/env python3
"""The node's video callback per packet (`core.video_stream.LiveVideo.receive`: decode, the RGB
conversion left to the worker) against decoding and converting every packet (the reader's
`VideoDecoder.feed` + `as_image`, what a callback converting each picture, or an
image_transport ``republish`` node feeding an Image, pays), side by side in one run.

Renders ``--frames`` demo frames (``--width`` x ``--height``) and encodes them as h264
(`bench_video_decode.h264`: libx264, no B-frames, GOP ``--gop``), then, alternating ``--repeat``
times: every packet through a fresh `LiveVideo` (CompressedVideo stand-ins); every packet through
a fresh `VideoDecoder` and `as_image`; the worker's share beside it: the RGB conversion of one
picture in ``--take`` (a localizer at 30/``--take`` Hz), timed apart. Each figure is the
fastest of the repeats, in ms per packet; the executor share is that at ``--rate`` packets a
second.

    python bench/bench_video_live.py                     # 120 frames at 640x480
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace as NS

REPO = Path(__file__).resolve().parents[1]
for p in (REPO, REPO / "bench"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import av  # noqa: E402

from bench_video_decode import h264, render  # noqa: E402
from mast3r_ros.core.video_decode import (COMPRESSED_VIDEO_TYPE, VideoDecoder,  # noqa: E402
                                          VideoPacket, as_image)
from mast3r_ros.core.video_stream import LiveVideo  # noqa: E402


def messages(packets: list) -> list:
    return [NS(timestamp=NS(sec=1 + k // 30, nanosec=(k % 30) * 33_000_000), frame_id="cam",
               data=data, format="h264") for k, data in enumerate(packets)]


def live(msgs: list, take: int) -> tuple:
    """(seconds a packet in `LiveVideo.receive`, seconds a taken picture's RGB conversion)."""
    stream = LiveVideo("/cam", COMPRESSED_VIDEO_TYPE)
    receive = convert = 0.0
    for k, msg in enumerate(msgs):
        t0 = time.perf_counter()
        got = stream.receive(msg)
        t1 = time.perf_counter()
        assert got.image is not None, got.reason
        if k % take == 0:
            got.image.data  # noqa: B018 - the worker's conversion
            convert += time.perf_counter() - t1
        receive += t1 - t0
    return receive / len(msgs), convert / len(range(0, len(msgs), take))


def eager(msgs: list) -> float:
    decoder = VideoDecoder("/cam")
    t0 = time.perf_counter()
    for k, msg in enumerate(msgs):
        as_image(decoder.feed(VideoPacket(msg, COMPRESSED_VIDEO_TYPE), k))
    return (time.perf_counter() - t0) / len(msgs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False)
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--gop", type=int, default=30)
    ap.add_argument("--crf", type=int, default=23)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--take", type=int, default=10, help="the worker takes one picture in N")
    ap.add_argument("--rate", type=float, default=30.0, help="packets a second")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pictures = render(Path(tmp), args.frames, args.width, args.height)
    msgs = messages(h264(pictures, args.gop, args.crf))
    best = {"live": [], "eager": [], "rgb": []}
    for _ in range(args.repeat):
        best["eager"].append(eager(msgs))
        receive, convert = live(msgs, args.take)
        best["live"].append(receive)
        best["rgb"].append(convert)
    ms = {k: 1e3 * min(v) for k, v in best.items()}
    print(f"Python {platform.python_version()}, av {av.__version__}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}; {len(msgs)} packets {args.width}x{args.height}, "
          f"GOP {args.gop}, best of {args.repeat}")
    print(f"{'per packet':48s}{'ms':>8s}{'executor at ' + str(int(args.rate)) + '/s':>20s}")
    rows = [("decode + RGB every packet (eager, before)", ms["eager"]),
            ("LiveVideo.receive: decode only (callback)", ms["live"]),
            (f"  worker: RGB of 1 in {args.take} (a packet's share)", ms["rgb"] / args.take)]
    for name, value in rows:
        print(f"{name:48s}{value:8.2f}{100 * value * args.rate / 1e3:19.1f}%")


if __name__ == "__main__":
    main()
