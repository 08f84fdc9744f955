"""`mast3r-ros pair`: the written files, their dtypes/shapes, and the match semantics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from mast3r_ros.core.config import ModelConfig
from mast3r_ros.core.errors import ConfigError, InputError
from mast3r_ros.core.said_once import SaidOnce
from mast3r_ros.replay.pair import draw_matches, run_pair
from mast3r_test_utils import write_tiny_checkpoint


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    d = tmp_path_factory.mktemp("imgs")
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (150, 200, 3), dtype=np.uint8)
    Image.fromarray(base).save(d / "a.png")
    Image.fromarray(np.roll(base, 7, axis=1)).save(d / "b.jpg")
    return str(d / "a.png"), str(d / "b.jpg")


def _nearest(rows: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """Index of each row's largest dot product over all of ``other`` (ties: earliest index)."""
    return torch.cat([(rows[i:i + 256] @ other.T).argmax(dim=1)
                      for i in range(0, len(rows), 256)])


def test_pair_writes_npz_and_picture(tmp_path, images, tiny_ckpt):
    out = tmp_path / "out"
    run_pair(*images, str(out), ModelConfig(checkpoint=tiny_ckpt, device="cpu", image_size=224))
    with np.load(out / "pair.npz", allow_pickle=False) as z:
        arrays = dict(z)
    for v in ("1", "2"):
        assert arrays[f"pts3d_{v}"].shape == (224, 224, 3)
        assert arrays[f"desc_{v}"].shape == (224, 224, 24)
        for k in ("pts3d", "conf", "desc", "desc_conf"):
            assert arrays[f"{k}_{v}"].dtype == np.float32
    m1, m2 = arrays["matches_1"], arrays["matches_2"]
    assert m1.dtype == np.int64 and m1.shape == m2.shape and m1.shape[1] == 2
    assert len(m1) > 0
    assert (m1 >= 3).all() and (m1 < 224 - 3).all() and (m2 >= 3).all() and (m2 < 224 - 3).all()
    # Every match is a mutual nearest neighbour of the written descriptors: each matched pixel's
    # nearest neighbour over ALL pixels of the other map is its partner, by the similarity and
    # tie rule of `brute_force_mutual_nn` (dot product, ties to the earliest index; non-finite
    # pixels never match). Only the matched rows are searched: the exhaustive mutual set of two
    # 224x224 maps took minutes on a CI core for the same answer.
    d1, d2 = (torch.from_numpy(arrays[f"desc_{v}"]).reshape(-1, 24) for v in ("1", "2"))
    assert torch.isfinite(d1).all() and torch.isfinite(d2).all()
    i1, i2 = (torch.from_numpy(m[:, 1] * 224 + m[:, 0]) for m in (m1, m2))
    assert torch.equal(_nearest(d1[i1], d2), i2) and torch.equal(_nearest(d2[i2], d1), i1)
    png = Image.open(out / "matches.png")
    assert png.size[0] > 2 * 224 and png.size[1] >= 224


def test_pair_with_dust3r_matches_points(tmp_path, images):
    ckpt = write_tiny_checkpoint(str(tmp_path / "d.pth"), arch="dust3r")
    run_pair(*images, str(tmp_path / "o"), ModelConfig(checkpoint=ckpt, device="cpu",
                                                       image_size=224))
    with np.load(tmp_path / "o" / "pair.npz") as z:
        assert "desc_1" not in z.files and z["pts3d_2"].shape == (224, 224, 3)
        assert z["matches_1"].dtype == np.int64


