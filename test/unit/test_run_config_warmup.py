"""A localize run's config.yaml is documented as the effective parameter file (given back as
--params, what the robot runs), but it recorded the offline run's warm-up choice: ``warmup:
false`` on a CPU run, so the file copied to the robot as the node's parameter file turned the
node's warm-up off (check-params listed it only as changed). config.yaml now keeps the parameter
file's ``warmup`` (the node's default, true, unless the file said false); run.json records
whether the run warmed up."""

from __future__ import annotations

import json

from mast3r_ros.core.config import load_config_yaml
from mast3r_ros.replay.cli import main


def test_a_cpu_run_records_the_node_s_warmup_and_its_own_choice_apart(tum, sift_map, tmp_path):
    out = tmp_path / "run"
    assert main(["localize", tum[1], "--map", sift_map, "--out", str(out), "--matcher", "sift",
                 "--max-frames", "1", "--log-level", "warning"]) == 0
    # the parameter file's (the default), as the node reads the file
    assert load_config_yaml(str(out / "config.yaml")).localizer.warmup is True
    assert json.loads((out / "run.json").read_text())["warmup"] is False  # sift on a CPU


def test_a_cpu_demo_run_records_the_node_s_warmup_as_localize_does(tmp_path):
    """The demo's run config.yaml still recorded the offline choice (warmup: false on a CPU
    run): copied to the robot, it turned the node's warm-up off."""
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--frames", "6", "--width", "128", "--height", "96",
                 "--log-level", "warning"]) == 0
    assert load_config_yaml(str(out / "run" / "config.yaml")).localizer.warmup is True
    assert json.loads((out / "run" / "run.json").read_text())["warmup"] is False
