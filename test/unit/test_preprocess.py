"""Preprocessing plans worked by hand: the resize, the crop box and the network -> original pixel
map (``to_orig``) of each size rule, checked against exact arithmetic and against the pixels
Pillow actually produces (origin at the centre of the top-left pixel: a scale ``s`` maps ``x``
to ``(x + 0.5) * s - 0.5``; a crop of ``left`` resized pixels shifts ``x`` by ``left``)."""

from __future__ import annotations

import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.model.preprocess import (
    normalize, normalize_table, plan_for_image, plan_resize, resize_crop,
)


def _to_orig(w, h, resized, box):
    """The documented map, written out: network pixel u is resized pixel u + left, whose centre
    lies at (u + left + 0.5) resized pixel widths from the left edge, i.e. at
    (u + left + 0.5) * w / w' original widths; minus 0.5 to return to centre coordinates."""
    (w2, h2), (left, top) = resized, box[:2]
    return np.array([[w / w2, 0.0, (left + 0.5) * w / w2 - 0.5],
                     [0.0, h / h2, (top + 0.5) * h / h2 - 0.5],
                     [0.0, 0.0, 1.0]])


# (w, h, size, square_ok) -> resized (w', h'), box, upscale; each worked by hand:
HAND_PLANS = [
    # 224: long edge round(224 * 1334 / 1000) = round(298.816) = 299; 1000 * 299 / 1334 =
    # 224.14 -> 224; centre (149, 112), half min(149, 112) = 112 -> crop 37 px on the left
    ((1334, 1000, 224, False), (299, 224), (37, 0, 261, 224), False),
    ((1000, 1334, 224, False), (224, 299), (0, 37, 224, 261), False),
    # 512: 700 * 512 / 1000 = 358.4 -> 358; centre (256, 179); half heights 8 * (358 // 16) =
    # 176 -> rows 3..355 (352 = 22 patches)
    ((1000, 700, 512, False), (512, 358), (0, 3, 512, 355), False),
    # 384: 700 * 384 / 1000 = 268.8 -> 269 (odd); centre 269 // 2 = 134; half width
    # 8 * (268 // 16) = 128 -> columns 6..262 (256 = 16 patches)
    ((700, 1000, 384, False), (269, 384), (6, 0, 262, 384), False),
    # a square image at 512: resized 512x512, then the reference's 4:3 crop (half height
    # 3 * 256 // 4 = 192) unless square_ok; upscaled (224 < 512) with BICUBIC
    ((224, 224, 512, False), (512, 512), (0, 64, 512, 448), True),
    ((224, 224, 512, True), (512, 512), (0, 0, 512, 512), True),
    # the smallest image accepted, at 224: 16 -> 224, no crop
    ((16, 16, 224, False), (224, 224), (0, 0, 224, 224), True),
    # already the network size: no resize, no crop, no shift
    ((512, 384, 512, False), (512, 384), (0, 0, 512, 384), True),
]


@pytest.mark.parametrize("args, resized, box, upscale", HAND_PLANS)
def test_plans_and_pixel_maps_worked_by_hand(args, resized, box, upscale):
    w, h, size, square_ok = args
    plan = plan_resize(w, h, size, square_ok=square_ok)
    assert (plan.orig_size, plan.resized, plan.box, plan.upscale) == ((w, h), resized, box,
                                                                      upscale)
    assert plan.net_size == (box[2] - box[0], box[3] - box[1])
    assert plan.net_size[0] % 16 == 0 and plan.net_size[1] % 16 == 0
    m = plan.to_orig()
    assert m.dtype == np.float64
    np.testing.assert_allclose(m, _to_orig(w, h, resized, box), rtol=0, atol=1e-12)


def test_pixel_map_of_a_crop_in_numbers():
    """1334x1000 at 224 (above): network pixel (0, 0) is resized pixel (37, 0), whose centre
    is at 37.5 / (299 / 1334) - 0.5 = 166.8077 original pixels, and 0.5 / 0.224 - 0.5 = 1.7321
    down; pixel (223, 223) at (260.5 * 1334 / 299 - 0.5, 223.5 * 1000 / 224 - 0.5)."""
    m = plan_resize(1334, 1000, 224).to_orig()
    np.testing.assert_allclose(m @ [0, 0, 1], [166.80769230769, 1.73214285714, 1], atol=1e-9)
    np.testing.assert_allclose(m @ [223, 223, 1], [1161.73076923077, 997.26785714286, 1],
                               atol=1e-9)
    # the two axes scale differently (299 / 1334 != 224 / 1000): x by 1334 / 299, y by 1000 / 224
    assert m[0, 0] == pytest.approx(4.46153846154) and m[1, 1] == pytest.approx(4.46428571429)


