"""Every path-valued parameter expands ``~`` and ``$VARS`` alike (`expand_path`).

A parameter file is not read by a shell: ``map_path: $HOME/maps/m`` used to reach `localize`
as written ("map not found: <cwd>/$HOME/maps/m") while ``checkpoint: $HOME/m.pth`` was found."""

from __future__ import annotations

import os

import pytest

from mast3r_ros.core.config import config_from_params
from mast3r_ros.core.path_expand import expand_path


@pytest.fixture
def maps_home(sift_map, tmp_path, monkeypatch):
    """HOME and MAPS pointed at tmp_path, which holds (a link to) the tiny SIFT map as maps/m."""
    (tmp_path / "maps").mkdir()
    os.symlink(sift_map, tmp_path / "maps" / "m")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("MAPS", str(tmp_path / "maps"))
    monkeypatch.chdir(tmp_path / "maps")  # a relative '$HOME/...' would not be found from here
    return str(tmp_path / "maps" / "m")


def test_expand_path_expands_home_and_variables(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("MAPS", "/srv/maps")
    assert expand_path("~/m") == os.path.join(str(tmp_path), "m")
    assert expand_path("$HOME/m") == os.path.join(str(tmp_path), "m")
    assert expand_path("${MAPS}/m") == "/srv/maps/m"
    assert expand_path("") == ""
    monkeypatch.delenv("NOT_SET_VARS_TEST", raising=False)
    assert expand_path("$NOT_SET_VARS_TEST/m") == "$NOT_SET_VARS_TEST/m"  # shown as written


@pytest.mark.parametrize("given", ["$HOME/maps/m", "${MAPS}/m", "~/maps/m"])
def test_localize_map_path_from_params_expands_variables(maps_home, given):
    """`localize --params P.yaml` without --map: the map from map_path, as the node reads it."""
    from mast3r_ros.replay.cli import _map_path

    cfg = config_from_params({"map_path": given})
    assert _map_path(None, cfg, "P.yaml") == maps_home


@pytest.mark.parametrize("given", ["$HOME/maps/m", "${MAPS}/m"])
def test_keyframe_map_opens_a_map_path_with_variables(maps_home, given):
    """The node's map_path reaches `KeyframeMap.load` (via `Localizer.from_config`) as written."""
    from mast3r_ros.core.keyframes import KeyframeMap

    KeyframeMap.check_folder(given)
    assert len(KeyframeMap.load(given, lazy=True)) > 0


def test_recorded_config_and_check_params_expand_variables(maps_home, monkeypatch):
    from mast3r_ros.replay.check_params import _check_map_path
    from mast3r_ros.replay.pipeline import recorded_config

    monkeypatch.setenv("CKPTS", "/srv/ckpt")
    cfg = config_from_params({"map_path": "$MAPS/m", "checkpoint": "$CKPTS/m.pth",
                              "retrieval.codebook": "~/cb.pkl"})
    rec = recorded_config(cfg)
    assert rec.node.map_path == maps_home
    assert rec.model.checkpoint == "/srv/ckpt/m.pth"
    assert rec.retrieval.codebook == os.path.join(os.environ["HOME"], "cb.pkl")
    assert _check_map_path("$MAPS/m", "P.yaml", matcher="sift") is True


def test_engine_cache_expands_variables(monkeypatch, tmp_path, tiny_ckpt):
    from mast3r_ros.core.model.engine import Mast3rEngine

    monkeypatch.setenv("CACHE_ROOT", str(tmp_path))
    seen = {}

    def fake(cls, path, *args, **kwargs):
        seen.update(kwargs)

    monkeypatch.setattr(Mast3rEngine, "from_checkpoint", classmethod(fake))
    cfg = config_from_params({"checkpoint": tiny_ckpt, "device": "cpu",
                              "engine_cache": "$CACHE_ROOT/trt"})
    Mast3rEngine.from_config(cfg.model)
    assert seen["id_cache"] == os.path.join(str(tmp_path), "trt")
