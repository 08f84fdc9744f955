"""Where localize's --out lies: a run written inside another run folder (``--out runs/r1/sub``)
was kept there without a word, and the outer run could then no longer be replaced (`localize
--out runs/r1 --overwrite` refused it) -- a run inside a map folder was warned about; and an
--out that is a file inside the map (``--out maps/m/manifest.json``) was warned about as a run
kept inside the map before being refused: two lines for one mistake."""

import logging

from mast3r_ros.replay.out_source import warn_run_inside_map


def _run(folder):
    folder.mkdir(parents=True)
    for name in ("results.jsonl", "metrics.json", "run.json"):
        (folder / name).write_text("{}\n")
    return folder


def test_a_run_inside_another_run_is_warned_about(tmp_path, caplog):
    outer = _run(tmp_path / "runs" / "r1")
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        assert warn_run_inside_map(str(outer / "sub"), str(tmp_path / "map"))
    text = caplog.text
    assert f"lies inside the run folder {outer}" in text, text
    assert f"--out {tmp_path / 'runs' / 'sub'}" in text, text
    caplog.clear()
    assert not warn_run_inside_map(str(tmp_path / "runs" / "r2"), str(tmp_path / "map"))
    assert not warn_run_inside_map(str(outer), str(tmp_path / "map"))  # the run itself
    assert not caplog.text


def test_an_out_that_is_a_file_in_the_map_is_not_warned_about(tmp_path, caplog):
    """It is refused (not a folder) right after: that one line is enough."""
    the_map = tmp_path / "map"
    the_map.mkdir()
    (the_map / "manifest.json").write_text("{}")
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        assert not warn_run_inside_map(str(the_map / "manifest.json"), str(the_map))
        assert warn_run_inside_map(str(the_map / "run1"), str(the_map))  # still warned
    assert caplog.text.count("lies inside the map folder") == 1
