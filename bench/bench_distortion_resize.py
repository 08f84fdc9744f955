#!/usr/bin/env python3
"""Does a resize make undistorted images look distorted to the joint distortion fit? Renders the
synthetic room (`replay.synthetic`: exact poses and depth, no distortion) at 640x480 and at
160x120, makes 160x120 copies of the 640x480 frames by each resize path the benches and a user
would take, builds a sift map of each and localizes its held-out frames with the distortion fit
bending the map's points through their keyframes as well (`query_checks.shared_keyframes`
forced on: what a camera with a nonzero D gets; with D zero the localizer fits the query
alone), and tabulates the k1 the frames fit (each frame's sigma floored and combined as
metrics.json's ``camera_distortion``).

Variants: ``native_640`` and ``native_160`` (rendered at that size); ``resize_160`` (colour
INTER_AREA, depth nearest neighbour, K scaled about pixel centres,
``(c + 0.5) s - 0.5``: `bench_distortion_evidence.make_folder`); ``resize_160_corner_k`` (the
same images, K scaled as ``c s``: a pixel-centre convention error of 0.375 px, to show what one
would do); ``resize_160_depth_noise`` (depth noise of a structured-light sensor,
1.6e-3 z^2 m, before the resize); ``resize_160_pose_noise`` (the map's poses off by 1 cm and
0.3 deg per axis); ``misregistered_640`` and ``misregistered_160`` (colour rendered with fx 531,
depth with fx 585, camera.yaml 585: depth not registered to colour, as the 7-Scenes Kinect's,
where check-map notes the colour images fitting x0.908 the given fx; the 160x120 one resized
from the 640x480 one). A variant's folder already in WORK is used as it is.

    python bench/bench_distortion_resize.py --work WORK \\
        --out docs/bench/distortion_resize_cpu_2026-12-07zi/result.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from typing import Any, Dict, List

import cv2
import numpy as np
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_distortion_cost import localize_every_frame_fitted  # noqa: E402
from bench_distortion_evidence import make_folder  # noqa: E402

VARIANTS = ("native_640", "native_160", "resize_160", "resize_160_corner_k",
            "resize_160_depth_noise", "resize_160_pose_noise", "misregistered_640",
            "misregistered_160")


def _noisy_depth(folder: str, rng: np.random.Generator) -> None:
    for name in sorted(os.listdir(os.path.join(folder, "depth"))):
        path = os.path.join(folder, "depth", name)
        d = cv2.imread(path, cv2.IMREAD_UNCHANGED).astype(np.float64) / 5000.0
        white = cv2.GaussianBlur(rng.normal(0, 1, d.shape).astype(np.float32), (0, 0), 2.0)
        white /= max(float(white.std()), 1e-12)
        noisy = np.where(d > 0, d + white * 1.6e-3 * d * d, 0.0)
        cv2.imwrite(path, np.clip(np.round(noisy * 5000.0), 0, 65535).astype(np.uint16))


def _noisy_poses(folder: str, rng: np.random.Generator) -> None:
    from scipy.spatial.transform import Rotation

    path = os.path.join(folder, "groundtruth.txt")
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    out = []
    for line in lines:
        if line.startswith("#"):
            out.append(line)
            continue
        v = line.split()
        t = np.array(v[1:4], float) + rng.normal(0, 0.01, 3)
        q = (Rotation.from_rotvec(rng.normal(0, np.radians(0.3), 3))
             * Rotation.from_quat(np.array(v[4:8], float))).as_quat()
        out.append(" ".join([v[0]] + [f"{x:.9f}" for x in np.r_[t, q]]))
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


def _corner_k(folder: str, s: float) -> None:
    path = os.path.join(folder, "camera.yaml")
    with open(path, encoding="utf-8") as f:
        cam = yaml.safe_load(f)
    K = cam["camera_matrix"]["data"]
    cx, cy = (K[2] + 0.5) / s - 0.5, (K[5] + 0.5) / s - 0.5   # back at 640x480
    K[2], K[5] = cx * s, cy * s
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(cam, f, sort_keys=False)


def _misregistered(out: str) -> None:
    """The demo loop with colour from an fx 531 camera, depth from an fx 585 one at the same
    pose (camera.yaml: 585), map the even frames, query the odd ones."""
    from mast3r_ros.core.types import CameraIntrinsics, Frame
    from mast3r_ros.replay import synthetic

    def cam(f: float) -> CameraIntrinsics:
        return CameraIntrinsics(640, 480, np.array([[f, 0, 319.5], [0, f, 239.5], [0, 0, 1]]),
                                np.zeros(5))

    colour, depth = cam(531.0), cam(585.0)
    scene, poses = synthetic.make_room(0), synthetic.loop_trajectory(60, 0)

    def frames(idx: range):
        for k in idx:
            rgb = synthetic.render(scene, colour, poses[k])[0]
            d = synthetic.render(scene, depth, poses[k])[1]
            yield Frame(rgb, depth, int(round(k / 10 * 1e9)), "camera_optical", d, poses[k])

    synthetic.write_tum_sequence(os.path.join(out, "map"), frames(range(0, 60, 2)))
    synthetic.write_tum_sequence(os.path.join(out, "query"), frames(range(1, 60, 2)))


def make_variant(name: str, work: str) -> str:
    """The variant's folder (``map`` and ``query`` TUM folders inside)."""
    from mast3r_ros.replay.synthetic import write_demo_sequences

    out = os.path.join(work, name)
    if all(os.path.isdir(os.path.join(out, p)) for p in ("map", "query")):
        return out
    if name == "misregistered_640":
        _misregistered(out)
        return out
    if name == "misregistered_160":
        src = make_variant("misregistered_640", work)
        for part in ("map", "query"):
            make_folder(os.path.join(src, part), os.path.join(out, part), "resize_160")
        return out
    if name.startswith("native_"):
        w = int(name.split("_")[1])
        write_demo_sequences(out, 60, w, w * 3 // 4)
        return out
    src = os.path.join(work, "native_640")
    rng = np.random.default_rng(1)
    for part in ("map", "query"):
        mid = os.path.join(out, part + "_640")
        shutil.rmtree(mid, ignore_errors=True)
        shutil.copytree(os.path.join(src, part), mid)
        if name.endswith("depth_noise"):
            _noisy_depth(mid, rng)
        if name.endswith("pose_noise") and part == "map":
            _noisy_poses(mid, rng)
        make_folder(mid, os.path.join(out, part), "resize_160")
        if name.endswith("corner_k"):
            _corner_k(os.path.join(out, part), 0.25)
    return out


def joint_fits(query: str, map_dir: str, out: str) -> List[Any]:
    """Each frame's (k1, sigma, points) of localize with the keyframes' rays bent as well."""
    from mast3r_ros.core.geometry import invert_pose
    from mast3r_ros.core.localizer import pipeline, query_checks

    fits: List[Any] = []
    fit = query_checks.refitted_distortion

    def keep(*a: Any, **k: Any) -> Any:
        fits.append(fit(*a, **k))
        return fits[-1]

    def forced(cam, map_dists, poses, index_of, ids, groups):  # noqa: ANN001
        return (np.stack([invert_pose(poses[index_of(int(i))]) for i in ids]),
                np.asarray(groups, np.int64))

    localize_every_frame_fitted(query, map_dir, out, ((query_checks, "refitted_distortion", keep),
                                                       (pipeline, "shared_keyframes", forced)))
    return [f for f in fits if f is not None]


def run_variant(name: str, work: str) -> Dict[str, Any]:
    import subprocess

    from mast3r_ros.core.distortion_evidence import combine_distortions

    base = make_variant(name, work)
    map_dir = os.path.join(base, "kmap")
    with open(os.path.join(base, "build.log"), "w", encoding="utf-8") as f:
        subprocess.run(["mast3r-ros", "build-map", os.path.join(base, "map"), "--out", map_dir,
                        "--matcher", "sift", "--force", "--overwrite"], stdout=f,
                       stderr=subprocess.STDOUT, check=True)
    fits = joint_fits(os.path.join(base, "query"), map_dir, os.path.join(base, "run"))
    k1 = [f[0] for f in fits]
    ev = combine_distortions(k1, [f[1] for f in fits], 0.04)
    return {"variant": name, "frames_fitted": len(fits), "k1": ev.k1.value,
            "k1_sigma": ev.k1.sigma, "frame_k1_median": float(np.median(k1)),
            "frame_sigma_median": float(np.median([f[1] for f in fits])),
            "points_median": float(np.median([f[2] for f in fits]))}


def table(rows: List[Dict[str, Any]]) -> str:
    out = ["variant                  frames  k1 (+-)          frame k1 median  frame sigma  points"]
    for r in rows:
        k1 = f"{r['k1']:+.3f} +-{r['k1_sigma']:.3f}"
        out.append(f"{r['variant']:<25}{r['frames_fitted']:>5}  {k1}"
                   f"   {r['frame_k1_median']:+.4f}          {r['frame_sigma_median']:.4f}"
                   f"      {r['points_median']:.0f}")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False)
    ap.add_argument("--work", help="scratch folder (renders, copies, maps, runs)")
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    ap.add_argument("--out", help="result JSON")
    ap.add_argument("--table", help="only print the table of this result JSON")
    a = ap.parse_args()
    if a.table:
        with open(a.table, encoding="utf-8") as f:
            print(table(json.load(f)))
        return 0
    if not a.work:
        ap.error("--work is needed (or --table)")
    names = list(a.variants)
    if any(n.startswith("resize_") for n in names) and "native_640" not in names:
        names.insert(0, "native_640")   # the resizes' source
    rows = []
    for name in names:
        rows.append(run_variant(name, a.work))
        print(json.dumps(rows[-1]), flush=True)
    if a.out:
        with open(a.out, "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=1)
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
