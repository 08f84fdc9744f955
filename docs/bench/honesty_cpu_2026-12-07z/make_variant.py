"""Make an altered copy of a TUM RGB-D folder (the inputs of README.txt).

usage: python make_variant.py SRC DST KIND
KIND: black, white, darknoise, blur (31 px horizontal motion blur), blur15, occluded (the left
half covered by a near textured object, its depth 0.3 m), mirror, upside, frozen (every frame the
first one's pixels, stamps and ground truth unchanged), depthzero, depthshift (each depth image
taken from 10 frames later), depthshift1 (1 frame later), subsetA-B (lines A..B-1 of the lists).
"""

import os
import shutil
import sys

import cv2
import numpy as np


def _list(folder, name):
    out = []
    for line in open(os.path.join(folder, name)):
        if line.startswith("#") or not line.strip():
            continue
        stamp, path = line.split()[:2]
        out.append((stamp, path))
    return out


def main(src, dst, kind):
    if os.path.exists(dst):
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    rgb, dep = _list(dst, "rgb.txt"), _list(dst, "depth.txt")
    rng = np.random.default_rng(0)

    def rewrite(items, fn):
        for _, p in items:
            path = os.path.join(dst, p)
            assert cv2.imwrite(path, fn(cv2.imread(path, cv2.IMREAD_UNCHANGED)))

    def blur(n):
        k = np.zeros((n, n), np.float32)
        k[n // 2, :] = 1.0 / n
        return lambda im: cv2.filter2D(im, -1, k)

    if kind == "black":
        rewrite(rgb, np.zeros_like)
    elif kind == "white":
        rewrite(rgb, lambda im: np.full_like(im, 255))
    elif kind == "darknoise":
        rewrite(rgb, lambda im: np.clip(im * 0.04 + rng.normal(0, 4, im.shape), 0, 255)
                .astype(np.uint8))
    elif kind in ("blur", "blur15"):
        rewrite(rgb, blur(31 if kind == "blur" else 15))
    elif kind == "occluded":
        tex = cv2.resize(rng.integers(0, 255, (30, 16, 3)).astype(np.uint8), (320, 480),
                         interpolation=cv2.INTER_CUBIC)

        def cover(value):
            def fn(im):
                im = im.copy()
                im[:, :320] = value
                return im
            return fn
        rewrite(rgb, cover(tex))
        rewrite(dep, cover(1500))  # 0.3 m at 5000 units per metre
    elif kind == "mirror":
        rewrite(rgb + dep, lambda im: cv2.flip(im, 1))
    elif kind == "upside":
        rewrite(rgb + dep, lambda im: cv2.flip(im, -1))
    elif kind == "frozen":
        first_rgb = cv2.imread(os.path.join(dst, rgb[0][1]), cv2.IMREAD_UNCHANGED)
        first_dep = cv2.imread(os.path.join(dst, dep[0][1]), cv2.IMREAD_UNCHANGED)
        rewrite(rgb, lambda im: first_rgb)
        rewrite(dep, lambda im: first_dep)
    elif kind == "depthzero":
        rewrite(dep, np.zeros_like)
    elif kind in ("depthshift", "depthshift1"):
        shift = 10 if kind == "depthshift" else 1
        imgs = [cv2.imread(os.path.join(dst, p), cv2.IMREAD_UNCHANGED) for _, p in dep]
        for i, (_, p) in enumerate(dep):
            cv2.imwrite(os.path.join(dst, p), imgs[(i + shift) % len(imgs)])
    elif kind.startswith("subset"):
        a, b = (int(x) for x in kind[6:].split("-"))
        for name in ("rgb.txt", "depth.txt", "groundtruth.txt"):
            lines = [x for x in open(os.path.join(dst, name))
                     if x.strip() and not x.startswith("#")]
            open(os.path.join(dst, name), "w").writelines(lines[a:b])
    else:
        raise SystemExit("unknown kind " + kind)


if __name__ == "__main__":
    main(*sys.argv[1:4])
