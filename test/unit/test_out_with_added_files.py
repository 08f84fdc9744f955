"""An output folder of the command (every marker present) into which the user put files of
their own (a second run localized into ``runs/r1/sub``, notes) is not replaced; it was refused
as "not an output of this command (it holds sub)", which a user whose folder *is* a run reads as
wrong, with no word of why or what to move."""

import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.fileio import check_output_folder

MARKERS = ("results.jsonl", "metrics.json")
ALLOWED = MARKERS + ("trajectory.png",)


@pytest.mark.parametrize("overwrite", [False, True])
def test_an_output_holding_the_users_files_is_refused_naming_them(tmp_path, overwrite):
    run = tmp_path / "r1"
    run.mkdir()
    for name in ALLOWED:
        (run / name).write_text("")
    (run / "sub").mkdir()
    with pytest.raises(InputError) as err:
        check_output_folder(str(run), overwrite, MARKERS, ALLOWED)
    text = str(err.value)
    assert "not an output of this command" not in text, text
    assert (f"{run} holds this command's output files and others (it holds sub), which it "
            "never writes: replacing the folder would delete them") in text, text
    assert "move them out of it, or choose another --out" in text, text
    assert text.startswith("--overwrite: ") == overwrite, text
    assert (run / "sub").is_dir()
