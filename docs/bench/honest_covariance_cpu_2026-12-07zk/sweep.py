"""The RANSAC-bootstrap candidate of evaluate.py over draws, seeds and resampling units.

usage: python sweep.py [--grid=B:SEED:UNIT,...] LABEL=KEPT.pkl=GROUNDTRUTH.txt [...]
One line per (draws B, seed, unit): per run the wrong poses' d, beyond-3-sigma counts on wrong
and right poses, right poses' median worst-axis sigma (cm), median d^2 of right poses
(calibrated 2.37) and the median cost per frame (ms).
"""

import pickle
import sys
import time

import numpy as np

import evaluate as E

# B:seed:unit,... (unit cell, point: OpenCV AP3P on cell / single-match draws; poselib,
# opencv: the shipped model_selection_cov with that backend, @PX its cell size; poselibmax:
# the Loewner max of it and the first-order data part instead of their sum); empty: the default grid
GRID = ""


def package_extra(f, B, seed, backend="poselib", cell=40.0):
    """The shipped `model_selection_cov` with the localizer's default pnp.* settings."""
    from mast3r_ros.core.pnp.model_selection import model_selection_cov
    X, x = f["X"], f["xu"]
    ok = np.isfinite(X).all(1) & np.isfinite(x).all(1)
    C = model_selection_cov(f["T"], X[ok], x[ok], f["K"], (f["width"], f["height"]),
                            backend=backend, reproj_error_px=5.0, max_iterations=1000,
                            confidence=0.9999, draws=B, seed=seed, cell_px=cell)
    return np.zeros((6, 6)) if C is None else C


def loewner_max(A, B):
    """The smallest covariance ellipsoid-wise above both A and B: A^1/2 U max(L, 1) U^T A^1/2
    with U L U^T = A^-1/2 B A^-1/2."""
    w, V = np.linalg.eigh(A)
    Ah = V * np.sqrt(w) @ V.T
    Aih = V / np.sqrt(w) @ V.T
    L, U = np.linalg.eigh(Aih @ B @ Aih)
    return Ah @ (U * np.maximum(L, 1.0)) @ U.T @ Ah


def loewner_max_extra(f, spread):
    """What the max of the data part (first order, no keyframe term) and the spread adds."""
    data = E._cov(f, E.NOKF)
    return loewner_max(data, spread) - data


def bootstrap_extra(f, B, seed, unit):
    if unit.split("@")[0] in ("poselib", "opencv"):  # poselib@80: 80 px cells
        name, _, cell = unit.partition("@")
        return package_extra(f, B, seed, name, float(cell or 40.0))
    if unit == "poselibmax":  # the larger of the first-order data part and the spread
        return loewner_max_extra(f, package_extra(f, B, seed))
    return E.ap3p_bootstrap_extra(f, B, seed, E._cells(f["xu"]) if unit == "cell"
                                  else np.arange(len(f["xu"])))


def main(*runs):
    data = []
    for spec in runs:
        label, kept, gtp = spec.split("=")
        frames = pickle.load(open(kept, "rb"))
        gt = E._ground_truth(gtp)
        keys = np.array(sorted(gt))
        errs = []
        for f in frames:
            G = gt[keys[np.argmin(abs(keys - f["stamp"]))]]
            errs.append(f["T"][:3, 3] - G[:3, 3])
        wrong = np.array([np.linalg.norm(e) > 0.10 for e in errs])
        base = [E._cov(f, E.KF) for f in frames]
        data.append((label, frames, errs, wrong, base))
    grid = [tuple(int(v) if v.isdigit() else v for v in g.split(":"))
            for g in (GRID.split(",") if GRID else [])] or [
        (16, 0, "cell"), (16, 1, "cell"), (16, 2, "cell"), (8, 0, "cell"), (8, 1, "cell"),
        (32, 0, "cell"), (16, 0, "point")]
    for B, seed, unit in grid:
        parts = []
        for label, frames, errs, wrong, base in data:
            d, sig, cost = [], [], []
            for f, e, C0 in zip(frames, errs, base):
                t0 = time.perf_counter()
                C = C0 + bootstrap_extra(f, B, seed, unit)
                cost.append(time.perf_counter() - t0)
                d.append(float(np.sqrt(e @ np.linalg.solve(C[:3, :3], e))))
                sig.append(float(np.sqrt(np.linalg.eigvalsh(C[:3, :3])[-1])))
            d, sig = np.array(d), np.array(sig)
            wd = ",".join(f"{v:.1f}" for v in sorted(d[wrong], reverse=True))
            parts.append(f"{label} wrong[{wd}] {(d[wrong] ** 2 > E.BOUND).sum()}/{wrong.sum()} "
                         f"right {(d[~wrong] ** 2 > E.BOUND).sum()}/{(~wrong).sum()} "
                         f"sig {100 * np.median(sig[~wrong]):.2f} "
                         f"d2med {np.median(d[~wrong] ** 2):.2f} {1000 * np.median(cost):.0f}ms")
        print(f"B {B:2d} seed {seed} {unit:5s} | " + " | ".join(parts), flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0].startswith("--grid="):
        GRID = args.pop(0)[len("--grid="):]
    main(*args)
