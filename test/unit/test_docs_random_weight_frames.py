"""The README's GPU whole-frame figures come from random full-size weights, whose descriptors
give too few matches for PnP to run (docs/gpu.md's caveat): its Measured table and the
paragraph after it must not present those frames as a trained network's (the H100 row read
"PnP <1" and the paragraph said latency does not depend on the weights, so a user sizing a
robot's frame rate took 78 ms for a whole frame with PnP)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_gpu_localize_row_says_pnp_did_not_run():
    row = next(line for line in README.splitlines()
               if line.startswith("| localization latency, full ViT-L"))
    assert "PnP <1" not in row
    assert "too few matches" in row, row


def test_random_weights_paragraph_keeps_the_whole_frame_caveat():
    para = next(p for p in README.split("\n\n") if "not the weights' values" in p)
    assert "PnP" in para, para
