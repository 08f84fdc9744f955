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


# ------------------------------------------------------------------ worked taps, crops, order
def _keys_cubic(x, a=-0.5):
    """Keys' cubic convolution kernel in its polynomial form (Keys 1981, eq. 15); x an array."""
    x = np.abs(x)
    return np.where(x < 1, (a + 2) * x**3 - (a + 3) * x**2 + 1,
                    np.where(x < 2, a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a, 0.0))


def _lanczos3(x):
    """sinc(x) sinc(x / 3) on [-3, 3), numpy's normalised sinc; x an array."""
    return np.where((x >= -3) & (x < 3), np.sinc(x) * np.sinc(x / 3), 0.0)


def test_taps_worked_by_hand():
    """2 -> 4 BICUBIC: output 0 is centred at 0.25 (input edges at integers, 2 / 4 input per
    output); inputs 0 and 1, centred at 0.5 and 1.5, are 0.25 and 1.25 away: k(0.25) =
    0.8671875, k(1.25) = -0.0703125, normalised by their sum 0.796875 to 1.0882353 and
    -0.0882353; in 2**-22 units 4564389.65 and -370085.65, rounded half away from zero."""
    start, w = taps(2, 4, "bicubic")
    one = 1 << 22
    assert _keys_cubic(np.array([0.25, 1.25])).tolist() == [0.8671875, -0.0703125]
    w0 = (0.8671875 / 0.796875, -0.0703125 / 0.796875)
    assert start.tolist() == [0, 0, 0, 0] and w.shape == (4, 2)
    assert w[0].tolist() == [int(w0[0] * one + 0.5), int(w0[1] * one - 0.5)] == [4564390, -370086]
    assert w[3].tolist() == w[0].tolist()[::-1]  # the mirror image
    # 2 -> 1 LANCZOS: both inputs a quarter of the (doubled) support from the centre: halves
    assert taps(2, 1, "lanczos")[1].tolist() == [[1 << 21, 1 << 21]]


@pytest.mark.parametrize("n_in, n_out, filt", [
    (640, 512, "lanczos"), (1334, 299, "lanczos"), (7, 3, "lanczos"), (250, 384, "bicubic"),
    (5, 9, "bicubic"), (224, 512, "bicubic"), (16, 224, "bicubic")])
def test_taps_equal_the_kernel_sampled_at_each_inputs_centre(n_in, n_out, filt):
    """Each output sample's K taps, read back in input coordinates (start + column), are the
    kernel (stretched by the downscale factor) at the distance from the output's centre to
    each input's centre, over the inputs within its support, normalised, in 22-bit fixed point
    rounded half away from zero; zero elsewhere, and the window stays inside the input
    (written here from Keys' polynomial and numpy's sinc, not from the module's kernels)."""
    start, w = taps(n_in, n_out, filt)
    kernel, support = (_lanczos3, 3.0) if filt == "lanczos" else (_keys_cubic, 2.0)
    scale = n_in / n_out
    fs = max(scale, 1.0)
    assert start.min() >= 0 and start.max() + w.shape[1] <= n_in
    want = np.zeros((n_out, n_in), np.int64)
    got = np.zeros((n_out, n_in), np.int64)
    for i in range(n_out):
        c = (i + 0.5) * scale
        lo, hi = max(int(c - support * fs + 0.5), 0), min(int(c + support * fs + 0.5), n_in)
        v = kernel((np.arange(lo, hi) + 0.5 - c) / fs)
        v = v / v.sum()
        want[i, lo:hi] = [int(x * 2**22 + 0.5) if x >= 0 else int(x * 2**22 - 0.5) for x in v]
        got[i, start[i]:start[i] + w.shape[1]] = w[i]
    # (float sums in another order may move a weight by one unit: the worked example above
    # pins the rounding exactly)
    np.testing.assert_allclose(got, want, rtol=0, atol=1)


def test_an_unchanged_image_is_only_cropped():
    """512x390 at 512 keeps its size and loses 3 rows at the top and bottom to the patch grid:
    no filter runs, the crop still does."""
    img = _image(390, 512, seed=7)
    want, plan = resize_crop(img, 512)
    assert plan.resized == (512, 390) and plan.box == (0, 3, 512, 387)
    got = resize_crop_u8(torch.from_numpy(img), plan.resized, plan.box, plan.upscale)
    np.testing.assert_array_equal(got.numpy(), want)
    np.testing.assert_array_equal(got.numpy(), img[3:387])


