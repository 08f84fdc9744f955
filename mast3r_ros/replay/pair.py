"""`mast3r-ros pair`: two-view inference, fast reciprocal matches and a picture of them."""

from __future__ import annotations

import colorsys
import logging
import os
from typing import Dict

import numpy as np
from PIL import Image, ImageDraw

from ..core.config import ModelConfig
from ..core.errors import InputError
from ..core.fileio import atomic_folder, check_output_folder, output_lock
from ..core.matching import fast_reciprocal_matches, filter_border, reciprocal_matches_3d
from ..core.model.engine import Mast3rEngine
from ..core.model.preprocess import plan_for_image
from ..core.image_codec import read_image_file

log = logging.getLogger(__name__)

# The reference demo's matching settings.
SUBSAMPLE = 8
BORDER_PX = 3


OUT_FILES = ("pair.npz", "matches.png")
def read_pair_image(path: str, size: int) -> np.ndarray:
    """The image file as (H, W, 3) uint8 RGB, refused (`InputError` naming the file) when its
    short side is under `preprocess.MIN_SIDE_PX` or it is too elongated for the network
    (`preprocess.plan_resize`)."""
    rgb = read_image_file(path, one_file=True)  # a low-bit-depth warning names the file
    try:
        plan_for_image(rgb, size)
    except InputError as e:
        raise InputError(f"{path}: {e}") from None
    return rgb


def check_two_views(image1: str, image2: str, rgb1: np.ndarray, rgb2: np.ndarray) -> None:
    """`InputError` when the two images are one: the same path, one file by two paths (a link,
    '..'), or two files of identical pixels (a copy, a PNG of a lossless image). MASt3R then
    "matches" each pixel with itself: a pair of no relative motion, whatever the scene, and
    matches that say nothing. ``rgb1``, ``rgb2``: the decoded (H, W, 3) uint8 images."""
    if os.path.normpath(image1) == os.path.normpath(image2):
        what = f"image {image1} is given twice (IMAGE1 and IMAGE2)"
    elif _same_file(image1, image2):
        what = f"IMAGE1 {image1} and IMAGE2 {image2} are the same file"
    elif rgb1.shape == rgb2.shape and np.array_equal(rgb1, rgb2):
        what = f"IMAGE1 {image1} and IMAGE2 {image2} hold the same pixels"
    else:
        return
    raise InputError(f"{what}: the pair needs two different views of the scene (an image "
                     "matched with itself matches each pixel to itself: no motion, whatever "
                     "the scene); give two images")


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def run_pair(image1: str, image2: str, out_dir: str, model_cfg: ModelConfig,
             overwrite: bool = False) -> Dict[str, np.ndarray]:
    """Infer one pair with the engine ``model_cfg`` names (checkpoint, device, precision, network
    size), match it, and write ``out_dir/pair.npz`` and ``out_dir/matches.png``.

    Returns the written arrays (network resolution, each view at its own size; matches as
    (M, 2) int64 pixel x, y; ``to_orig_1``/``to_orig_2`` (3, 3) float64 map a view's network
    pixel (x, y, 1) to its original image's pixel, pixel centres at integers). An
    existing ``out_dir`` is refused (`InputError`, before the model loads) unless
    ``overwrite``, and so is an image under 16 px on its short side or too elongated for the
    network (`read_pair_image`), and the same image given twice (`check_two_views`); the
    folder is written whole or not at all.
    """
    check_output_folder(out_dir, overwrite, OUT_FILES, OUT_FILES)
    with output_lock(out_dir):  # a second writer of out_dir is refused before the model loads
        return _run_pair(image1, image2, out_dir, model_cfg, overwrite)


def _run_pair(image1: str, image2: str, out_dir: str, model_cfg: ModelConfig,
              overwrite: bool) -> Dict[str, np.ndarray]:
    size = model_cfg.image_size
    rgb1, rgb2 = read_pair_image(image1, size), read_pair_image(image2, size)  # before the model
    check_two_views(image1, image2, rgb1, rgb2)
    engine = Mast3rEngine.from_config(model_cfg)
    img1 = engine.prepare(rgb1, size)
    img2 = engine.prepare(rgb2, size)
    # views of different network sizes (another aspect ratio) are decoded as they are, each on
    # its own token grid, as the localizer decodes a query against keyframes of another size
    try:
        pred = engine.pair(img1, img2)
    finally:
        engine.close()
    if pred.desc_1 is not None:
        xy1, xy2 = fast_reciprocal_matches(pred.desc_1, pred.desc_2, subsample=SUBSAMPLE)
    else:  # DUSt3R: reciprocal nearest neighbours of the two pointmaps (both in camera 1)
        xy1, xy2 = reciprocal_matches_3d(pred.pts3d_1, pred.pts3d_2, subsample=SUBSAMPLE)
    xy1, xy2 = filter_border(xy1, xy2, img1.true_shape, img2.true_shape, border=BORDER_PX)
    arrays = {k: v.astype(np.float32) for k, v in pred.to_numpy().items()}
    arrays["matches_1"] = xy1.cpu().numpy().astype(np.int64)
    arrays["matches_2"] = xy2.cpu().numpy().astype(np.int64)
    # network pixel (x, y, 1) -> original image pixel, per view (the matches back in the photos)
    arrays["to_orig_1"], arrays["to_orig_2"] = img1.to_orig, img2.to_orig
    picture = draw_matches(img1.rgb, img2.rgb, arrays["matches_1"], arrays["matches_2"])
    with atomic_folder(out_dir, overwrite, OUT_FILES, OUT_FILES, locked=True) as tmp:
        np.savez(os.path.join(tmp, "pair.npz"), **arrays)
        picture.save(os.path.join(tmp, "matches.png"), format="PNG")
    return arrays


def draw_matches(rgb1: np.ndarray, rgb2: np.ndarray, xy1: np.ndarray, xy2: np.ndarray, *,
                 max_lines: int = 300, title: str = "") -> Image.Image:
    """Side-by-side picture of both images with up to ``max_lines`` evenly spread matches.

    Lines are coloured by their position in image 1 (hue follows x, brightness y), so crossing
    or inconsistent colours stand out as wrong matches at a glance.
    """
    h = max(rgb1.shape[0], rgb2.shape[0])
    gap = 8
    canvas = np.full((h + 24, rgb1.shape[1] + gap + rgb2.shape[1], 3), 255, np.uint8)
    canvas[24:24 + rgb1.shape[0], : rgb1.shape[1]] = rgb1
    canvas[24:24 + rgb2.shape[0], rgb1.shape[1] + gap:] = rgb2
    img = Image.fromarray(canvas)
    draw = ImageDraw.Draw(img)
    n = len(xy1)
    draw.text((4, 4), title or f"{n} reciprocal matches (showing {min(n, max_lines)})",
              fill=(0, 0, 0))
    idx = np.linspace(0, n - 1, min(n, max_lines)).round().astype(int) if n else []
    off = rgb1.shape[1] + gap
    for i in idx:
        (x1, y1), (x2, y2) = xy1[i], xy2[i]
        hue = x1 / max(1, rgb1.shape[1] - 1)
        r, g, b = colorsys.hsv_to_rgb(hue * 0.85, 1.0, 0.55 + 0.45 * y1 / max(1, rgb1.shape[0]))
        color = (int(r * 255), int(g * 255), int(b * 255))
        draw.line([(x1, y1 + 24), (x2 + off, y2 + 24)], fill=color, width=1)
        for cx, cy in ((x1, y1 + 24), (x2 + off, y2 + 24)):
            draw.ellipse([cx - 2, cy - 2, cx + 2, cy + 2], outline=color)
    return img
