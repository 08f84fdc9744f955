"""`mast3r-ros demo` with a checkpoint reads it once: the map build and the localization share
the network loaded for the build (`engine.one_checkpoint_load`); the official file is 2.7 GB.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil

from mast3r_ros.core.model import checkpoint, engine
from mast3r_ros.replay.cli import main

SMALL = ["--frames", "5", "--width", "128", "--height", "96", "--log-level", "warning"]
# image_size 224 (224x224 network input) instead of the default 512 (384x512): the network and
# the dense matching run on a quarter of the pixels. How often the checkpoint is read and whether
# a shared network gives the same results do not depend on the size (the demo took 25 s at 512).
PARAMS = "mast3r_localizer:\n  ros__parameters:\n    image_size: 224\n"


def _results(run):
    """results.jsonl without the timings (the poses, inliers, reasons of every frame)."""
    rows = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    for r in rows:
        r.pop("timings_s")
    return rows


def test_the_demo_loads_its_checkpoint_once_for_build_and_localize(
        tiny_ckpt, tmp_path, monkeypatch, one_torch_thread):
    params = tmp_path / "params.yaml"
    params.write_text(PARAMS)
    small = [*SMALL, "--params", str(params)]
    real = checkpoint.load_checkpoint
    loads = []

    def counting(path, *a, **k):
        loads.append(path)
        return real(path, *a, **k)

    monkeypatch.setattr(checkpoint, "load_checkpoint", counting)
    assert main(["demo", "--out", str(tmp_path / "d"), "--checkpoint", tiny_ckpt, *small]) == 0
    assert len(loads) == 1, loads  # was 2: the build's, then the localizer's
    shared = _results(tmp_path / "d" / "run")
    assert len(shared) == 2 and all(r["matches"] > 0 for r in shared), shared  # matched

    # the same demo with a network loaded per step (as before) gives the same results
    monkeypatch.setattr(engine, "one_checkpoint_load", contextlib.nullcontext)
    assert main(["demo", "--out", str(tmp_path / "e"), "--checkpoint", tiny_ckpt, *small]) == 0
    assert len(loads) == 3, loads
    assert _results(tmp_path / "e" / "run") == shared


def test_one_checkpoint_load_shares_a_network_only_for_the_same_file_and_device(
        tiny_ckpt, tmp_path, monkeypatch):
    real = checkpoint.load_checkpoint
    loads = []
    monkeypatch.setattr(checkpoint, "load_checkpoint",
                        lambda path, *a, **k: loads.append(path) or real(path, *a, **k))
    other = str(tmp_path / "copy.pth")
    shutil.copyfile(tiny_ckpt, other)
    with engine.one_checkpoint_load():
        a = engine.Mast3rEngine.from_checkpoint(tiny_ckpt)
        a.close()  # the network outlives the build's engine
        with engine.one_checkpoint_load():  # nested: the outer block's networks
            b = engine.Mast3rEngine.from_checkpoint(tiny_ckpt)
        assert len(loads) == 1 and b.identity == a.identity
        engine.Mast3rEngine.from_checkpoint(other)  # another file: read
        assert len(loads) == 2
        os.utime(other, ns=(0, 0))  # the file replaced since: read again
        engine.Mast3rEngine.from_checkpoint(other)
        assert len(loads) == 3
    engine.Mast3rEngine.from_checkpoint(tiny_ckpt)  # after the block: each engine reads it
    assert len(loads) == 4