def test_pair_reads_the_shared_config(tmp_path, images, tiny_ckpt, capsys):
    """`mast3r-ros pair` takes --params like the other commands; the command line wins. Its
    result line is printed whatever the log level (it was an INFO log line only)."""
    from mast3r_ros.replay.cli import main

    params = tmp_path / "p.yaml"
    params.write_text(f"mast3r_localizer:\n  ros__parameters:\n    checkpoint: {tiny_ckpt}\n"
                      "    device: cpu\n    image_size: 512\n")
    out = tmp_path / "cli"
    assert main(["pair", *images, "--out", str(out), "--params", str(params), "--size", "224",
                 "--log-level", "warning"]) == 0
    with np.load(out / "pair.npz") as z:
        assert z["conf_1"].shape == (224, 224)
        n = len(z["matches_1"])
    assert capsys.readouterr().out == (f"pair {out}: {n} matches at network resolution 224x224 "
                                       "-> pair.npz, matches.png\n")
    with pytest.raises(ConfigError, match="checkpoint"):
        run_pair(*images, str(tmp_path / "x"), ModelConfig())
    assert main(["pair", *images, "--out", str(tmp_path / "y")]) == 2  # no checkpoint: one line


def test_tiny_or_elongated_images_are_refused_naming_the_file(tmp_path, images, capsys):
    """A fresh user's 1x1 and 8x8 images ran silently and a 2000x10 strip was refused without
    its name: under 16 px (one patch) on the short side, or too elongated for the network size,
    is one line naming the file, before the model loads (no checkpoint needed to see it)."""
    from mast3r_ros.replay.cli import main
    from mast3r_ros.replay.pair import read_pair_image

    rng = np.random.default_rng(1)
    for name, (h, w) in (("dot.png", (1, 1)), ("tiny.png", (8, 8)), ("strip.png", (10, 2000)),
                         ("thin.png", (15, 400))):
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(tmp_path / name)
        bad = str(tmp_path / name)
        for argv in ([bad, images[1]], [images[0], bad]):
            assert main(["pair", *argv, "--out", str(tmp_path / "o"), "--checkpoint",
                         str(tmp_path / "none.pth"), "--size", "512"]) == 2
            err = capsys.readouterr().err.strip().splitlines()
            assert len(err) == 1 and err[0].startswith(f"mast3r-ros pair: error: {bad}: "), err
            assert f"image {w}x{h} is under 16 px" in err[0] and "at least 16x16" in err[0]
    Image.fromarray(rng.integers(0, 255, (20, 2000, 3), dtype=np.uint8)).save(tmp_path / "s.png")
    with pytest.raises(InputError) as err:
        read_pair_image(str(tmp_path / "s.png"), 512)
    text = str(err.value)
    assert text.startswith(f"{tmp_path / 's.png'}: image 2000x20 is too elongated")
    assert "crop it to at most 4:1" in text
    Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(tmp_path / "ok.png")
    assert read_pair_image(str(tmp_path / "ok.png"), 512).shape == (16, 16, 3)
    assert not (tmp_path / "o").exists()


def test_twelve_bit_pair_images_are_warned_about_by_name(tmp_path, capsys, monkeypatch):
    """`pair a.png b.png` with 12-bit data in 16-bit PNGs warned "./*.png: 16-bit images ..." (a
    folder glob, as for a TUM sequence): each dark file is now named as given."""
    import cv2

    from mast3r_ros.core.image_codec import raw
    from mast3r_ros.replay.cli import main

    monkeypatch.setattr(raw, "_LOW_BIT_DEPTH_CHECKED", SaidOnce())
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(2)
    for name in ("a.png", "b.png"):
        cv2.imwrite(name, rng.integers(0, 4000, (32, 32), dtype=np.uint16))
    assert main(["pair", "a.png", "b.png", "--out", "o", "--checkpoint", "none.pth"]) == 2
    warned = [ln for ln in capsys.readouterr().err.splitlines() if "below 4096" in ln]
    assert len(warned) == 2, warned
    for line, name in zip(warned, ("a.png", "b.png")):
        assert f" {name}: 16-bit pixel values that all stay below 4096" in line, line
        assert "*" not in line and "rescale the file to the full 16-bit range" in line


def test_draw_matches_handles_empty():
    a = np.zeros((32, 48, 3), np.uint8)
    img = draw_matches(a, a, np.zeros((0, 2), np.int64), np.zeros((0, 2), np.int64))
    assert img.size == (48 * 2 + 8, 32 + 24)


