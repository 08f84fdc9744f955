"""build-map with the mast3r matcher on a recording whose images the network cannot take
(under 16 px on the short side, over 4:1): before, every keyframe was read and checked and the
network loaded, then 'image 128x24 is too elongated ...' came without saying which input it
was. Now a calibration file that tells the size refuses it before the network loads, and else
the first such keyframe is refused as it is taken, naming its stamp, before the engine is
built; nothing is written."""

from __future__ import annotations

import argparse
import dataclasses
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


def _forbid_load_and_read(monkeypatch) -> None:
    """Loading the network or opening the recording fails the test (a refusal must come first)."""
    from mast3r_ros.core.model import engine as engine_mod
    from mast3r_ros.core.model import loaded_networks
    from mast3r_ros.replay import cli

    def not_loaded(*a, **k):
        raise AssertionError("the network was loaded")

    def not_read(*a, **k):
        raise AssertionError("the recording was read")
    monkeypatch.setattr(engine_mod.Mast3rEngine, "from_config", classmethod(not_loaded))
    monkeypatch.setattr(loaded_networks, "load_up_front", not_loaded)
    monkeypatch.setattr(cli, "_open", not_read)


def test_a_camera_the_network_cannot_take_is_refused_before_the_network_loads(
        strip_folder, tmp_path, capsys, monkeypatch):
    """The folder's camera.yaml (or --camera-info) tells the image size before the recording
    is read: refused then, naming it, before the network is loaded (it was loaded up front,
    seconds for the 2.7 GB file, and the camera refused at the first keyframe after)."""
    _forbid_load_and_read(monkeypatch)
    ckpt = tmp_path / "m.pth"
    torch.save({"model": {"patch_embed.proj.weight": torch.zeros(2, 3, 16, 16)},
                "args": argparse.Namespace(model=OFFICIAL_MASt3R)}, ckpt)
    camera = strip_folder / "camera.yaml"
    for given in ([], ["--camera-info", str(camera)]):
        out = tmp_path / "map"
        capsys.readouterr()
        rc = main(["build-map", str(strip_folder), "--out", str(out), "--checkpoint", str(ckpt),
                   "--matcher", "mast3r", "--log-level", "error"] + given)
        err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
        assert rc == 2 and len(err) == 1, err
        assert err[0].startswith(f"mast3r-ros build-map: error: the recording's camera "
                                 f"({camera}): image 128x24 is too elongated for the network "), \
            err[0]
        assert "crop it" in err[0] and not out.exists()
        assert not Path(str(out) + ".partial").exists()


def test_a_keyframe_the_network_cannot_take_is_refused_naming_its_stamp():
    """Where no calibration file tells the size first (a bag's CameraInfo is in the bag), the
    first such keyframe is refused as it is taken, naming its stamp, before encoding."""
    import numpy as np

    from mast3r_ros.core.config import Config
    from mast3r_ros.core.errors import InputError
    from mast3r_ros.core.types import Frame
    from mast3r_ros.replay.map_build import network_takes

    cfg = Config()
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, checkpoint="m.pth"))
    with pytest.raises(InputError, match=r"^the recording's keyframe at stamp 1\.500000 s: "
                                         r"image 128x24 is too elongated for the network"):
        network_takes(Frame(np.zeros((24, 128, 3), np.uint8), None, 1_500_000_000), set(), cfg)
    network_takes(Frame(np.zeros((24, 128, 3), np.uint8), None, 1), set(), Config())  # sift


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


@pytest.mark.parametrize("layout", ["one", "colour_and_depth"])
def test_a_bags_camera_the_network_cannot_take_is_refused_before_the_network_loads(
        tmp_path, capsys, monkeypatch, layout):
    """A rosbag2 without --camera-info: its size was known only from the bag's CameraInfo, so
    a 128x24 camera was refused at the first keyframe, after the up-front network load
    (seconds, the 2.7 GB file) and the bag's indexing pass. Now its first CameraInfo (on the
    topic the reader takes: the only one, else the image's namespace's) is read first and the
    camera refused in the --camera-info path's words, naming that topic."""
    pytest.importorskip("rosbags")
    import numpy as np
    from rosbags.rosbag2 import StoragePlugin
    from test_rosbag import MS, camera_info, image, write_bag

    _forbid_load_and_read(monkeypatch)
    msgs = [("/cam/color/image_raw", t * MS, image(t * MS, "rgb8",
                                                   np.zeros((24, 128, 3), np.uint8)))
            for t in (1000, 1100)]
    msgs.append(("/cam/color/camera_info", 900 * MS, camera_info(900 * MS, 60.0, 128, 24)))
    if layout == "colour_and_depth":  # another CameraInfo topic: the image's namespace's
        msgs.append(("/cam/depth/camera_info", 900 * MS, camera_info(900 * MS, 60.0, 64, 48)))
    bag = write_bag(tmp_path / "bag", StoragePlugin.MCAP, sorted(msgs, key=lambda m: m[1]))
    ckpt = tmp_path / "m.pth"
    torch.save({"model": {"patch_embed.proj.weight": torch.zeros(2, 3, 16, 16)},
                "args": argparse.Namespace(model=OFFICIAL_MASt3R)}, ckpt)
    out = tmp_path / "map"
    rc = main(["build-map", str(bag), "--out", str(out), "--checkpoint", str(ckpt),
               "--matcher", "mast3r", "--log-level", "error"])
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert rc == 2 and len(err) == 1, err
    assert err[0].startswith(
        f"mast3r-ros build-map: error: the recording's camera (/cam/color/camera_info's first "
        f"CameraInfo in rosbag2 {bag}): image 128x24 is too elongated for the network "), err[0]
    assert "crop it" in err[0] and not out.exists()


def test_a_bags_camera_is_not_guessed_where_its_topic_is_not_plain(tmp_path):
    """Two CameraInfo topics and no image topic in either namespace: the reader's choice (or
    refusal) is not guessed; nothing is said up front (the first keyframe is checked)."""
    pytest.importorskip("rosbags")
    import numpy as np
    from rosbags.rosbag2 import StoragePlugin
    from test_rosbag import MS, camera_info, image, write_bag

    from mast3r_ros.replay.rosbag.first_camera import first_camera_size

    msgs = [("/images", 1000 * MS, image(1000 * MS, "rgb8", np.zeros((24, 128, 3), np.uint8))),
            ("/a/camera_info", 900 * MS, camera_info(900 * MS, 60.0, 128, 24)),
            ("/b/camera_info", 900 * MS, camera_info(900 * MS, 60.0, 128, 24))]
    bag = str(write_bag(tmp_path / "bag", StoragePlugin.MCAP, sorted(msgs, key=lambda m: m[1])))
    assert first_camera_size(bag) is None
    assert first_camera_size(bag, "/b/camera_info")[:2] == (128, 24)
    assert first_camera_size(str(tmp_path / "none")) is None
