"""Build an EuRoC/ASL or KITTI-odometry stereo folder from a TUM RGB-D folder (rgb.txt,
depth.txt, groundtruth.txt, camera.yaml), so that `build-map --stereo-depth` can be evaluated on
real texture with known depth.

The left camera (EuRoC cam0, KITTI image_0) is the RGB-D camera itself: its grey image, its K,
no distortion. The right one (cam1 / image_1) is made up, about 11 cm to its right as EuRoC's
(KITTI: exactly beside it, same K, as a rectified pair must be; EuRoC: a small rotation and
slightly other intrinsics, so that rectification has work to do). Its image is rendered by
forward-warping the left RGB with the true depth: each left pixel (2x supersampled) goes to the
right camera's nearest pixel, the nearest point winning (z-buffer); pixels nothing lands on
(occlusions, the left image's invalid depth, the right camera's extra view) are filled with
`cv2.inpaint` (Telea). Poses: EuRoC's ground truth is the body's, with a made-up,
EuRoC-like ``T_BS`` of cam0 (turned 90 deg about the body's z, a few cm off its origin), so that
``world_from_body @ T_BS`` is the TUM camera pose; KITTI's ``poses/NN.txt`` is camera 0's TUM
pose. The world frame is the TUM folder's, so maps and queries built from either layout compare
with TUM's. Images are written grey (as EuRoC's and KITTI's image_0/1), no distortion.

    python bench/stereo_from_rgbd.py TUM_FOLDER --out DIR --layout euroc|kitti [--seq 00]
        [--size 752x480]

``--size WxH`` resizes each RGB-D frame (depth by nearest pixel) to W x H before the right image
is rendered, fx, cx scaled by W / width and fy, cy by H / height (pixel centres kept), so that
the folder has EuRoC's (752x480) or KITTI's (1241x376) image size; the content is the same.

EuRoC: DIR/mav0/{cam0,cam1}/(data.csv, data/, sensor.yaml), DIR/mav0/state_groundtruth_
estimate0/data.csv. KITTI: DIR/dataset/sequences/SEQ/(image_0, image_1, times.txt, calib.txt),
DIR/dataset/poses/SEQ.txt. Prints one JSON line: frames written, mean hole fraction filled.
Data written here comes from the input folder: keep it out of the project tree.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import yaml
from scipy.spatial.transform import Rotation

DEPTH_UNITS_PER_M = 5000.0  # TUM's
STAMP0_NS = 1403636579000000000  # an EuRoC-like clock start

# body_from_cam0: made up, EuRoC-like (90 deg about the body's z, a few cm off its origin)
T_BS_CAM0 = np.eye(4)
T_BS_CAM0[:3, :3] = Rotation.from_rotvec([0.012, -0.021, 1.571]).as_matrix()
T_BS_CAM0[:3, 3] = [-0.0216, -0.0647, 0.0098]
# cam0_from_cam1: 11 cm to the right (+x), a fraction of a degree turned (EuRoC's pair: 0.3 deg)
CAM0_FROM_CAM1 = np.eye(4)
CAM0_FROM_CAM1[:3, :3] = Rotation.from_rotvec([0.0025, -0.004, 0.0015]).as_matrix()
CAM0_FROM_CAM1[:3, 3] = [0.110, -0.0004, 0.0008]
KITTI_BASELINE_M = 0.110


def read_tum(folder: Path):
    """[(stamp s, rgb path, depth path, world_from_cam 4x4)], K (3x3), (width, height)."""
    def lines(name):
        rows = []
        for line in (folder / name).read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                rows.append(line.split())
        return rows
    rgb = {r[0]: r[1] for r in lines("rgb.txt")}
    depth = {r[0]: r[1] for r in lines("depth.txt")}
    gt = {r[0]: [float(v) for v in r[1:8]] for r in lines("groundtruth.txt")}
    cam = yaml.safe_load((folder / "camera.yaml").read_text())
    k = np.array(cam["camera_matrix"]["data"], np.float64).reshape(3, 3)
    frames = []
    for stamp in sorted(rgb, key=float):
        if stamp not in depth or stamp not in gt:
            continue
        pose = np.eye(4)
        pose[:3, 3] = gt[stamp][:3]
        pose[:3, :3] = Rotation.from_quat(gt[stamp][3:]).as_matrix()
        frames.append((float(stamp), folder / rgb[stamp], folder / depth[stamp], pose))
    return frames, k, (int(cam["image_width"]), int(cam["image_height"]))


def forward_warp(rgb: np.ndarray, depth: np.ndarray, k0: np.ndarray, k1: np.ndarray,
                 cam1_from_cam0: np.ndarray, supersample: int = 2):
    """(the right camera's image (H, W, 3) uint8, the fraction of its pixels inpainted)."""
    h, w = depth.shape
    s = supersample
    big = cv2.resize(rgb, (w * s, h * s), interpolation=cv2.INTER_LINEAR)
    zbig = cv2.resize(depth, (w * s, h * s), interpolation=cv2.INTER_NEAREST)
    v, u = np.mgrid[0:h * s, 0:w * s].astype(np.float64)
    u, v = (u + 0.5) / s - 0.5, (v + 0.5) / s - 0.5
    ok = zbig > 0
    z = zbig[ok].astype(np.float64)
    pts = np.stack([(u[ok] - k0[0, 2]) / k0[0, 0] * z, (v[ok] - k0[1, 2]) / k0[1, 1] * z, z], 1)
    pts = pts @ cam1_from_cam0[:3, :3].T + cam1_from_cam0[:3, 3]
    zc = pts[:, 2]
    x = np.rint(k1[0, 0] * pts[:, 0] / zc + k1[0, 2]).astype(np.int64)
    y = np.rint(k1[1, 1] * pts[:, 1] / zc + k1[1, 2]).astype(np.int64)
    inside = (zc > 0) & (x >= 0) & (x < w) & (y >= 0) & (y < h)
    idx, zc, colours = y[inside] * w + x[inside], zc[inside], big[ok][inside]
    order = np.argsort(zc, kind="stable")  # nearest first: the first of each pixel wins
    first = np.unique(idx[order], return_index=True)[1]
    won = order[first]
    out = np.zeros((h * w, 3), np.uint8)
    filled = np.zeros(h * w, bool)
    out[idx[won]] = colours[won]
    filled[idx[won]] = True
    out, holes = out.reshape(h, w, 3), (~filled).reshape(h, w).astype(np.uint8)
    out = cv2.inpaint(out, holes, 3, cv2.INPAINT_TELEA)
    return out, float(holes.mean())


def _sensor_yaml(t_bs: np.ndarray, k: np.ndarray, size) -> str:
    data = ", ".join(f"{v:.9f}" for v in t_bs.reshape(-1))
    return ("sensor_type: camera\ncomment: made up from an RGB-D folder (stereo_from_rgbd.py)\n"
            f"T_BS:\n  cols: 4\n  rows: 4\n  data: [{data}]\nrate_hz: 30\n"
            f"resolution: [{size[0]}, {size[1]}]\ncamera_model: pinhole\n"
            f"intrinsics: [{k[0, 0]}, {k[1, 1]}, {k[0, 2]}, {k[1, 2]}]\n"
            "distortion_model: radial-tangential\ndistortion_coefficients: [0.0, 0.0, 0.0, 0.0]\n")


def scaled_k(k: np.ndarray, size, new_size) -> np.ndarray:
    """K of an image of ``size`` (w, h) resized to ``new_size``: pixel centres kept."""
    sx, sy = new_size[0] / size[0], new_size[1] / size[1]
    out = k.copy()
    out[0, 0], out[0, 2] = k[0, 0] * sx, (k[0, 2] + 0.5) * sx - 0.5
    out[1, 1], out[1, 2] = k[1, 1] * sy, (k[1, 2] + 0.5) * sy - 0.5
    return out


def build(tum: Path, out: Path, layout: str, seq: str = "00", supersample: int = 2,
          new_size=None) -> dict:
    frames, k0, size = read_tum(tum)
    native = size
    if new_size is not None:
        k0, size = scaled_k(k0, size, new_size), tuple(new_size)
    if layout == "euroc":
        k1 = k0.copy()
        k1[0, 0] -= 1.5
        k1[1, 1] -= 1.0
        k1[0, 2] += 1.8
        k1[1, 2] -= 1.2
        cam0_from_cam1 = CAM0_FROM_CAM1
        mav0 = out / "mav0"
        dirs = [mav0 / "cam0", mav0 / "cam1"]
        for d, t_bs, k in zip(dirs, (T_BS_CAM0, T_BS_CAM0 @ cam0_from_cam1), (k0, k1)):
            (d / "data").mkdir(parents=True, exist_ok=True)
            (d / "sensor.yaml").write_text(_sensor_yaml(t_bs, k, size))
        (mav0 / "state_groundtruth_estimate0").mkdir(parents=True, exist_ok=True)
    else:
        k1 = k0.copy()
        cam0_from_cam1 = np.eye(4)
        cam0_from_cam1[0, 3] = KITTI_BASELINE_M
        root = out / "dataset" / "sequences" / seq
        dirs = [root / "image_0", root / "image_1"]
        for d in dirs:
            d.mkdir(parents=True, exist_ok=True)
        (out / "dataset" / "poses").mkdir(parents=True, exist_ok=True)
        p = [np.c_[k0, np.zeros(3)], np.c_[k1, k1 @ np.array([-KITTI_BASELINE_M, 0, 0])]]
        p += p  # P2, P3: the same pair (the reader reads image_0 + image_1)
        (root / "calib.txt").write_text("".join(
            f"P{i}: " + " ".join(f"{v:.12e}" for v in m.reshape(-1)) + "\n"
            for i, m in enumerate(p)))
    cam1_from_cam0 = np.linalg.inv(cam0_from_cam1)
    holes, csv0, csv1, gt, times, poses = [], [], [], [], [], []
    for i, (stamp, rgb_path, depth_path, world_from_cam) in enumerate(frames):
        bgr = cv2.imread(str(rgb_path), cv2.IMREAD_COLOR)
        depth = cv2.imread(str(depth_path), cv2.IMREAD_UNCHANGED).astype(np.float32)
        depth /= DEPTH_UNITS_PER_M
        if size != native:
            bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA if size[0] < native[0]
                             else cv2.INTER_LINEAR)
            depth = cv2.resize(depth, size, interpolation=cv2.INTER_NEAREST)
        right, hole = forward_warp(bgr, depth, k0, k1, cam1_from_cam0, supersample)
        holes.append(hole)
        left_g, right_g = (cv2.cvtColor(im, cv2.COLOR_BGR2GRAY) for im in (bgr, right))
        if layout == "euroc":
            ns = STAMP0_NS + int(round(stamp * 1e9))
            for d, im, csv in ((dirs[0], left_g, csv0), (dirs[1], right_g, csv1)):
                cv2.imwrite(str(d / "data" / f"{ns}.png"), im)
                csv.append(f"{ns},{ns}.png")
            body = world_from_cam @ np.linalg.inv(T_BS_CAM0)
            q = Rotation.from_matrix(body[:3, :3]).as_quat()  # x y z w
            gt.append(",".join([str(ns)] + [f"{v:.9f}" for v in (*body[:3, 3], q[3], *q[:3])]))
        else:
            name = f"{i:06d}.png"
            cv2.imwrite(str(dirs[0] / name), left_g)
            cv2.imwrite(str(dirs[1] / name), right_g)
            times.append(f"{stamp:.6e}")
            poses.append(" ".join(f"{v:.9e}" for v in world_from_cam[:3].reshape(-1)))
    if layout == "euroc":
        for d, csv in zip(dirs, (csv0, csv1)):
            (d / "data.csv").write_text("#timestamp [ns],filename\n" + "\n".join(csv) + "\n")
        (mav0 / "state_groundtruth_estimate0" / "data.csv").write_text(
            "#timestamp, p_RS_R_x [m], p_RS_R_y [m], p_RS_R_z [m], q_RS_w [], q_RS_x [], "
            "q_RS_y [], q_RS_z []\n" + "\n".join(gt) + "\n")
    else:
        (root / "times.txt").write_text("\n".join(times) + "\n")
        (out / "dataset" / "poses" / f"{seq}.txt").write_text("\n".join(poses) + "\n")
    return {"layout": layout, "frames": len(frames), "hole_fraction_mean": float(np.mean(holes)),
            "hole_fraction_max": float(np.max(holes))}


def main() -> None:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    ap.add_argument("tum", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--layout", choices=("euroc", "kitti"), required=True)
    ap.add_argument("--seq", default="00", help="KITTI sequence name (default 00)")
    ap.add_argument("--supersample", type=int, default=2,
                    help="left pixels warped per pixel along x and y (default 2)")
    ap.add_argument("--size", help="WxH: resize the frames to this size first (EuRoC 752x480, "
                    "KITTI 1241x376; default: the input's)")
    args = ap.parse_args()
    new_size = tuple(int(v) for v in args.size.lower().split("x")) if args.size else None
    print(json.dumps(build(args.tum, args.out, args.layout, args.seq, args.supersample,
                           new_size)))


if __name__ == "__main__":
    main()
