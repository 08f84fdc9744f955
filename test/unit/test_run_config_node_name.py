"""A localize run given ``--node-name cam2_localizer`` wrote its config.yaml (the effective
parameter file, documented as the file to give back) keyed ``/**/mast3r_localizer`` anyway:
``check-params run/config.yaml --node-name cam2_localizer`` exited 2, and the renamed node given
it read none of it. The block is now the run's node's, and what reads the run's file back
(--resume's settings and comparison, the map a run folder records) takes the file's name."""

from __future__ import annotations

from mast3r_ros.core.config import load_config_yaml
from mast3r_ros.core.config.recorded_file import recorded_node_name
from mast3r_ros.core.output_kinds import recorded_map
from mast3r_ros.replay.cli import main

PARAMS = "cam2_localizer:\n  ros__parameters:\n    matcher: sift\n"


def test_a_renamed_runs_config_is_the_renamed_nodes_and_resumes(tum, sift_map, tmp_path,
                                                                capsys):
    params = tmp_path / "cam2.yaml"
    params.write_text(PARAMS)
    out = tmp_path / "run"
    argv = ["localize", tum[1], "--map", sift_map, "--out", str(out), "--params", str(params),
            "--node-name", "cam2_localizer", "--max-frames", "2", "--log-level", "error"]
    assert main(argv) == 0
    config = str(out / "config.yaml")
    assert recorded_node_name(config) == "cam2_localizer"
    assert load_config_yaml(config, node_name="cam2_localizer").localizer.matcher == "sift"
    capsys.readouterr()
    assert main(["check-params", config, "--node-name", "cam2_localizer"]) == 0
    assert recorded_map(str(out)) != ""
    # a stopped run's partial read back under its own name: --resume goes on from it
    (out / "metrics.json").unlink()
    out.rename(tmp_path / "run.partial")
    assert main([*argv, "--resume"]) == 0, capsys.readouterr().err


def test_a_file_of_another_layout_is_read_for_the_default_node(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("/**:\n  ros__parameters:\n    matcher: sift\n")
    assert recorded_node_name(str(f)) == "mast3r_localizer"
    assert recorded_node_name(str(tmp_path / "missing.yaml")) == "mast3r_localizer"