def test_pair_of_two_aspect_ratios_keeps_each_views_size_and_maps_back(tmp_path, images,
                                                                       tiny_ckpt, caplog):
    """A 4:3 and a 16:9 image at 384: view 2 was stretched to view 1's network size (with a
    warning) and pair.npz had no way back to the photos' pixels (a fresh user's find). Each view
    now keeps its own grid, as the localizer decodes a query of another size, and
    ``to_orig_1``/``to_orig_2`` map network pixels to original ones."""
    import logging

    wide = tmp_path / "wide.png"
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 255, (180, 320, 3), dtype=np.uint8)).save(wide)
    out = tmp_path / "out"
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        run_pair(images[0], str(wide), str(out),
                 ModelConfig(checkpoint=tiny_ckpt, device="cpu", image_size=384))
    assert not [r for r in caplog.records if "resized" in r.getMessage()]
    with np.load(out / "pair.npz", allow_pickle=False) as z:
        arrays = dict(z)
    assert arrays["desc_1"].shape == (288, 384, 24)  # 200x150 -> 384x288
    assert arrays["desc_2"].shape[:2] == (208, 384)  # 320x180 -> 384x216, cropped to 16s
    assert arrays["pts3d_2"].shape == (208, 384, 3) and arrays["conf_2"].shape == (208, 384)
    m1, m2 = arrays["matches_1"], arrays["matches_2"]
    assert len(m1) > 0 and (m2[:, 1] < 208).all() and (m1[:, 1] < 288).all()
    for v, (w, h) in (("1", (200, 150)), ("2", (320, 180))):
        to_orig = arrays[f"to_orig_{v}"]
        assert to_orig.dtype == np.float64 and to_orig.shape == (3, 3)
        xy = np.c_[arrays[f"matches_{v}"], np.ones(len(m1))] @ to_orig.T
        assert (xy[:, 0] > -0.5).all() and (xy[:, 0] < w - 0.5).all()
        assert (xy[:, 1] > -0.5).all() and (xy[:, 1] < h - 0.5).all()
    np.testing.assert_allclose(arrays["to_orig_1"][:2, :2], np.diag([200 / 384] * 2))


def test_the_same_image_twice_is_refused_before_the_model_loads(tmp_path, images, capsys):
    """`pair A A` ran and wrote a "pair" of each pixel matched to itself (no motion, whatever
    the scene); the same path, one file by two paths, or a copy (identical pixels, also in
    another lossless format) is one line saying a pair needs two different views."""
    import os
    import shutil

    from mast3r_ros.replay.cli import main

    a = images[0]
    shutil.copy(a, tmp_path / "copy.png")
    Image.open(a).save(tmp_path / "copy.bmp")
    os.symlink(a, tmp_path / "link.png")
    cases = {(a, a): f"image {a} is given twice (IMAGE1 and IMAGE2)",
             (a, str(tmp_path / "link.png")):
                 f"IMAGE1 {a} and IMAGE2 {tmp_path / 'link.png'} are the same file",
             (a, str(tmp_path / "copy.png")):
                 f"IMAGE1 {a} and IMAGE2 {tmp_path / 'copy.png'} hold the same pixels",
             (str(tmp_path / "copy.bmp"), a):
                 f"IMAGE1 {tmp_path / 'copy.bmp'} and IMAGE2 {a} hold the same pixels"}
    for argv, what in cases.items():
        # no checkpoint there: the refusal comes before the model is loaded
        assert main(["pair", *argv, "--out", str(tmp_path / "o"), "--checkpoint",
                     str(tmp_path / "none.pth")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [f"mast3r-ros pair: error: {what}: the pair needs two different views of "
                       "the scene (an image matched with itself matches each pixel to itself: "
                       "no motion, whatever the scene); give two images"], err
    assert not (tmp_path / "o").exists()
