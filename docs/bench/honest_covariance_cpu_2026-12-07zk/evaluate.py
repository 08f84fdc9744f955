"""Score candidate pose covariances on the PnP inputs that capture.py kept.

usage: python evaluate.py LABEL=KEPT.pkl=GROUNDTRUTH.txt [...]
For each run and each candidate (CANDIDATES below) prints: published frames, wrong poses (> 10 cm
or > 5 deg), the wrong poses' Mahalanobis distances d of the position error and how many lie
beyond the 3-sigma bound of a 3-D error (d^2 > 14.16, chi2(3) 99.73 %), the same count on the
right poses, the right poses' median worst-axis position sigma (cm) and the candidate's median
cost per frame (ms, this machine). Pose convention as core.pnp: R' = exp([dtheta]_x) R,
c' = c + dc, covariance position block first.
"""

import pickle
import sys
import time

import cv2
import numpy as np
from scipy.spatial.transform import Rotation
from scipy.stats import chi2

from mast3r_ros.core.pnp import UncertaintyModel
from mast3r_ros.core.pnp.covariance import pose_covariance
from mast3r_ros.replay.tum_trajectory import read_tum_trajectory

KF = UncertaintyModel(None, 0.01, float(np.radians(1.0)))      # the shipped model
NOKF = UncertaintyModel(None, 0.0, 0.0)
BOUND = chi2.ppf(0.9973, 3)  # 14.16
CELL = 40.0  # px, the grid cell of the spatial clusters


def _ground_truth(path):
    """{stamp ns: 4x4 pose} of a TUM trajectory file."""
    stamps, poses = read_tum_trajectory(path)
    return dict(zip(stamps.tolist(), poses))


def _inliers(f):
    i = f["inl"]
    S = f["S"][i] if f["S"] is not None else None
    return f["X"][i], f["xu"][i], S, f["groups"][i]


def _cov(f, model, **kw):
    X, x, S, g = _inliers(f)
    return pose_covariance(f["T"], X, x, f["K"], points_cov=S, groups=g,
                           group_centres=f["centres"], model=model, **kw)


def _residuals(T, X, x, K):
    p = (X - T[:3, 3]) @ T[:3, :3]
    u = p @ K.T
    return (u[:, :2] / u[:, 2:3] - x).reshape(-1)


def _perturbed(T, d):
    out = T.copy()
    out[:3, :3] = Rotation.from_rotvec(d[3:]).as_matrix() @ T[:3, :3]
    out[:3, 3] = T[:3, 3] + d[:3]
    return out


def _jacobian(T, X, x, K):
    """The reprojection residuals at T (2N,) and their numeric Jacobian (2N, 6) in the
    pose's 6-vector (position first, `_perturbed`)."""
    r0 = _residuals(T, X, x, K)
    J = np.empty((len(r0), 6))
    for k in range(6):
        e = np.zeros(6)
        e[k] = 1e-6
        J[:, k] = (_residuals(_perturbed(T, e), X, x, K) - r0) / 1e-6
    return r0, J


def _gauss_newton(T, X, x, K, iters=2):
    """A few Gauss-Newton steps (numeric Jacobian) from T; the 6-vector from T to the result."""
    total = np.zeros(6)
    for _ in range(iters):
        r0, J = _jacobian(_perturbed(T, total), X, x, K)
        step = np.linalg.lstsq(J, -r0, rcond=None)[0]
        # compose: exp(step_r) exp(total_r) R ~ rotvec of the product
        Rn = Rotation.from_rotvec(step[3:]) * Rotation.from_rotvec(total[3:])
        total = np.r_[total[:3] + step[:3], Rn.as_rotvec()]
    return total


def _cells(x):
    key = np.floor(x / CELL).astype(np.int64)
    _, lab = np.unique(key[:, 0] * 100003 + key[:, 1], return_inverse=True)
    return lab.reshape(-1)


def cand_baseline(f):
    return _cov(f, KF)


def cand_small_sample(f):
    """(i) the residual variance's 95 % upper bound (chi2 with 2n-6 dof) and the variance a
    +-5 px RANSAC threshold truncates away (a Gaussian cut at 5 px: var ratio)."""
    n = int(f["inl"].sum())
    dof = 2 * n - 6
    up = dof / chi2.ppf(0.05, dof)
    base, pix = _cov(f, KF), _cov(f, NOKF)
    return base + (up - 1.0) * pix


def cand_effective_n(f):
    """Correlated errors within an image patch: one independent measurement per occupied
    40 px cell, i.e. the pixel part scaled by n / cells."""
    X, x, S, g = _inliers(f)
    G = len(np.unique(_cells(x)))
    base, pix = _cov(f, KF), _cov(f, NOKF)
    return base + (len(x) / G - 1.0) * pix


def cand_cluster_sandwich(f):
    """Cluster-robust sandwich over 40 px cells (CR1: G/(G-1) small-sample factor), added."""
    X, x, S, g = _inliers(f)
    r0, J = _jacobian(f["T"], X, x, f["K"])
    Hi = np.linalg.inv(J.T @ J)
    lab = np.repeat(_cells(x), 2)
    G = lab.max() + 1
    s = np.zeros((G, 6))
    np.add.at(s, lab, J * r0[:, None])
    meat = s.T @ s * G / max(G - 1, 1)
    return _cov(f, KF) + Hi @ meat @ Hi


def cand_cluster_jackknife(f):
    """Delete-a-cell jackknife of the pose (2 Gauss-Newton steps per cell), added."""
    X, x, S, g = _inliers(f)
    lab = _cells(x)
    G = lab.max() + 1
    th = np.array([_gauss_newton(f["T"], X[lab != c], x[lab != c], f["K"]) for c in range(G)])
    d = th - th.mean(0)
    return _cov(f, KF) + (G - 1) / G * d.T @ d