@pytest.mark.parametrize("w, h, w2, h2, box", [
    (40, 30, 40, 21, (5, 2, 33, 19)),   # height only (shrinks by more than twice the width)
    (40, 30, 40, 45, (5, 2, 33, 40)),   # height only, up
    (40, 30, 27, 30, (3, 4, 25, 28)),   # width only
    (40, 30, 55, 30, (3, 4, 50, 28)),   # width only, up
])
def test_one_axis_resize_crops_the_other_axis_too(w, h, w2, h2, box):
    img = _image(h, w, seed=w2 + h2)
    up = w2 > w or h2 > h
    mode = Image.BICUBIC if up else Image.LANCZOS
    want = np.asarray(Image.fromarray(img).resize((w2, h2), mode).crop(box))
    got = resize_crop_u8(torch.from_numpy(img), (w2, h2), box, up)
    assert tuple(got.shape) == want.shape
    np.testing.assert_array_equal(got.numpy(), want)


@pytest.mark.parametrize("w, h, w2, h2, up", [
    (20, 30, 15, 20, False),  # height loses exactly twice what the width loses: horizontal
    (20, 31, 15, 20, False),  # one more row lost: vertical first (recent Pillow)
    (20, 40, 10, 21, False),  # height loses more than the width, not twice as much
    (20, 30, 30, 35, True),   # both grow (the width more): horizontal
])
def test_pass_order_follows_pillow(w, h, w2, h2, up):
    """Sizes where the two pass orders give different pixels (checked), around the rule that
    picks one: the result is Pillow's, both for the whole image and for a crop of it."""
    img = _image(h, w, seed=w * h2)
    t = torch.from_numpy(img)
    filt = "bicubic" if up else "lanczos"
    h_first = resample._pass(resample._pass(t, 1, w2, filt, slice(0, w2)), 0, h2, filt,
                             slice(0, h2))
    v_first = resample._pass(resample._pass(t, 0, h2, filt, slice(0, h2)), 1, w2, filt,
                             slice(0, w2))
    assert not torch.equal(h_first, v_first)
    pil = Image.fromarray(img).resize((w2, h2), Image.BICUBIC if up else Image.LANCZOS)
    np.testing.assert_array_equal(resize_crop_u8(t, (w2, h2), (0, 0, w2, h2), up).numpy(),
                                  np.asarray(pil))
    box = (1, 2, w2 - 2, h2 - 1)
    np.testing.assert_array_equal(resize_crop_u8(t, (w2, h2), box, up).numpy(),
                                  np.asarray(pil.crop(box)))


def test_same_sizes_with_other_filters_and_crops_use_their_own_taps():
    """The device taps are cached per sizes, filter and output slice: asking for the same
    resize with the other filter, or another crop of it, must not get the cached ones."""
    img = _image(30, 40, seed=11)
    t = torch.from_numpy(img)
    for up, box in ((False, (0, 0, 24, 18)), (True, (0, 0, 24, 18)), (False, (4, 3, 20, 15)),
                    (True, (4, 3, 20, 15)), (False, (0, 0, 24, 18))):
        mode = Image.BICUBIC if up else Image.LANCZOS
        want = np.asarray(Image.fromarray(img).resize((24, 18), mode).crop(box))
        np.testing.assert_array_equal(resize_crop_u8(t, (24, 18), box, up).numpy(), want)


def test_bad_boxes_images_and_sizes_are_refused():
    img = torch.zeros((4, 4, 3), dtype=torch.uint8)
    for box in ((-1, 0, 8, 8), (0, -1, 8, 8), (2, 0, 2, 8), (0, 3, 8, 3), (5, 0, 4, 8),
                (0, 0, 8, 9)):
        with pytest.raises(ValueError, match="not inside the resized image 8x8"):
            resize_crop_u8(img, (8, 8), box, True)
    for bad in (torch.zeros((4, 4, 4), dtype=torch.uint8), torch.zeros((4, 4), dtype=torch.uint8),
                torch.zeros((4, 4, 3), dtype=torch.int16)):
        with pytest.raises(ValueError, match="uint8 tensor"):
            resize_crop_u8(bad, (8, 8), (0, 0, 8, 8), True)
    for n_in, n_out in ((5, 0), (0, 5), (-1, 3)):
        with pytest.raises(ValueError, match="sizes must be >= 1"):
            taps(n_in, n_out, "lanczos")
