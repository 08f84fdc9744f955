"""`check-params --help` described --namespace as "with --params holding several robots'
blocks": check-params takes the file as FILE and has no --params option; and a FILE not found
was said with no fix where every other command's --params names one."""

import pytest

from mast3r_ros.replay.cli import main


def test_the_namespace_help_names_file_not_params(capsys):
    with pytest.raises(SystemExit):
        main(["check-params", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--namespace NS with FILE holding several robots' blocks" in out, out
    assert "--params" not in out, out


def test_a_file_not_found_is_said_with_the_fix(tmp_path, capsys):
    assert main(["check-params", str(tmp_path / "nope.yaml"), "--log-level", "error"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"mast3r-ros check-params: error: parameter file not found: "
                   f"{tmp_path / 'nope.yaml'}; check the path (your copy of "
                   "config/localize.yaml)"), err
