"""A video file given as SOURCE (`clip.mp4`) was refused as "none of the recordings SOURCE
takes: it is a file", without saying that video is read only as a bag's video topic nor how to
turn the file into a recording. Now the refusal names it a video file and the TUM folder to
write from it; other files keep "it is a file"."""

from __future__ import annotations

import pytest

from mast3r_ros.replay.cli import main
from mast3r_ros.replay.video_file import video_file_note


@pytest.mark.parametrize("name", ["clip.mp4", "Drive.MOV", "cam.h264"])
def test_a_video_file_as_source_is_named_with_the_way_to_read_it(tmp_path, capsys, name):
    clip = tmp_path / name
    clip.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(64))
    assert main(["build-map", str(clip), "--out", str(tmp_path / "m"), "--matcher", "sift"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "it is a video file, which SOURCE does not read" in err[0], err
    assert f"ffmpeg -i {name} rgb/%06d.png" in err[0] and "rgb.txt" in err[0]
    assert "it is a file" not in err[0] and not (tmp_path / "m").exists()


def test_other_files_say_only_that_they_are_files():
    assert video_file_note("notes/readme.md") == "" and video_file_note("a/mp4") == ""
    assert video_file_note("x.mkv").startswith("it is a video file")
