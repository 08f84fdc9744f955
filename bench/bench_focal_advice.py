#!/usr/bin/env python3
"""The map check's colour-focal note followed, on a TUM RGB-D map/query folder pair whose depth
is a separate depth camera's (7-Scenes: K given 585 px, the depth camera's; the colour images
fit about 531 px): build-map and localize (``--matcher sift``) for each way of following it, in
one run, side by side: the map check's verdict, localize's median error, recall and its focal
row.

Cases (each a TUM folder written under ``--work``: the images, stamps and ground truth linked,
camera.yaml and, where said, the depth rewritten):

* ``given``: the folders as they are (one K, fx as given, for colour and depth);
* ``colour_K_only``: the old note's advice read literally, camera.yaml's fx, fy set to the fit
  (``--colour-fx``) for map and query, the depth unchanged (built with ``--force`` when the
  check refuses it, to measure localize too);
* ``registered``: the depth registered to the colour camera (`core.depth_register`: the depth
  camera's K as given, the colour camera's with ``--colour-fx``, no extrinsic: 7-Scenes
  publishes none), then camera.yaml with the colour K for map and query: the new note's
  advice;
* ``query_colour_fx``: the ``given`` map, its query with camera.yaml fx ``--colour-fx`` (the
  map's K and the query's differing);
* ``query_525``: the ``given`` map, its query with fx 525 (a Kinect v1 colour camera's
  nominal focal length).

    python bench/bench_focal_advice.py MAP_FOLDER QUERY_FOLDER --work /tmp/fa
    python bench/bench_focal_advice.py MAP QUERY --work /tmp/fa --cases given,registered
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Dict, List, Optional

import cv2
import numpy as np

from mast3r_ros.core.depth_register import DepthRegistration
from mast3r_ros.core.types import CameraIntrinsics

CASES = ("given", "colour_K_only", "registered", "query_colour_fx", "query_525")
DEPTH_UNITS = 5000.0  # TUM PNG depth units per metre


def _camera_yaml(src: str, fx: Optional[float]) -> str:
    """``src``'s camera.yaml text with fx, fy (K and P) set to ``fx`` (None: as it is)."""
    with open(os.path.join(src, "camera.yaml"), encoding="utf-8") as f:
        text = f.read()
    if fx is None:
        return text
    import yaml
    d = yaml.safe_load(text)
    for key, at in (("camera_matrix", (0, 4)), ("projection_matrix", (0, 5))):
        for i in at:
            d[key]["data"][i] = float(fx)
    return yaml.safe_dump(d, sort_keys=False)


def _intrinsics(src: str, fx: Optional[float] = None) -> CameraIntrinsics:
    import yaml
    d = yaml.safe_load(_camera_yaml(src, fx))
    return CameraIntrinsics(K=np.array(d["camera_matrix"]["data"], np.float64).reshape(3, 3),
                            dist=np.zeros(5), width=d["image_width"],
                            height=d["image_height"])


def _folder(src: str, out: str, fx: Optional[float], register_to: Optional[float]) -> str:
    """A TUM folder at ``out``: ``src``'s images, stamps and ground truth linked, camera.yaml
    with ``fx``, its depth as it is, or registered from ``src``'s K to fx ``register_to``."""
    os.makedirs(out, exist_ok=True)
    for name in os.listdir(src):
        if name in ("camera.yaml", "depth") and (name == "camera.yaml" or register_to):
            continue
        dst = os.path.join(out, name)
        if not os.path.lexists(dst):
            os.symlink(os.path.abspath(os.path.join(src, name)), dst)
    with open(os.path.join(out, "camera.yaml"), "w", encoding="utf-8") as f:
        f.write(_camera_yaml(src, fx))
    if register_to:
        reg = DepthRegistration(_intrinsics(src), _intrinsics(src, register_to), np.eye(4))
        os.makedirs(os.path.join(out, "depth"), exist_ok=True)
        for name in sorted(os.listdir(os.path.join(src, "depth"))):
            raw = cv2.imread(os.path.join(src, "depth", name), cv2.IMREAD_UNCHANGED)
            got = reg(raw.astype(np.float64) / DEPTH_UNITS)
            cv2.imwrite(os.path.join(out, "depth", name),
                        np.round(got * DEPTH_UNITS).astype(np.uint16))
    return out


