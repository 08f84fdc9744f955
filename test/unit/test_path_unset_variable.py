"""A path parameter naming an environment variable that is not set says so, which variable,
and how to fix it: the node's configure, localize's --params map_path, the loaders'
not-found refusals (the commands' flags, check-map) and check-params (a warning: the variable
may be set where the node runs). An engine_cache of only spaces is refused as the other path
parameters are.

Before: ``map_path: $UNSET_VAR/map`` gave "map not found: <cwd>/$UNSET_VAR/map" (localize) or
"map folder not found: $UNSET_VAR/map (build one with ...)" (the node), which sent the user
looking for a folder; ``engine_cache: '   '`` was accepted (a cache folder named by spaces)."""

from __future__ import annotations

import pytest

from mast3r_ros.core.config import config_from_params
from mast3r_ros.core.errors import CheckpointError, ConfigError, InputError, MapFormatError
from mast3r_ros.core.path_expand import unset_variable_note, unset_variables

VAR = "MAST3R_TEST_UNSET_VAR"


@pytest.fixture(autouse=True)
def _unset(monkeypatch):
    monkeypatch.delenv(VAR, raising=False)


def _says_unset(text: str) -> None:
    assert f"environment variable {VAR} is not set" in text, text
    assert f"export {VAR}=" in text and "write the path out in full" in text, text


def test_unset_variables_named_once_each(monkeypatch):
    monkeypatch.setenv("HOME", "/home/x")
    assert unset_variables(f"${VAR}/a/${{{VAR}}}/$HOME") == [VAR]
    assert unset_variables("$HOME/m") == [] and unset_variables("") == []


def test_a_folder_literally_named_with_a_dollar_is_taken(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / f"${VAR}").mkdir()
    assert unset_variable_note(f"${VAR}") == ""


@pytest.mark.parametrize("name", ["map_path", "checkpoint", "engine_cache",
                                  "retrieval.checkpoint", "retrieval.codebook"])
def test_node_refuses_a_path_parameter_with_an_unset_variable(sift_map, name):
    from mast3r_ros.ros.params import params_to_config

    values = {"map_path": sift_map, name: f"${VAR}/x"}
    with pytest.raises(ConfigError) as err:
        params_to_config(values)
    _says_unset(str(err.value))
    assert f"parameter '{name}' ('${VAR}/x')" in str(err.value)
    assert "ros2 launch" in str(err.value)  # where the node's environment is set


def test_node_refuses_an_engine_cache_of_spaces(sift_map):
    from mast3r_ros.ros.params import params_to_config

    with pytest.raises(ConfigError, match="parameter 'engine_cache' is only white space"):
        params_to_config({"map_path": sift_map, "engine_cache": "   "})


def test_localize_params_map_path_says_the_variable():
    from mast3r_ros.replay.cli import _map_path

    with pytest.raises(InputError) as err:
        _map_path(None, config_from_params({"map_path": f"${VAR}/map"}), "P.yaml")
    _says_unset(str(err.value))
    assert str(err.value).startswith(f"map_path of P.yaml ('${VAR}/map')")


def test_loaders_not_found_say_the_variable():
    from mast3r_ros.core.asmk.codebook import check_codebook_file
    from mast3r_ros.core.keyframes import KeyframeMap
    from mast3r_ros.core.model.checkpoint import require_checkpoint, resolve_checkpoint
    from mast3r_ros.core.model.engine import Mast3rEngine
    from mast3r_ros.core.retrieval_model import require_retrieval_checkpoint

    for error, call in ((MapFormatError, lambda: KeyframeMap.load(f"${VAR}/map")),
                        (CheckpointError, lambda: require_checkpoint(
                            resolve_checkpoint(f"${VAR}/m.pth"))),
                        (CheckpointError, lambda: require_retrieval_checkpoint(f"${VAR}/r.pth")),
                        (CheckpointError, lambda: check_codebook_file(f"${VAR}/c.pkl"))):
        with pytest.raises(error) as err:
            call()
        _says_unset(str(err.value))
    cfg = config_from_params({"checkpoint": "x.pth", "engine_cache": f"${VAR}/trt"})
    with pytest.raises(ConfigError) as err:  # before a folder named '$VAR' is made
        Mast3rEngine.from_config(cfg.model)
    _says_unset(str(err.value))


def test_check_params_warns_of_the_variable(tmp_path, capsys):
    from mast3r_ros.replay.cli import main

    f = tmp_path / "robot.yaml"
    f.write_text(f"/**:\n  ros__parameters:\n    map_path: ${VAR}/map\n")
    assert main(["check-params", str(f)]) == 0
    said = [line for line in capsys.readouterr().err.splitlines() if VAR in line]
    assert len(said) == 1, said  # not also "relative" and "not found on this machine"
    _says_unset(said[0])
