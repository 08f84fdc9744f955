"""The ``cpu_threads`` parameter: torch's and OpenCV's CPU thread pools, set where a config
becomes a localizer, an engine or a map build; and the shipped parameter file lists every
parameter."""

import os
from pathlib import Path

import pytest
import torch
import yaml

from mast3r_ros.core import devices
from mast3r_ros.core.config import Config, config_from_params, config_to_params, param_specs
from mast3r_ros.core.errors import ConfigError, Mast3rRosError

cv2 = pytest.importorskip("cv2")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads(), cv2.getNumThreads()
    yield
    torch.set_num_threads(before[0])
    cv2.setNumThreads(before[1])


def test_apply_cpu_threads_sets_torch_and_opencv_and_zero_keeps_them(restore_threads):
    torch.set_num_threads(2)
    cv2.setNumThreads(2)
    devices.apply_cpu_threads(0)
    assert (torch.get_num_threads(), cv2.getNumThreads()) == (2, 2)
    devices.apply_cpu_threads(1)
    assert (torch.get_num_threads(), cv2.getNumThreads()) == (1, 1)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "2"])
def test_apply_cpu_threads_refuses_what_is_not_a_count(bad, restore_threads):
    with pytest.raises(ConfigError, match=r"^cpu_threads must be a whole number >= 0"):
        devices.apply_cpu_threads(bad)


def test_the_parameter_is_range_checked():
    assert config_from_params({"cpu_threads": 3}).model.cpu_threads == 3
    with pytest.raises(ConfigError, match=r"'cpu_threads' must be in \[0, 1024\], got -1"):
        config_from_params({"cpu_threads": -1})


def test_the_localizer_the_engine_and_the_map_build_apply_it_before_loading(
        monkeypatch, tmp_path, restore_threads):
    """Each entry point sets the pools from its config before it reads a map or a checkpoint
    (all three fail here on a missing path, after applying)."""
    from mast3r_ros.core.localizer import pipeline as loc_pipeline
    from mast3r_ros.core.model import engine as engine_mod
    from mast3r_ros.replay import pipeline as build_pipeline

    seen = []
    for mod in (loc_pipeline, engine_mod, build_pipeline):
        monkeypatch.setattr(mod, "apply_cpu_threads", seen.append)
    cfg = config_from_params({"cpu_threads": 1, "matcher": "sift"})
    with pytest.raises(Mast3rRosError):
        loc_pipeline.Localizer.from_config(cfg, str(tmp_path / "no_map"))
    assert seen == [1]
    with pytest.raises(Mast3rRosError):
        engine_mod.Mast3rEngine.from_config(
            config_from_params({"cpu_threads": 1, "checkpoint": str(tmp_path / "no.pth")}).model)
    assert seen == [1, 1]

    class Reached(Exception):
        pass

    class Source:  # the build stops at its first look at the frames
        def __getattr__(self, name):
            raise Reached(name)

    with pytest.raises(Reached):
        build_pipeline.build_map(Source(), str(tmp_path / "map"), cfg)
    assert seen == [1, 1, 1]


def test_the_shipped_parameter_file_lists_every_parameter_at_its_default():
    """config/localize.yaml says it lists every parameter with its default: a parameter added to
    the config and not to the file would be missing from what users copy."""
    with open(ROOT / "config" / "localize.yaml", encoding="utf-8") as fh:
        shipped = yaml.safe_load(fh)["/**/mast3r_localizer"]["ros__parameters"]

    def flat(d, prefix=""):
        for k, v in d.items():
            if isinstance(v, dict):
                yield from flat(v, f"{prefix}{k}.")
            else:
                yield prefix + k

    names = set(flat(shipped))
    missing = sorted(s.name for s in param_specs() if s.name not in names)
    assert not missing, f"config/localize.yaml lacks {missing}"
    assert config_to_params(config_from_params(shipped)) == config_to_params(Config())


def test_check_map_applies_the_params_cpu_threads(monkeypatch, tmp_path, restore_threads):
    """docs/gpu.md: 'On the CPU': cpu_threads in --params sets the pools for the process; check-map
    read --params (its map_check section) but never applied cpu_threads (it fails here on the
    missing map, after applying)."""
    from mast3r_ros.replay.cli import main

    seen = []
    monkeypatch.setattr(devices, "apply_cpu_threads", lambda n, **kw: seen.append((n, kw)))
    params = tmp_path / "p.yaml"
    params.write_text("/**:\n  ros__parameters:\n    cpu_threads: 1\n")
    assert main(["check-map", str(tmp_path / "no_map"), "--params", str(params)]) == 2
    # OpenCV's pool only: the check runs no torch, and setting torch's imported it (2-4 s)
    assert seen == [(1, {"torch_pool": False})]


def test_torch_pool_false_sets_opencv_only(restore_threads):
    torch.set_num_threads(2)
    cv2.setNumThreads(2)
    devices.apply_cpu_threads(1, torch_pool=False)
    assert (torch.get_num_threads(), cv2.getNumThreads()) == (2, 1)


def test_more_threads_than_cores_is_warned_once(monkeypatch, caplog, restore_threads):
    """cpu_threads: 1000 in a parameter file was applied without a word; threads beyond the cores
    this process may run on only wait for each other (the range [0, 1024] cannot know the
    machine), so applying them warns, once per value, and still sets them."""
    monkeypatch.setattr(devices, "usable_cores", lambda: 2)
    monkeypatch.setattr(devices, "_warned_threads", set())
    with caplog.at_level("WARNING", logger=devices.__name__):
        devices.apply_cpu_threads(2)
        assert not caplog.records
        devices.apply_cpu_threads(3)
        devices.apply_cpu_threads(3)
    assert torch.get_num_threads() == 3
    assert [r.getMessage() for r in caplog.records] == [
        "cpu_threads 3 is more than the 2 core(s) this process may run on: the extra threads only "
        "wait for each other; set cpu_threads to at most 2, or 0 for one per core (docs/gpu.md: "
        "On the CPU)"]


def test_usable_cores_counts_this_process_cores():
    assert 1 <= devices.usable_cores() <= (os.cpu_count() or 1)