def cand_ransac_bootstrap(f, B=16):
    """Model-selection spread, first try: OpenCV's plain RANSAC (AP3P) and LM on B bootstrap
    draws of ALL the frame's correspondences (by 40 px cell blocks), the draws' second moment
    about the published pose added."""
    return _cov(f, KF) + ap3p_bootstrap_extra(f, B, 0, _cells(f["xu"]))


def ap3p_bootstrap_extra(f, B, seed, lab):
    """The second moment (6x6) about the published pose of OpenCV AP3P RANSAC + LM poses on
    ``B`` bootstrap draws (``seed``) of the frame's correspondences, drawn by the blocks
    ``lab`` labels (int (N,): 40 px cells, or each match its own)."""
    X, x, K, T = f["X"], f["xu"], f["K"], f["T"]
    G = lab.max() + 1
    members = [np.flatnonzero(lab == c) for c in range(G)]
    rng = np.random.default_rng(seed)
    D = []
    for _ in range(B):
        idx = np.concatenate([members[c] for c in rng.integers(0, G, G)])
        ok, rv, tv, inl = cv2.solvePnPRansac(X[idx], x[idx], K, None, iterationsCount=300,
                                             reprojectionError=5.0, confidence=0.9999,
                                             flags=cv2.SOLVEPNP_AP3P)
        if not ok or inl is None or len(inl) < 6:
            continue
        inl = inl.reshape(-1)
        rv, tv = cv2.solvePnPRefineLM(X[idx][inl], x[idx][inl], K, None, rv, tv)
        Rc = cv2.Rodrigues(rv)[0]          # cam_from_map
        Rb, cb = Rc.T, (-Rc.T @ tv).reshape(3)
        dr = Rotation.from_matrix(Rb @ T[:3, :3].T).as_rotvec()
        D.append(np.r_[cb - T[:3, 3], dr])
    D = np.array(D).reshape(-1, 6)
    return D.T @ D / max(len(D), 1)


def cand_model_selection(f, draws=16):
    """The shipped term (covariance.model_selection_draws 16, the localizer's pnp.* defaults,
    poselib): the data part replaced by its Loewner max with the draws' spread."""
    from mast3r_ros.core.pnp.model_selection import model_selection_cov, with_model_selection
    X, x = f["X"], f["xu"]
    ok = np.isfinite(X).all(1) & np.isfinite(x).all(1)
    spread = model_selection_cov(f["T"], X[ok], x[ok], f["K"], (f["width"], f["height"]),
                                 backend="poselib", reproj_error_px=5.0, max_iterations=1000,
                                 confidence=0.9999, draws=draws, seed=0)
    base = _cov(f, KF)
    return base if spread is None else with_model_selection(base, _cov(f, NOKF), spread)


def cand_view_angle(f):
    """The shipped opt-in view-angle term, covariance.view_angle_sigma_ratio 0.1."""
    return _cov(f, UncertaintyModel(None, 0.01, float(np.radians(1.0)), view_angle_sigma_ratio=0.1))


CANDIDATES = dict(baseline=cand_baseline, small_sample=cand_small_sample,
                  effective_n=cand_effective_n, cluster_sandwich=cand_cluster_sandwich,
                  cluster_jackknife=cand_cluster_jackknife, ap3p_bootstrap=cand_ransac_bootstrap,
                  model_selection_16=cand_model_selection, view_angle_0_1=cand_view_angle)


def main(*runs):
    names = list(CANDIDATES)
    print(f"{'run':9s} {'candidate':18s} pub wrong  wrong d (beyond 3 sigma)        "
          f"right beyond  right median sigma cm  cost ms")
    for spec in runs:
        label, kept, gtp = spec.split("=")
        frames = pickle.load(open(kept, "rb"))
        gt = _ground_truth(gtp)
        keys = np.array(sorted(gt))
        errs = []
        for f in frames:
            G = gt[keys[np.argmin(abs(keys - f["stamp"]))]]
            T = f["T"]
            ep = T[:3, 3] - G[:3, 3]
            er = Rotation.from_matrix(G[:3, :3] @ T[:3, :3].T).as_rotvec()
            errs.append((ep, er))
        wrong = np.array([np.linalg.norm(ep) > 0.10 or np.degrees(np.linalg.norm(er)) > 5
                          for ep, er in errs])
        for name in names:
            d, sig, cost = [], [], []
            for f, (ep, _er) in zip(frames, errs):
                t0 = time.perf_counter()
                C = CANDIDATES[name](f)
                cost.append(time.perf_counter() - t0)
                d.append(float(np.sqrt(ep @ np.linalg.solve(C[:3, :3], ep))))
                sig.append(float(np.sqrt(np.linalg.eigvalsh(C[:3, :3])[-1])))
            d, sig = np.array(d), np.array(sig)
            wd = " ".join(f"{v:.1f}" for v in sorted(d[wrong], reverse=True))
            nw = int((d[wrong] ** 2 > BOUND).sum())
            nr = int((d[~wrong] ** 2 > BOUND).sum())
            print(f"{label:9s} {name:18s} {len(frames):3d} {wrong.sum():5d}  "
                  f"{wd:22s} ({nw}/{wrong.sum()})  {nr:3d}/{(~wrong).sum():<3d}       "
                  f"{100 * np.median(sig[~wrong]):5.2f}              "
                  f"{1000 * np.median(cost):6.1f}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
