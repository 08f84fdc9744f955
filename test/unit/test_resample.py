"""Pillow's resize reproduced in torch integers (`model.resample`): every pixel equal to Pillow's
for downscales (LANCZOS), upscales (BICUBIC), odd sizes and crops, and the engine's device
resize gives the same network input as the host path."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.model import resample
from mast3r_ros.core.model.preprocess import normalize, plan_resize, resize_crop
from mast3r_ros.core.model.resample import resize_crop_u8, taps


def _image(h, w, seed):
    """Noise, with a smooth ramp and saturated blocks (clipping of the negative lobes)."""
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    img[: h // 3] = np.linspace(0, 255, w, dtype=np.float64)[None, :, None].astype(np.uint8)
    img[h // 3: h // 2, : w // 2] = 255
    img[h // 3: h // 2, w // 2:] = 0
    img[h // 3: h // 2, ::7] = 255  # thin bright lines on black: overshoot both ways
    return img


@pytest.mark.parametrize("w, h, size", [
    (640, 480, 512), (1280, 720, 512), (1000, 1334, 384), (641, 479, 224), (640, 480, 384),
    (224, 224, 512), (333, 250, 512), (512, 384, 512), (97, 61, 224), (1999, 500, 224),
    (315, 694, 512), (240, 600, 224), (240, 600, 384), (162, 389, 384), (480, 1400, 512)])
def test_equals_pillow_bit_for_bit(w, h, size):
    img = _image(h, w, seed=w + h)
    want, plan = resize_crop(img, size)
    got = resize_crop_u8(torch.from_numpy(img), plan.resized, plan.box, plan.upscale)
    assert got.dtype == torch.uint8 and tuple(got.shape) == want.shape
    np.testing.assert_array_equal(got.numpy(), want)


@pytest.mark.parametrize("n_in, n_out, up", [(480, 384, False), (1334, 512, False),
                                             (7, 3, False), (250, 384, True), (5, 9, True)])
def test_one_axis_against_pillow_full_image(n_in, n_out, up):
    """Resizes where only one axis changes, whole output (no crop), a single row/column."""
    img = _image(6, n_in, seed=n_in)
    mode = Image.BICUBIC if up else Image.LANCZOS
    want = np.asarray(Image.fromarray(img).resize((n_out, 6), mode))
    got = resize_crop_u8(torch.from_numpy(img), (n_out, 6), (0, 0, n_out, 6), up)
    np.testing.assert_array_equal(got.numpy(), want)
    col = np.ascontiguousarray(img.transpose(1, 0, 2))
    want = np.asarray(Image.fromarray(col).resize((6, n_out), mode))
    got = resize_crop_u8(torch.from_numpy(col), (6, n_out), (0, 0, 6, n_out), up)
    np.testing.assert_array_equal(got.numpy(), want)


def test_taps_sum_to_one_and_errors():
    start, w = taps(640, 512, "lanczos")
    assert start.shape == (512,) and w.shape[0] == 512 and w.dtype == np.int32
    assert np.all(np.abs(w.astype(np.int64).sum(1) - (1 << resample.PRECISION_BITS)) <= w.shape[1])
    assert start.min() >= 0 and (start + w.shape[1]).max() <= 640
    with pytest.raises(ValueError, match="filter must be one of"):
        taps(10, 5, "nearest")
    with pytest.raises(ValueError, match="sizes must be >= 1"):
        taps(0, 5, "lanczos")
    with pytest.raises(ValueError, match="not inside the resized image"):
        resize_crop_u8(torch.zeros((4, 4, 3), dtype=torch.uint8), (8, 8), (0, 0, 9, 8), True)
    with pytest.raises(ValueError, match="uint8 tensor"):
        resize_crop_u8(torch.zeros((4, 4, 3)), (8, 8), (0, 0, 8, 8), True)


def test_engine_prepare_on_device_equals_the_host_path(tiny_engine, monkeypatch):
    """`resize_on_device` (the CUDA default) gives the same tensor, plan and picture."""
    rgb = _image(480, 640, seed=3)
    assert tiny_engine.resize_on_device is False  # CPU: Pillow is faster there
    host = tiny_engine.prepare(rgb, 512)
    monkeypatch.setattr(tiny_engine, "resize_on_device", True)
    monkeypatch.setattr(Image.Image, "resize",
                        lambda *a, **k: pytest.fail("Pillow resized on the host"))
    dev = tiny_engine.prepare(rgb, 512)
    monkeypatch.undo()
    assert isinstance(dev.image_u8, torch.Tensor)
    assert torch.equal(dev.tensor, host.tensor) and dev.true_shape == host.true_shape
    np.testing.assert_array_equal(dev.to_orig, host.to_orig)
    assert dev.orig_size == host.orig_size == (640, 480)
    np.testing.assert_array_equal(dev.rgb, host.rgb)
    np.testing.assert_array_equal(dev.rgb, resize_crop(rgb, 512)[0])
    assert normalize(dev.rgb).shape == (3, 384, 512)
    plan = plan_resize(640, 480, 512)
    assert dev.true_shape == (plan.box[3] - plan.box[1], plan.box[2] - plan.box[0])


def test_engine_prepare_on_device_rejects_bad_images(tiny_engine, monkeypatch):
    monkeypatch.setattr(tiny_engine, "resize_on_device", True)
    for bad in (np.zeros((10, 10), np.uint8), np.zeros((40, 40, 3), np.float32),
                np.zeros((40, 40, 4), np.uint8), [[1, 2, 3]]):
        with pytest.raises(InputError, match="expected an \\(H, W, 3\\) uint8 RGB image"):
            tiny_engine.prepare(bad, 512)
    with pytest.raises(InputError, match="too small"):
        tiny_engine.prepare(np.zeros((3, 400, 3), np.uint8), 512)
