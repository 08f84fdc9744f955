"""localize with the mast3r matcher against a map whose camera the network cannot take (over
4:1, under 16 px on its short side): the network was loaded up front (seconds; the 2.7 GB
file), and only then was the camera refused. Now refused first, in the same words, without the
load."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.keyframes.writer import MapWriter
from mast3r_ros.core.model import loaded_networks
from mast3r_ros.core.model.preprocess import plan_resize
from mast3r_ros.core.types import CameraIntrinsics
from mast3r_ros.replay import sources
from mast3r_ros.replay.cli import main


def _strip_map(path, w: int, h: int) -> str:
    """A map of one keyframe of a ``w`` x ``h`` camera."""
    cam = CameraIntrinsics(w, h, np.array([[50.0, 0, w / 2], [0, 50.0, h / 2], [0, 0, 1]]))
    rgb = np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)
    depth = np.full((h, w), 2500, np.uint16)
    with MapWriter(str(path)) as wr:
        wr.add_keyframe_png(cv2.imencode(".png", rgb)[1].tobytes(), cam, np.eye(4), 1,
                            cv2.imencode(".png", depth)[1].tobytes(), 1000.0)
        return wr.commit()


@pytest.mark.parametrize("w, h", [(400, 96), (64, 12)])
def test_a_map_camera_the_network_cannot_take_is_refused_before_the_network_loads(
        tmp_path, capsys, monkeypatch, tiny_ckpt, w, h):
    def loaded(*a, **k):
        raise AssertionError("the network was loaded")

    def opened(path, options, *a, **k):
        options.before_index()
        raise AssertionError(f"{path} was read")

    monkeypatch.setattr(loaded_networks, "load_up_front", loaded)
    monkeypatch.setattr(sources, "open_source", opened)
    with pytest.raises(InputError) as want:
        plan_resize(w, h, 512)
    rc = main(["localize", str(tmp_path / "rec"), "--map", _strip_map(tmp_path / "map", w, h),
               "--out", str(tmp_path / "run"), "--matcher", "mast3r", "--checkpoint",
               tiny_ckpt, "--device", "cpu"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err == [f"mast3r-ros localize: error: {want.value}"], err


def test_a_map_camera_the_network_takes_goes_on_to_the_load(tmp_path, monkeypatch, tiny_ckpt):
    from mast3r_ros.core.config import Config
    from mast3r_ros.replay.localize_checks import check_before_indexing

    seen = []
    monkeypatch.setattr(loaded_networks, "load_up_front", lambda p, d: seen.append(p))
    model = Config().model
    model = dataclasses.replace(model, checkpoint=tiny_ckpt, device="cpu")
    check_before_indexing(_strip_map(tmp_path / "map", 128, 96), 1, 0, tiny_ckpt, True, model)
    assert len(seen) == 1
