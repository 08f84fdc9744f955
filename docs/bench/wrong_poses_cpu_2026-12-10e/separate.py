"""Does any feature of table.py's rows, alone or two together, separate the wrong poses?

usage: python separate.py POSES.csv
"wrong" = published and > 10 cm or > 5 deg from ground truth. For each feature (and each pair)
the loosest gate that refuses every wrong pose -- a one-sided threshold at the least extreme
wrong value (pairs: the quadrant through both least extreme wrong values, each side chosen to
hold the wrong poses) -- and the right poses that gate would refuse too, by run. A gate with
margin refuses none of them, and still none with its threshold moved 20 % beyond the wrong
values. Prints the per-feature ranges, then the single features and the 10 best pairs.
"""

import csv
import itertools
import sys

import numpy as np

FEATURES = ["sigma_cm", "n_inl", "inl_ratio", "hull", "cells", "minor_px", "band", "draw_cm",
            "draw16_cm", "rms_px", "med_px", "p90_px"]


def load(path):
    rows = list(csv.DictReader(open(path)))
    for r in rows:
        for k in r:
            if k != "run":
                r[k] = float(r[k])
        r["wrong"] = r["err_cm"] > 10 or r["err_deg"] > 5
    return rows


def side(wrong_vals, right_vals):
    """(sign, threshold): the wrong poses lie at sign * v >= sign * threshold, the side where
    fewer right poses lie."""
    lo, hi = wrong_vals.min(), wrong_vals.max()
    below = np.sum(right_vals <= hi)  # gate "v <= hi" refuses these right poses
    above = np.sum(right_vals >= lo)
    return (-1, hi) if below <= above else (1, lo)


def refused(rows, feats, slack=1.0):
    W = [r for r in rows if r["wrong"]]
    R = [r for r in rows if not r["wrong"]]
    mask = np.ones(len(R), bool)
    desc = []
    for f in feats:
        s, t = side(np.array([r[f] for r in W]), np.array([r[f] for r in R]))
        t = t * slack ** (-s)  # move the threshold 20 % beyond the wrong poses
        v = np.array([r[f] for r in R])
        mask &= (s * v >= s * t)
        desc.append(f"{f} {'<=' if s < 0 else '>='} {t:.3g}")
    hit = [R[i] for i in np.flatnonzero(mask)]
    by_run = {}
    for r in hit:
        by_run[r["run"]] = by_run.get(r["run"], 0) + 1
    return " and ".join(desc), len(hit), by_run


def main(path):
    rows = load(path)
    W = [r for r in rows if r["wrong"]]
    R = [r for r in rows if not r["wrong"]]
    print(f"{len(W)} wrong, {len(R)} right poses in {len(set(r['run'] for r in rows))} runs")
    print("single features: the loosest gate refusing all wrong poses -> right poses refused")
    for f in FEATURES:
        g, n, by = refused(rows, [f])
        g2, n2, _ = refused(rows, [f], 1.2)
        print(f"  {g:28s} refuses {n:3d} right {by}; 20 % margin: {n2}")
    pairs = sorted((refused(rows, p) + (p,) for p in itertools.combinations(FEATURES, 2)),
                   key=lambda t: t[1])
    print("pairs (best 10):")
    for g, n, by, p in pairs[:10]:
        n2 = refused(rows, list(p), 1.2)[1]
        print(f"  {g:50s} refuses {n:3d} right {by}; 20 % margin: {n2}")


if __name__ == "__main__":
    main(*sys.argv[1:])
