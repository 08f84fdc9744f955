"""check-map's --json/--plot never replace a file that is not an earlier report of theirs.

`mast3r-ros check-map MAP --json model.pth` replaced the checkpoint with the JSON report, exit 0,
without a word (and `--plot photo.png` a photo with the plot)."""

import json

import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.replay.cli import main
from mast3r_ros.replay.report_files import refuse_foreign_file


@pytest.mark.parametrize("option,name,content", [
    ("--json", "model.pth", b"PK\x03\x04 a torch checkpoint"),
    ("--json", "notes.json", b'{"a": 1}\n'),
    ("--plot", "photo.png", b"\x89PNG\r\n\x1a\n a camera's photo"),
    ("--plot", "photo.jpg", b"\xff\xd8\xff\xe0 a camera's photo"),
])
def test_check_map_refuses_a_file_it_did_not_write(sift_map, tmp_path, monkeypatch, capsys,
                                                   option, name, content):
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_bytes(content)
    assert main(["check-map", sift_map, option, name]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"{option} {name}: an existing file that is not" in err
    assert "nothing was written: move or delete it, or give another name" in err
    assert (tmp_path / name).read_bytes() == content  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temporary left


def test_earlier_outputs_and_empty_files_may_be_replaced(tmp_path):
    from mast3r_ros.replay.plot_save import figure_bytes, new_figure

    report = tmp_path / "check.json"
    report.write_text(json.dumps({"verdict": "consistent", "keyframes": [], "pairs": []}))
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"")
    refuse_foreign_file(str(report), "--json")
    refuse_foreign_file(str(empty), "--json")
    refuse_foreign_file("-", "--json")
    refuse_foreign_file(str(tmp_path / "new.json"), "--json")
    fig, ax = new_figure((1, 1))
    ax.plot([0, 1])
    for ext in ("png", "jpg", "pdf", "svg"):
        pic = tmp_path / f"check.{ext}"
        pic.write_bytes(figure_bytes(fig, ext, dpi=20))
        refuse_foreign_file(str(pic), "--plot")
    with pytest.raises(InputError, match="not a check-map JSON report"):
        refuse_foreign_file(str(tmp_path / "check.png"), "--json")
