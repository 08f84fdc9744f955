"""Would motion continuity tell the wrong poses? The apparent speed between consecutive
published poses of a run, pairs touching a wrong pose against the others.

usage: python motion.py POSES.csv LABEL=RUN [...]
POSES.csv: table.py's output (which poses are wrong: > 10 cm or > 5 deg); RUN: the localize
output folder of the run table.py labelled LABEL (its results.jsonl).
"""

import csv
import json
import sys

import numpy as np


def main(poses, *runs):
    rows = {(r["run"], int(r["stamp_ns"])): r for r in csv.DictReader(open(poses))}

    def wrong(run, stamp):
        r = rows[run, stamp]
        return float(r["err_cm"]) > 10 or float(r["err_deg"]) > 5

    right = []
    for spec in runs:
        label, run = spec.split("=")
        pub = [r for r in map(json.loads, open(run + "/results.jsonl")) if r["success"]]
        for a, b in zip(pub, pub[1:]):
            dt = (b["stamp_ns"] - a["stamp_ns"]) / 1e9
            d = np.linalg.norm(np.array(b["map_from_cam"])[:3, 3]
                               - np.array(a["map_from_cam"])[:3, 3])
            if wrong(label, a["stamp_ns"]) or wrong(label, b["stamp_ns"]):
                print(f"{label} {a['stamp_ns'] / 1e9:.2f} -> {b['stamp_ns'] / 1e9:.2f} s "
                      f"(a wrong pose): {100 * d:.1f} cm over {dt:.2f} s = {d / dt:.2f} m/s")
            else:
                right.append(d / dt)
    v = np.array(right)
    print(f"pairs of right poses ({len(v)}): median {np.median(v):.2f} m/s, p95 "
          f"{np.percentile(v, 95):.2f}, max {v.max():.2f}")


if __name__ == "__main__":
    main(*sys.argv[1:])