def _run(args: List[str], log: str) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "mast3r_ros.replay.cli", *args],
                       capture_output=True, text=True)
    with open(log, "w", encoding="utf-8") as f:
        f.write("$ mast3r-ros " + " ".join(args) + "\n" + r.stdout + r.stderr)
    return r


def _map_check_line(r: subprocess.CompletedProcess) -> str:
    lines = (r.stdout + r.stderr).splitlines()
    for key in ("map check note", "map inconsistent", "map check: consistent", "map consistent"):
        hit = [s for s in lines if key in s]
        if hit:
            return hit[0].split("] ", 2)[-1][:160]
    return f"rc {r.returncode}"


def _case(case: str, map_src: str, query_src: str, work: str, colour_fx: float
          ) -> Dict[str, object]:
    d = os.path.join(work, case)
    map_fx = {"colour_K_only": colour_fx, "registered": colour_fx}.get(case)
    query_fx = {"colour_K_only": colour_fx, "registered": colour_fx,
                "query_colour_fx": colour_fx, "query_525": 525.0}.get(case)
    map_dir = _folder(map_src, os.path.join(d, "map_in"), map_fx,
                      colour_fx if case == "registered" else None)
    query_dir = _folder(query_src, os.path.join(d, "query_in"), query_fx, None)
    built = _run(["build-map", map_dir, "--out", os.path.join(d, "map"), "--matcher", "sift"],
                 os.path.join(d, "build_map.log"))
    row: Dict[str, object] = {"case": case, "map_fx": map_fx or "as given",
                              "query_fx": query_fx or "as given", "build_rc": built.returncode,
                              "map_check": _map_check_line(built)}
    if built.returncode != 0:
        built = _run(["build-map", map_dir, "--out", os.path.join(d, "map"), "--matcher", "sift",
                      "--force"], os.path.join(d, "build_map_force.log"))
        row["built_with_force"] = built.returncode == 0
    loc = _run(["localize", query_dir, "--map", os.path.join(d, "map"), "--out",
                os.path.join(d, "run"), "--matcher", "sift"], os.path.join(d, "localize.log"))
    row["localize_rc"] = loc.returncode
    if loc.returncode == 0:
        with open(os.path.join(d, "run", "metrics.json"), encoding="utf-8") as f:
            m = json.load(f)
        cf = m.get("camera_focal") or {}
        row.update(localized=m["localized_fraction"],
                   t_median_cm=round(100 * m["translation_error_m"]["median"], 2),
                   r_median_deg=round(m["rotation_error_deg"]["median"], 2),
                   recall_5cm_5deg=m["recall"]["5cm_5deg"],
                   focal_fx_fitted=round(cf.get("fx_fitted_px") or float("nan"), 1),
                   focal_fx_off=cf.get("fx_off"))
    return row


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    p.add_argument("map_folder")
    p.add_argument("query_folder")
    p.add_argument("--work", required=True, help="where the case folders, maps and runs go")
    p.add_argument("--colour-fx", type=float, default=531.2,
                   help="the colour camera's fx, fy (the note's fit; default 531.2)")
    p.add_argument("--cases", default=",".join(CASES))
    p.add_argument("--json", help="write the rows here too")
    a = p.parse_args()
    rows = [_case(c, a.map_folder, a.query_folder, a.work, a.colour_fx)
            for c in a.cases.split(",")]
    for r in rows:
        print(json.dumps(r))
    cols = ("case", "map_fx", "query_fx", "build_rc", "localized", "t_median_cm",
            "r_median_deg", "recall_5cm_5deg", "focal_fx_fitted", "focal_fx_off")
    print("\n" + " | ".join(cols))
    for r in rows:
        print(" | ".join(str(r.get(c, "-")) for c in cols))
    for r in rows:
        print(f"{r['case']}: {r['map_check']}")
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
