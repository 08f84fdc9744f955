"""build-map with the mast3r matcher on a recording whose images the network cannot take
(under 16 px on the short side, over 4:1): before, every keyframe was read and checked and the
network loaded, then 'image 128x24 is too elongated ...' came without saying which input it
was. Now the first such keyframe is refused as it is taken, naming its stamp, before the
engine is built; nothing is written."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import cv2
import pytest
import torch
from mast3r_test_utils import OFFICIAL_MASt3R

from mast3r_ros.replay.cli import main


@pytest.fixture(scope="module")
def strip_folder(tmp_path_factory):
    """A TUM folder of 128x24 frames (5.3:1) with its calibration."""
    from mast3r_ros.replay.synthetic import write_demo_sequences

    root = Path(write_demo_sequences(str(tmp_path_factory.mktemp("strip")), num_frames=6,
                                     width=128, height=96, seed=3)[0])
    for sub in ("rgb", "depth"):
        for p in (root / sub).glob("*.png"):
            img = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
            cv2.imwrite(str(p), img[36:60])
    cam = root / "camera.yaml"
    text = cam.read_text().replace("image_height: 96", "image_height: 24")
    cy = re.search(r"data: \[[^,]+, [^,]+, [^,]+, [^,]+, [^,]+, ([0-9.]+),", text).group(1)
    cam.write_text(text.replace(cy, f"{float(cy) - 36:.6f}"))
    return root


def test_an_image_the_network_cannot_take_is_refused_at_its_keyframe(strip_folder, tmp_path,
                                                                      capsys, monkeypatch):
    from mast3r_ros.core.model import engine as engine_mod

    def not_loaded(*a, **k):
        raise AssertionError("the network was loaded")
    monkeypatch.setattr(engine_mod.Mast3rEngine, "from_config", classmethod(not_loaded))
    from mast3r_ros.core.model import loaded_networks

    # the stand-in file is no full model: its up-front load (a check before the recording is
    # read, `check_build_files`) is not what this test is about
    monkeypatch.setattr(loaded_networks, "load_up_front", lambda path, device: None)
    ckpt = tmp_path / "m.pth"
    torch.save({"model": {"patch_embed.proj.weight": torch.zeros(2, 3, 16, 16)},
                "args": argparse.Namespace(model=OFFICIAL_MASt3R)}, ckpt)
    out = tmp_path / "map"
    capsys.readouterr()
    rc = main(["build-map", str(strip_folder), "--out", str(out), "--checkpoint", str(ckpt),
               "--matcher", "mast3r", "--log-level", "error"])
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert rc == 2 and len(err) == 1, err
    assert re.search(r"the recording's keyframe at stamp [0-9.]+ s: image 128x24 is too "
                     r"elongated for the network .*crop it", err[0]), err[0]
    assert not out.exists() and not Path(str(out) + ".partial").exists()


def test_localize_names_the_frame_whose_image_the_network_cannot_take():
    """localize stopped with the preprocessing's words alone ('image 12x9 is under 16 px ...'),
    not saying which input; now the recording's frame, by its stamp."""
    import numpy as np

    from mast3r_ros.core.errors import InputError
    from mast3r_ros.core.tracker import Tracker
    from mast3r_ros.core.types import Frame
    from mast3r_ros.replay.localize_run import localize_frames

    class Refuses:
        def localize(self, frame, prior=None, force_global=False, *, hint=None,
                     with_matches=False):
            raise InputError("image 12x9 is under 16 px on its short side")

    frames = [Frame(np.zeros((9, 12, 3), np.uint8), None, 1_500_000_000)]
    with pytest.raises(InputError, match=r"^the recording's frame at stamp 1\.500000 s: image "
                                         r"12x9 is under 16 px"):
        list(localize_frames(Refuses(), frames, Tracker()))
