"""The field cases of ../shared/cases (issue 8) about the network, its checkpoint files and image
files (test_field_cases.py has the recordings' cases): each behaves as its README's "expected"
says, end to end through the ``mast3r-ros`` command line, on inputs built in tmp folders by the
case's own make_inputs.py (skipped where shared/ is absent).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from case_inputs import make_case, one_line_error, run_cli

from mast3r_ros.core.model.loaded_networks import one_checkpoint_load

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def png16_case(tmp_path_factory) -> Path:
    """png16-gray-pair's inputs, built once for the two tests that read them."""
    return make_case("png16-gray-pair", tmp_path_factory.mktemp("png16"))


# -------------------------------------------------------------------- query-aspect-ratio ---

def test_query_of_another_aspect_ratio_is_processed(tmp_path, capsys, tiny_ckpt):
    d = make_case("query-aspect-ratio", tmp_path)
    params = tmp_path / "p.yaml"  # the 512 model's grid, kept cheap on a CPU
    params.write_text("mast3r_localizer:\n  ros__parameters:\n    device: cpu\n"
                      "    max_keyframes: 1\n    matching: {subsample: 32, max_iter: 2}\n")
    common = ["--matcher", "mast3r", "--checkpoint", tiny_ckpt, "--params", str(params)]
    # the three commands share one read of the checkpoint, as the demo's steps do (the reading
    # is not what this case is about)
    with one_checkpoint_load():
        rc, _, _ = run_cli(capsys, ["build-map", str(d / "map_4x3"), "--out", str(d / "map"),
                                    "--overwrite", *common])
        assert rc == 0
        reasons = {}
        for query in ("query_16x9", "query_4x3_hires"):
            run = d / f"run_{query}"
            rc, _, err = run_cli(capsys, ["localize", str(d / query), "--map", str(d / "map"),
                                          "--out", str(run), "--max-frames", "1", *common])
            assert rc == 0, err
            (rec,) = [json.loads(ln) for ln in (run / "results.jsonl").read_text().splitlines()]
            assert "inference" in rec["timings_s"] and "matching" in rec["timings_s"], rec
            assert "aspect" not in rec["reason"]
            reasons[query] = rec["reason"]
    # random weights: no pose expected, but both queries get through the same steps
    assert reasons["query_16x9"].split("(")[0] == reasons["query_4x3_hires"].split("(")[0]


def test_matching_descriptor_maps_of_different_sizes():
    import torch

    from mast3r_ros.core.matching import fast_reciprocal_matches

    g = torch.Generator().manual_seed(0)
    desc2 = torch.nn.functional.normalize(torch.randn(18, 32, 8, generator=g), dim=-1)
    desc1 = torch.nn.functional.normalize(torch.randn(24, 32, 8, generator=g), dim=-1)
    desc1[3:21] = desc2  # view 2 is rows 3..20 of view 1 (a 16:9 crop of a 4:3 view)
    xy1, xy2 = fast_reciprocal_matches(desc1, desc2, subsample=2)
    assert len(xy1) > 100
    np.testing.assert_array_equal(xy1[:, 0], xy2[:, 0])
    np.testing.assert_array_equal(xy1[:, 1], xy2[:, 1] + 3)


def _pair_matches(capsys, d: Path, a: str, b: str, ckpt: str, out: Path) -> int:
    rc, _, err = run_cli(capsys, ["pair", str(d / a), str(d / b), "--checkpoint", ckpt,
                                  "--out", str(out), "--size", "224", "--device", "cpu"])
    assert rc == 0, err
    with np.load(out / "pair.npz") as z:
        return len(z["matches_1"])


def test_png16_grey_pair(tmp_path, capsys, ref_fixtures, png16_case):
    d = png16_case
    ck = str(ref_fixtures / "mast3r_tiny" / "ckpt.pth")
    n8 = _pair_matches(capsys, d, "grey8_img1.jpg", "grey8_img2.jpg", ck, tmp_path / "out8")
    n16 = _pair_matches(capsys, d, "grey16_img1.png", "grey16_img2.png", ck,
                        tmp_path / "o_grey16")
    assert n16 >= 0.7 * n8, (n16, n8)


def test_png12_in_16bit_is_read_as_cv_bridge_does_and_named(png16_case, caplog):
    """12-bit values in a 16-bit file: scaled as cv_bridge scales mono16 (dark, never white),
    with a warning that says so and how to fix it."""
    from mast3r_ros.core.image_codec import read_image_file

    d = png16_case
    with caplog.at_level("WARNING"):
        rgb = read_image_file(d / "grey12_img1.png")
    assert rgb.max() <= 16 and rgb.max() > 0  # 4095 * 255 / 65535 = 15.9: dark, not white
    assert "10/12-bit" in caplog.text


def test_ckpt_module_prefix(tmp_path, capsys, ref_fixtures):
    import torch

    from mast3r_ros.core.model.loaded_networks import load_network

    d = make_case("ckpt-variants", tmp_path)
    with one_checkpoint_load():  # each file read once: here, and for its `pair` run below
        # each DDP-wrapped file loads as its unwrapped twin: the same identity and weights
        # (was test_checkpoint's, which wrote the case's ~0.5 GB of files once more)
        cpu = torch.device("cpu")
        for wrapped, plain in (("ddp_official.pth", "ckpt.pth"), ("ddp_bare.pth", "bare.pth")):
            (a, info_a), (b, info_b) = (load_network(str(d / f), cpu) for f in (wrapped, plain))
            sa, sb = a.state_dict(), b.state_dict()
            assert info_a.identity == info_b.identity, wrapped
            assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa), \
                wrapped
        # each DDP-wrapped file gives exactly what its unwrapped twin gives (a bare state dict
        # carries no constructor string, so bare and official twins are compared separately)
        for wrapped, plain in (("ddp_official.pth", "ckpt.pth"), ("ddp_bare.pth", "bare.pth")):
            ref = _pair_matches(capsys, d, "img1.png", "img2.png", str(d / plain),
                                d / f"out_{plain}")
            n = _pair_matches(capsys, d, "img1.png", "img2.png", str(d / wrapped),
                              d / f"out_{wrapped}")
            assert n == ref and n > 0, wrapped
            with np.load(d / f"out_{plain}" / "pair.npz") as z1, \
                    np.load(d / f"out_{wrapped}" / "pair.npz") as z2:
                np.testing.assert_array_equal(z2["desc_1"], z1["desc_1"])
    empty = d / "empty.pth"
    empty.write_bytes(b"")
    rc, _, err = run_cli(capsys, ["pair", str(d / "img1.png"), str(d / "img2.png"),
                                  "--checkpoint", str(empty), "--out", str(d / "o_empty"),
                                  "--device", "cpu"])
    assert "empty.pth" in one_line_error(rc, err, "pair")
