"""A checkpoint given where a text file goes (--params, --camera-info, --groundtruth /
--trajectory: tab completion in the models folder). A new user's find: each said the file "is
not a UTF-8 text file, nor text in any encoding (NUL bytes ...); save it as UTF-8" (or "give a
YAML file, saved as UTF-8"): advice to re-save a model file as text. Now each names the
checkpoint and where it goes, as --map and SOURCE already did."""

from __future__ import annotations

import pickle

import pytest
import torch

from mast3r_ros.core.config import load_config_yaml
from mast3r_ros.core.errors import Mast3rRosError
from mast3r_ros.core.image_codec.camera_info_yaml import load_camera_info_yaml
from mast3r_ros.replay.tum_trajectory import read_tum_trajectory


@pytest.fixture(params=["zip", "legacy"])
def checkpoint(tmp_path, request):
    path = tmp_path / "model.pth"
    torch.save({"model": {"w": torch.zeros(2)}}, str(path),
               _use_new_zipfile_serialization=request.param == "zip")
    return path


@pytest.mark.parametrize("read", [load_config_yaml, load_camera_info_yaml,
                                  read_tum_trajectory])
def test_a_checkpoint_given_where_a_text_file_goes_is_named(checkpoint, read):
    with pytest.raises(Mast3rRosError) as err:  # ConfigError or InputError
        read(str(checkpoint))
    text = str(err.value)
    assert "PyTorch checkpoint" in text and "--checkpoint" in text, text
    assert "UTF-8" not in text.split("binary data)")[-1], text  # no 'save it as UTF-8'


def test_other_binary_data_keeps_its_advice():
    from mast3r_ros.core.text_files import not_text_fix

    assert not_text_fix(b"\x89PNG\r\n\x1a\n\0\0", "save it as UTF-8") == "save it as UTF-8"
    assert not_text_fix(pickle.dumps([1, 2], protocol=2), "x").startswith("it is a Python ")


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_a_pickle_of_each_binary_protocol_is_named(protocol):
    from mast3r_ros.core.text_files import not_text_fix

    data = pickle.dumps({"a": [1, 2]}, protocol=protocol)
    assert not_text_fix(data, "x") == "it is a Python pickle: a checkpoint goes in --checkpoint"


@pytest.mark.parametrize("data", [b"\x80", b"\x80\x00\x01\x02", b"\x80\x01abc", b"\x80\x06abc",
                                  b"\x80\xff\xfe\x00", b"\x80\x80\x80\x80"])
def test_other_data_starting_0x80_is_not_called_a_pickle(data):
    """A reviewer's find: any non-text file whose first byte is 0x80 (raw sensor data, a
    Latin-1 or cp1252 file, random bytes) was called 'a Python pickle' and sent to
    --checkpoint. A pickle of protocol 2-5 starts with PROTO (0x80) then its protocol number;
    others keep the caller's advice."""
    from mast3r_ros.core.text_files import not_text_fix

    assert not_text_fix(data, "save it as UTF-8") == "save it as UTF-8"


def test_check_params_given_a_checkpoint_names_what_it_takes_and_where_the_checkpoint_goes(
        checkpoint, capsys):
    """check-params has no --checkpoint: it said "a checkpoint goes in --checkpoint" (a new
    user's find). It says what FILE takes and where that file names the checkpoint."""
    from mast3r_ros.replay.cli import main

    assert main(["check-params", str(checkpoint), "--log-level", "error"]) == 2
    err = capsys.readouterr().err
    assert "PyTorch checkpoint" in err and "goes in --checkpoint" not in err, err
    assert ("FILE takes the node's parameter file (your copy of config/localize.yaml), which "
            "names the checkpoint in its 'checkpoint' parameter (build-map and localize take it "
            "as --checkpoint)") in err, err
