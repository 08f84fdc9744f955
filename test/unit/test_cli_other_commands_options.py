"""An option of the other command of the pair (`localize --trajectory`, `build-map
--groundtruth`, `localize --stereo-depth`, `build-map --stride`): each said only
"unrecognized arguments: --trajectory a.txt (see mast3r-ros localize --help)", while the user
had the right idea under the other command's name. The line now names the option this command
takes, or why it needs none."""

from __future__ import annotations

import pytest

from mast3r_ros.replay.cli import main


@pytest.mark.parametrize("argv, said", [
    (["localize", "src", "--map", "m", "--out", "r", "--trajectory", "gt.txt"], "--groundtruth"),
    (["build-map", "src", "--out", "m", "--groundtruth", "gt.txt"], "--trajectory"),
    (["localize", "src", "--map", "m", "--out", "r", "--stereo-depth"], "build-map"),
    (["build-map", "src", "--out", "m", "--stride", "2"], "localize"),
])
def test_another_commands_option_names_this_commands_own(argv, said, tmp_path, monkeypatch,
                                                         capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unrecognized arguments" in err[0] and said in err[0], err
