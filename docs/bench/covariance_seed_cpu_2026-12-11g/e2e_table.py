"""One line per end-to-end run (`mast3r-ros localize`'s metrics.json).

usage: python e2e_table.py LABEL=RUN/metrics.json [...]
Published / frames, median position and rotation error, recall at 5 cm / 5 deg, position
coverage of the covariance's 50 / 90 / 95 / 99 % regions, frames beyond 3 sigma, median
published position sigma and the PnP stage's latency (median / p90, ms).
"""

import json
import sys

print(f"{'run':10s} {'published':>9s} {'median cm':>9s} {'deg':>5s} {'recall':>6s}  "
      f"{'coverage 50/90/95/99 %':>22s} {'>3sig':>5s} {'sigma cm':>8s}  pnp ms median/p90")
for spec in sys.argv[1:]:
    label, path = spec.split("=")
    m = json.load(open(path))
    c = m["covariance"]["position"]
    lat = m["latency_s"]["pnp"]
    cov = "/".join(f"{100 * c['coverage'][k]:.0f}" for k in ("50", "90", "95", "99"))
    print(f"{label:10s} {m['localized']:4d}/{m['frames']:<4d} "
          f"{100 * m['translation_error_m']['median']:9.2f} "
          f"{m['rotation_error_deg']['median']:5.2f} {100 * m['recall']['5cm_5deg']:5.0f}%  "
          f"{cov:>22s} {c['beyond_3sigma']:5d} "
          f"{100 * m['covariance']['position_sigma_m_median']:8.2f}  "
          f"{1000 * lat['median']:.1f} / {1000 * lat['p90']:.1f}")
