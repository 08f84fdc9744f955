"""Score the trigger rules, draw counts and draw kinds on measure.py's per-frame records.

usage: python score.py normal=M_NORMAL.pkl occluded=M_OCC.pkl far=M_FAR.pkl blur=M_BLUR.pkl
For each candidate prints, per run: the fraction of frames whose draws would run, the mean and
95th percentile over all frames of the time the draws add (measure.py's wall clock of the draws
alone, 0 on a frame not triggered); then the wrong poses' (> 10 cm or > 5 deg) Mahalanobis
distances d of the position error (occluded run's two, then the far run's three), the right
poses beyond the 3-sigma bound of a 3-D error (d^2 > 14.16) per run, and the right poses'
median worst-axis position sigma (cm) per run. A triggered frame's covariance is the shipped
combination (model_selection.with_model_selection: the data part replaced by its Loewner max
with the spread times the candidate's factor); an untriggered frame keeps the first-order one.
"""

import pickle
import re
import sys

import numpy as np

from mast3r_ros.core.pnp.model_selection import spread_factor, with_model_selection

BOUND = 14.16  # chi2(3) 99.73 %


def _wrong(x):
    return np.linalg.norm(x["ep"]) > 0.10 or np.degrees(np.linalg.norm(x["er"])) > 5


def _cov(x, key, factor):
    s = x["sp"][key]
    return x["base"] if s is None else with_model_selection(x["base"], x["data"], factor * s)


def score(runs, name, key, factor, trigger):
    tkey = re.sub(r"s\d$", "", key)  # a seed's draws cost what seed 0's did
    head, wd, beyond, sig = [], [], [], []
    for rows in runs.values():
        fired = np.array([trigger(x) for x in rows])
        cost = 1000 * np.array([x["tm"][tkey] if t else 0.0 for x, t in zip(rows, fired)])
        nb, sg = 0, []
        for x, t in zip(rows, fired):
            C = _cov(x, key, factor) if t else x["base"]
            d = float(np.sqrt(x["ep"] @ np.linalg.solve(C[:3, :3], x["ep"])))
            if _wrong(x):
                wd.append(f"{d:.1f}")
            else:
                nb += d * d > BOUND
                sg.append(np.sqrt(np.linalg.eigvalsh(C[:3, :3])[-1]))
        beyond.append(str(nb))
        sig.append(f"{100 * np.median(sg):.2f}")
        p95 = np.percentile(cost, 95)
        head.append(f"{100 * fired.mean():3.0f}% +{cost.mean():5.1f}/{p95:5.1f}")
    print(f"{name:34s} | " + " | ".join(head))
    print(f"{'':34s}   wrong d {' '.join(wd):22s} right beyond {'+'.join(beyond)}"
          f" = {sum(map(int, beyond))}   sigma cm {' / '.join(sig)}")


def main(*specs):
    runs = {}
    for spec in specs:
        label, path = spec.split("=")
        runs[label] = pickle.load(open(path, "rb"))
    print(f"{'candidate':34s} | per run (" + ", ".join(runs) + "): triggered, added ms mean/p95")
    def always(x):
        return True

    f8, f16 = spread_factor(8), spread_factor(16)
    score(runs, "off (first order only)", "full16", 1.0, lambda x: False)
    score(runs, "16 draws, every frame (zk)", "full16", 1.0, always)
    score(runs, "8 draws, every frame", "full8", 1.0, always)
    score(runs, f"8 draws x{f8:.2f}, every frame", "full8", f8, always)
    score(runs, "refine-only 16, every frame", "cheap16", 1.0, always)
    score(runs, "refine-only 8, every frame", "cheap8", 1.0, always)
    score(runs, "refine-only 16 inliers, every frame", "cheapinl16", 1.0, always)
    for t in (0.15, 0.2):
        score(runs, f"cover < {t}: 16 draws", "full16", 1.0, lambda x, t=t: x["cover"] < t)
    score(runs, "coupling > 0.99: 16 draws", "full16", 1.0, lambda x: x["coup"] > 0.99)
    for t in (0.2, 0.25):
        score(runs, f"(z90-z10)/z50 < {t}: 16 draws", "full16", 1.0,
              lambda x, t=t: x["band"] < t)
    for t in (0.1, 0.125, 0.15):
        score(runs, f"band < {t}: 8 draws x{f8:.2f}", "full8", f8, lambda x, t=t: x["band2"] < t)
    for s in ("s1", "s2"):
        score(runs, f"band < 0.125: 8 x{f8:.2f}, seed {s[1]}", "full8" + s, f8,
              lambda x: x["band2"] < 0.125)
    for s in ("", "s1", "s2"):
        score(runs, f"band < 0.125: 16 x{f16:.2f}, seed {s[1:] or 0}", "full16" + s, f16,
              lambda x: x["band2"] < 0.125)


if __name__ == "__main__":
    main(*sys.argv[1:])
