"""A path holding ``$(find-pkg-share my_robot)`` (ros2 launch substitution syntax, which a
parameter file loaded as a plain path does not expand) is named for what it is: check-params
called ``map_path: $(find-pkg-share my_robot)/maps/office`` relative ('the node takes it from
its working directory'), and localize, the node and a checkpoint's refusal said only that the
literal path was not found (`core.path_expand.substitution_note`)."""

from __future__ import annotations

import pytest

from mast3r_ros.core.errors import CheckpointError, MapFormatError
from mast3r_ros.core.keyframes import KeyframeMap
from mast3r_ros.core.model.checkpoint import require_checkpoint
from mast3r_ros.replay.cli import main

SUBST = "$(find-pkg-share my_robot)"
SAID = (f"'{SUBST}' is ros2 launch (or shell) substitution syntax, which is not expanded in a "
        "parameter file")
FIX = "write the absolute path it stands for (for $(find-pkg-share my_robot): `ros2 pkg " \
      "prefix my_robot`/share/my_robot)"


def _params(tmp_path, **values):
    f = tmp_path / "robot.yaml"
    f.write_text("/**/mast3r_localizer:\n  ros__parameters:\n" + "".join(
        f"    {k}: {v}\n" for k, v in values.items()))
    return str(f)


def test_check_params_names_the_substitution_not_a_relative_path(tmp_path, capsys,
                                                                 monkeypatch):
    monkeypatch.chdir(tmp_path)
    f = _params(tmp_path, map_path=f"{SUBST}/maps/office", checkpoint=f"{SUBST}/m.pth")
    rc = main(["check-params", f])
    out, err = capsys.readouterr()
    assert rc == 0 and "valid for node" in out, (out, err)
    assert f"map_path '{SUBST}/maps/office' is no path the node can open; {SAID}" in err, err
    assert f"checkpoint '{SUBST}/m.pth' is no path the node can open; {SAID}" in err, err
    assert err.count(FIX) == 2 and "is relative" not in err, err


def test_localize_map_path_refusal_names_the_substitution(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc = main(["localize", str(tmp_path / "rec"), "--out", str(tmp_path / "run"),
               "--matcher", "sift", "--params", _params(tmp_path, map_path=f"{SUBST}/m")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "map not found: " in err, err
    assert SAID in err and FIX in err, err


def test_the_nodes_map_and_checkpoint_refusals_name_the_substitution():
    with pytest.raises(MapFormatError, match=r"map folder not found: .*" + r"; '\$\(find-pkg"):
        KeyframeMap.check_folder(f"{SUBST}/maps/office")
    with pytest.raises(CheckpointError) as e:
        require_checkpoint(f"{SUBST}/m.pth")
    assert str(e.value) == f"checkpoint not found: {SUBST}/m.pth; {SAID} (launch_ros does so " \
        "only for ParameterFile(..., allow_substs=True), not used by localize.launch.py) nor " \
        f"in a quoted argument: {FIX}"
