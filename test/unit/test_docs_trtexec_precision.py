"""Where the user docs or `export --help` mention trtexec, they say that a plain
`trtexec --onnx=decoder.onnx --fp16` does not keep TensorRT's Unary/Reduce layers (the output
exponentials) in fp32 as the backend's `build_plan` does, and what to run instead (before,
`export --help` said "for trtexec" and nothing warned). And docs/bench/README.md's
random-weight note keeps the whole-frame caveat that README and docs/gpu.md have (PnP did not
run: too few matches with random weights)."""

from __future__ import annotations

import argparse
from pathlib import Path

from mast3r_ros.replay.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]


def _paragraphs_with(text: str, word: str):
    return [" ".join(p.split()) for p in text.split("\n\n") if word in p]


def test_every_trtexec_mention_says_what_plain_fp16_leaves_out():
    hits = []
    for page in ("README.md", "docs/gpu.md"):
        hits += _paragraphs_with((ROOT / page).read_text(encoding="utf-8"), "trtexec")
    assert len(hits) >= 2, hits  # README's export paragraph and docs/gpu.md's
    for para in hits:
        assert "fp32" in para and "docs/gpu.md" in para or "build_plan" in para, para
    gpu = " ".join(_paragraphs_with((ROOT / "docs/gpu.md").read_text(encoding="utf-8"),
                                    "trtexec"))
    assert "Unary" in gpu and "Reduce" in gpu and "build_plan(trt, 'decoder.onnx')" in gpu
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    helps = {c.dest: c.help for c in sub._choices_actions}
    assert "trtexec" not in helps["export"] or "fp32" in helps["export"], helps["export"]


def test_bench_readme_random_weights_note_keeps_the_pnp_caveat():
    para = next(p for p in _paragraphs_with(
        (ROOT / "docs/bench/README.md").read_text(encoding="utf-8"), "random full-size"))
    assert "PnP" in para and "too few matches" in para, para