@pytest.mark.parametrize("w, h, size, slope", [
    (224, 224, 512, 1.0),     # BICUBIC up, rows cropped
    (1334, 1000, 224, 0.19),  # LANCZOS down, columns cropped
    (1000, 1334, 224, 0.19),  # LANCZOS down, rows cropped
    (700, 1000, 384, 0.25),   # odd resized width, columns cropped
    (1000, 700, 512, 0.25),   # rows cropped
])
def test_pixel_map_agrees_with_the_pixels_pillow_made(w, h, size, slope):
    """An image whose red channel is slope * x and green slope * y (rounded: unbiased): both
    filters reproduce a ramp away from the borders, so each network pixel's value divided by
    the slope says where in the original it was sampled. On average (the 8-bit rounding
    averages out) that is where ``to_orig`` says, to 0.1 original pixel; dropping the
    half-pixel terms moves it by 0.5 / s - 0.5 (0.28 px at s = 16/7, 1.7 px at s = 0.224),
    dropping a crop offset by the whole offset."""
    x, y = np.meshgrid(np.arange(w), np.arange(h))
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[..., 0], rgb[..., 1] = np.round(slope * x), np.round(slope * y)
    net, plan = resize_crop(rgb, size)
    m = plan.to_orig()
    u, v = np.meshgrid(np.arange(net.shape[1]), np.arange(net.shape[0]))
    xo, yo = m[0, 0] * u + m[0, 2], m[1, 1] * v + m[1, 2]
    inner = (slice(8, -8), slice(8, -8))  # the filters clip their taps near the borders
    ex = (net[..., 0] / slope - xo)[inner].mean()
    ey = (net[..., 1] / slope - yo)[inner].mean()
    assert abs(ex) < 0.1 and abs(ey) < 0.1, (ex, ey)


def test_plan_for_image_reads_width_from_the_second_axis_and_refuses_non_rgb8():
    assert plan_for_image(np.zeros((1000, 1334, 3), np.uint8), 224).box == (37, 0, 261, 224)
    assert plan_for_image(np.zeros((1334, 1000, 3), np.uint8), 224).box == (0, 37, 224, 261)
    for bad in (np.zeros((40, 40), np.uint8), np.zeros((40, 40, 4), np.uint8),
                np.zeros((40, 40, 1), np.uint8), np.zeros((40, 40, 3), np.float32),
                np.zeros((40, 40, 3), np.uint16), [[[0, 0, 0]]]):
        with pytest.raises(InputError, match=r"expected an \(H, W, 3\) uint8 RGB image"):
            plan_for_image(bad, 512)



@pytest.mark.parametrize("bad, fix", [
    (np.zeros((40, 40, 3), np.float32), r"\(np.clip\(a, 0, 1\) \* 255\).round\(\)"),
    (np.zeros((3, 40, 40), np.uint8), r"channel-first \(C, H, W\) .*a.transpose\(1, 2, 0\)"),
    (np.zeros((40, 40), np.uint8), r"image_codec.to_rgb8\(array, encoding\)"),
])
def test_a_refused_image_says_how_to_convert_it(bad, fix):
    """Mast3rEngine.prepare (README's Python API) named the shape and dtype only; Frame said
    how to convert. Both now give the same hint."""
    with pytest.raises(InputError, match=fix):
        plan_for_image(bad, 512)


def test_a_torch_tensor_image_is_named():
    torch = pytest.importorskip("torch")
    with pytest.raises(InputError, match=r"got Tensor .*pass tensor.cpu\(\).numpy\(\)"):
        plan_for_image(torch.zeros((40, 40, 3), dtype=torch.uint8), 512)


@pytest.mark.parametrize("w, h", [(0, 480), (640, 0), (-1, 480), (0, 0)])
def test_an_empty_image_is_called_empty(w, h):
    with pytest.raises(InputError, match=f"image must be non-empty, got {w}x{h}"):
        plan_resize(w, h, 512)


def test_resize_crop_output_is_the_plans_crop_of_pillows_resize():
    """Upscale uses BICUBIC and downscale LANCZOS: a bright single-pixel line overshoots
    differently under the two filters, so the output pins which one ran."""
    from PIL import Image

    for w, h, size, mode in ((224, 224, 512, Image.BICUBIC), (1000, 700, 512, Image.LANCZOS)):
        rgb = np.zeros((h, w, 3), np.uint8)
        rgb[:, w // 2] = 255
        rgb[h // 3] = 200
        net, plan = resize_crop(rgb, size)
        want = np.asarray(Image.fromarray(rgb).resize(plan.resized, mode).crop(plan.box))
        np.testing.assert_array_equal(net, want)
        other = Image.LANCZOS if mode == Image.BICUBIC else Image.BICUBIC
        assert not np.array_equal(
            net, np.asarray(Image.fromarray(rgb).resize(plan.resized, other).crop(plan.box)))


def test_normalize_is_channel_first_per_pixel_and_the_table_is_every_value():
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[1, 2] = (0, 51, 255)  # row 1, column 2: R, G, B
    rgb[0, 1] = (255, 204, 102)
    x = normalize(rgb)
    assert x.shape == (3, 2, 3) and x.dtype == np.float32
    # (v / 255 - 0.5) / 0.5 = 2 v / 255 - 1: 0 -> -1, 51 -> -0.6, 102 -> -0.2, 204 -> 0.6
    np.testing.assert_allclose(x[:, 1, 2], [-1, -0.6, 1], atol=1e-6)
    np.testing.assert_allclose(x[:, 0, 1], [1, 0.6, -0.2], atol=1e-6)
    np.testing.assert_allclose(x[:, 0, 0], [-1, -1, -1], atol=1e-6)
    table = normalize_table()
    assert table.shape == (256,) and table.dtype == np.float32
    np.testing.assert_allclose(table, 2 * np.arange(256) / 255 - 1, atol=1e-6)
