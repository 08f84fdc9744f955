"""Tabulate seeds.py's output.

usage: python table.py SEEDS.json [GROUP=RUN,RUN ...]
Per frame where the draws run: the worst-axis position sigma (cm) and rotation sigma (deg)
over the seeds (min-max and max/min), the Mahalanobis distance d of the position and rotation
error (3 dof) over the seeds, and the draws' mean time (ms). Then, per draw count, the median
and worst max/min over these frames. Then the calibration over every published frame (frames
without draws keep their first-order covariance): the fraction of errors within 1 / 2 / 3
sigma (d <= k; a calibrated 3-D Gaussian: 0.20 / 0.74 / 0.97), mean over seeds [min-max], and
the cost: the draws' time over all frames of the run (mean ms added per frame).
"""

import json
import sys

import numpy as np


def stats(C, e):
    C, e = np.asarray(C), np.asarray(e)
    sp = 100 * np.sqrt(np.linalg.eigvalsh(C[:3, :3])[-1])
    sr = np.degrees(np.sqrt(np.linalg.eigvalsh(C[3:, 3:])[-1]))
    dp = np.sqrt(e[:3] @ np.linalg.solve(C[:3, :3], e[:3]))
    dr = np.sqrt(e[3:] @ np.linalg.solve(C[3:, 3:], e[3:]))
    return sp, sr, dp, dr


def main(path, *group_specs):
    rows = json.load(open(path))
    groups = {g.split("=")[0]: g.split("=")[1].split(",") for g in group_specs}
    groups["all"] = sorted({r["run"] for r in rows})
    keys = [k.split(",") for r in rows for k in r["covs"]]
    draws = sorted({int(d) for d, _ in keys})
    seeds = sorted({int(s) for _, s in keys})
    print(f"Per frame where the draws run (depth band < 0.125), over draw seeds {seeds[0]}-"
          f"{seeds[-1]}, pose fixed")
    print(f"{'run':9s} {'t s':>6s} {'err cm':>6s} {'deg':>5s} {'draws':>5s}  "
          f"{'pos sigma cm':>17s} {'max/min':>7s}  {'rot sigma deg':>13s} {'max/min':>7s}  "
          f"{'d pos':>11s}  {'d rot':>11s}  {'ms':>4s}")
    spread = {d: [] for d in draws}
    for r in rows:
        if not r["covs"]:
            continue
        e = np.asarray(r["e"])
        for d in draws:
            s = np.array([stats(r["covs"][f"{d},{k}"], e) for k in seeds])
            ms = np.mean([r["ms"][f"{d},{k}"] for k in seeds])
            spread[d].append((r["run"], s[:, 0].max() / s[:, 0].min(),
                              s[:, 1].max() / s[:, 1].min(), s[:, 2].max() - s[:, 2].min(), ms))
            print(f"{r['run']:9s} {r['t']:6.2f} {100 * np.linalg.norm(e[:3]):6.2f} "
                  f"{np.degrees(np.linalg.norm(e[3:])):5.2f} {d:5d}  "
                  f"{s[:, 0].min():7.2f}-{s[:, 0].max():<9.2f} {spread[d][-1][1]:7.2f}  "
                  f"{s[:, 1].min():6.2f}-{s[:, 1].max():<6.2f} {spread[d][-1][2]:7.2f}  "
                  f"{s[:, 2].min():5.2f}-{s[:, 2].max():<5.2f}  "
                  f"{s[:, 3].min():5.2f}-{s[:, 3].max():<5.2f}  {ms:4.0f}")
    print("\nOver these frames, per group of runs (GROUPS=run,run... on the command line): "
          "frames, max/min of the position sigma over seeds (median, worst); rotation the same; "
          "d pos max - min (median, worst); the draws' time on one frame (min-max ms)")
    for name, runs in groups.items():
        for d in draws:
            a = [x[1:] for x in spread[d] if x[0] in runs]
            if not a:
                continue
            a = np.array(a)
            print(f"  {name:10s} {len(a):3d} frames {d:3d} draws: position "
                  f"{np.median(a[:, 0]):.2f} / {a[:, 0].max():.2f}   rotation "
                  f"{np.median(a[:, 1]):.2f} / {a[:, 1].max():.2f}   d {np.median(a[:, 2]):.2f} / "
                  f"{a[:, 2].max():.2f}   {a[:, 3].min():.0f}-{a[:, 3].max():.0f} ms")
    print("\nCalibration, every published frame: fraction of errors within 1 / 2 / 3 sigma "
          "(calibrated 0.20 / 0.74 / 0.97), mean over seeds [min-max]; + mean ms per frame")
    runs = list(dict.fromkeys(r["run"] for r in rows)) + list(groups)
    for grp in runs:
        sel = [r for r in rows if r["run"] in groups.get(grp, [grp])]
        for d in draws:
            per_seed = []
            for k in seeds:
                dd = np.array([stats(r["covs"][f"{d},{k}"] if r["covs"] else r["base"],
                                     r["e"])[2:] for r in sel])
                per_seed.append([np.mean(dd[:, c] <= j) for c in (0, 1) for j in (1, 2, 3)])
            ps = np.array(per_seed)
            cost = sum(np.mean([r["ms"][f"{d},{k}"] for k in seeds])
                       for r in sel if r["covs"]) / len(sel)
            cells = [f"{ps[:, i].mean():.2f}[{ps[:, i].min():.2f}-{ps[:, i].max():.2f}]"
                     for i in range(6)]
            print(f"  {grp:9s} n={len(sel):3d} {d:3d} draws  position {' '.join(cells[:3])}"
                  f"  rotation {' '.join(cells[3:])}  +{cost:.1f} ms")


if __name__ == "__main__":
    main(*sys.argv[1:])
