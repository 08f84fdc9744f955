#!/usr/bin/env python3
"""Covariance calibration check: chi^2 coverage and median squared Mahalanobis distance.

Synthetic: the demo room is rendered (exact ground truth), the map frames get sensor noise
(`replay.synthetic.add_sensor_noise`: depth ``k z^2``, image noise, and -- unless
``--exact-map-poses`` -- a keyframe pose error of ``--map-pose-sigma-m`` / ``--map-pose-sigma-deg``,
which the covariance config is told), the query frames image noise only; a SIFT map is built
from every even frame and the odd frames are localized. Real data: ``--map`` and ``--query`` TUM
folders (e.g. redkitchen_a_map / redkitchen_a_query) instead. Prints the metrics table; the
``covariance`` block is the calibration (replay/metrics.py).

    python bench/bench_covariance.py --frames 120 --seed 1 --out /tmp/cov_syn
    python bench/bench_covariance.py --exact-map-poses --frames 80 --seed 2 --out /tmp/cov_ex
    python bench/bench_covariance.py --map DATA/redkitchen_a_map --query DATA/redkitchen_a_query \\
        --out /tmp/cov_rk
    python bench/bench_covariance.py --sweep view_angle_sigma_ratio=0,0.05,0.1,0.2 \\
        --sweep map_pose_sigma_deg=0.5,1,2 --out /tmp/cov_sweep
    python bench/bench_covariance.py --map DATA/redkitchen_a_map --query DATA/redkitchen_a_query \\
        --params sparse.yaml --sweep view_angle_sigma_ratio=0,0.1 --out /tmp/cov_sparse

``--sweep KEY=V1,V2,...`` (a ``covariance.*`` parameter, repeatable) builds the map once and
localizes it once per value, one parameter varied at a time from the others' values (the pose
does not depend on them; its covariance does), and prints one reliability row per run: the
fraction of frames whose squared Mahalanobis distance lies within the chi^2(3) 50 / 90 / 95 /
99 % quantiles (a calibrated covariance: those fractions), position (with the 1 cm ground-truth
allowance) and rotation, and the median sigmas.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile

from mast3r_ros.core.config import Config, CovarianceConfig, load_config_yaml
from mast3r_ros.replay import synthetic as sy
from mast3r_ros.replay.localize_run import run_localization
from mast3r_ros.replay.pipeline import build_map
from mast3r_ros.replay.metrics_table import format_table
from mast3r_ros.replay.tum import TumSequence


def main() -> None:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="",
                    help="folder for the rendered sequences, the map and the run (default: a "
                         "new temporary folder, printed; remove it afterwards)")
    ap.add_argument("--map", default="", help="real data: TUM folder to build the map from")
    ap.add_argument("--query", default="", help="real data: TUM folder to localize")
    ap.add_argument("--frames", type=int, default=120,
                    help="synthetic: frames rendered; the even ones make the map, the odd ones "
                         "are localized (so half of them are evaluated)")
    ap.add_argument("--seed", type=int, default=1, help="synthetic: noise seed")
    ap.add_argument("--depth-sigma-k", type=float, default=1.6e-3,
                    help="synthetic: map depth noise sigma = k z^2 (metres)")
    ap.add_argument("--image-sigma", type=float, default=4.0,
                    help="synthetic: image noise sigma (8-bit grey levels)")
    ap.add_argument("--map-pose-sigma-m", type=float, default=0.01,
                    help="synthetic: keyframe position error (m), also told to the covariance")
    ap.add_argument("--map-pose-sigma-deg", type=float, default=1.0,
                    help="synthetic: keyframe rotation error (deg), also told to the covariance")
    ap.add_argument("--exact-map-poses", action="store_true",
                    help="synthetic: exact keyframe poses (and sigma 0 in the covariance)")
    ap.add_argument("--view-angle-sigma-ratio", type=float, default=None,
                    help="covariance.view_angle_sigma_ratio (default: the config's); the "
                         "synthetic scene has no view-dependent point error, so this shows "
                         "how conservative the term makes it there")
    ap.add_argument("--params", default="",
                    help="ROS parameter file (config/localize.yaml's form) the base config is "
                         "read from, e.g. a sparser map_build.* for --map (default: the "
                         "defaults; the synthetic map keeps every even frame, the matcher is "
                         "sift)")
    ap.add_argument("--sweep", action="append", default=[], metavar="KEY=V1,V2,...",
                    help="localize once per value of covariance.KEY (repeatable; one key "
                         "varied at a time) and print the reliability rows")
    a = ap.parse_args()
    sweeps = [_sweep_arg(ap, s) for s in a.sweep]
    if not a.out:
        a.out = tempfile.mkdtemp(prefix="bench_covariance_")
        print(f"writing to {a.out}")
    base = _base_config(a.params)
    cv = base.localizer.covariance
    mb = base.map_build
    if a.view_angle_sigma_ratio is not None:
        cv = dataclasses.replace(cv, view_angle_sigma_ratio=a.view_angle_sigma_ratio)
    if a.map:
        map_dir, query_dir = a.map, a.query
    else:
        ps_m, ps_d = (0.0, 0.0) if a.exact_map_poses else (a.map_pose_sigma_m,
                                                           a.map_pose_sigma_deg)
        cv = dataclasses.replace(cv, map_pose_sigma_m=ps_m, map_pose_sigma_deg=ps_d)
        mb = dataclasses.replace(mb, min_translation_m=0.0, min_rotation_deg=0.0)
        frames = list(sy.render_frames(a.frames, sy.default_intrinsics(640, 480), a.seed))
        map_frames = sy.add_sensor_noise(frames[0::2], a.seed, a.depth_sigma_k, a.image_sigma,
                                         ps_m, ps_d)
        query_frames = sy.add_sensor_noise(frames[1::2], a.seed + 100, image_sigma=a.image_sigma)
        map_dir = sy.write_tum_sequence(os.path.join(a.out, "map_seq"), map_frames)
        query_dir = sy.write_tum_sequence(os.path.join(a.out, "query_seq"), query_frames)
    cfg = dataclasses.replace(base, map_build=mb, localizer=dataclasses.replace(
        base.localizer, matcher="sift", covariance=cv))
    _, map_path = build_map(TumSequence(map_dir), os.path.join(a.out, "map"), cfg,
                            overwrite=True)
    if not sweeps:
        m = run_localization(TumSequence(query_dir), map_path, os.path.join(a.out, "run"), cfg)
        print(format_table(m))
        print(json.dumps(m.get("covariance"), indent=1))
        return
    print(RELIABILITY_HEAD)
    for key, values in sweeps:
        for v in values:
            c = dataclasses.replace(cfg, localizer=dataclasses.replace(
                cfg.localizer, covariance=dataclasses.replace(cv, **{key: v})))
            m = run_localization(TumSequence(query_dir), map_path,
                                 os.path.join(a.out, f"run_{key}_{v:g}"), c, overwrite=True)
            print(reliability_row(f"{key}={v:g}", m["covariance"]), flush=True)


RELIABILITY_HEAD = ("| setting | frames | position 50/90/95/99 % | position +1 cm gt | "
                    "rotation 50/90/95/99 % | median sigma (cm / deg) |\n|---|---|---|---|---|---|")


def reliability_row(name: str, cov: dict) -> str:
    """One markdown row of the observed fractions (percent) within the chi^2(3) quantiles
    (metrics.json's ``covariance`` block, `metrics.covariance_calibration`)."""
    def cells(block):
        c = block.get("coverage") or {}
        return " / ".join("-" if c.get(k) is None else f"{100 * c[k]:.0f}"
                          for k in ("50", "90", "95", "99"))
    gt = next(v for k, v in cov.items() if k.startswith("position_gt_"))
    ps, rs = cov.get("position_sigma_m_median"), cov.get("rotation_sigma_deg_median")
    sig = "-" if ps is None else f"{100 * ps:.2f} / {rs:.2f}"
    return (f"| {name} | {cov['position']['frames']} | {cells(cov['position'])} | {cells(gt)} "
            f"| {cells(cov['rotation'])} | {sig} |")


def _base_config(params: str) -> Config:
    """The config of ``--params`` (`load_config_yaml`), the defaults without one."""
    return load_config_yaml(params) if params else Config()


def _sweep_arg(ap: argparse.ArgumentParser, text: str):
    """(field, [values]) of ``--sweep KEY=V1,V2,...``; ap.error for an unknown key or a value
    that is not a number."""
    key, _, values = text.partition("=")
    key = key.strip().removeprefix("covariance.")
    fields = [f.name for f in dataclasses.fields(CovarianceConfig)]
    if key not in fields:
        ap.error(f"--sweep {text}: no covariance parameter '{key}'; one of {', '.join(fields)}")
    # an int parameter (model_selection_draws) takes whole numbers: the config refuses 16.0
    whole = {f.name: f.type for f in dataclasses.fields(CovarianceConfig)}[key] in (int, "int")
    try:
        vals = [(int if whole else float)(v) for v in values.split(",") if v.strip()]
    except ValueError:
        ap.error(f"--sweep {text}: values must be {'whole ' if whole else ''}numbers separated "
                 f"by commas, e.g. {key}={'0,16' if whole else '0,0.1'}")
    if not vals:
        ap.error(f"--sweep {text}: no values; e.g. --sweep {key}=0,0.1")
    return key, vals


if __name__ == "__main__":
    main()
