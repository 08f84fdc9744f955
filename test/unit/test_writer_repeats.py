"""`MapWriter.add_keyframe` refuses a frame added twice (an earlier keyframe's stamp and image):
a new user's loop added one frame twice, the writer stored both, and check-map noted a colour
focal length fitted from the pair (fx x0.577, no baseline). Images that only share a stamp, and
one image at another stamp, are kept, as the TUM reader keeps them."""

from __future__ import annotations

import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.keyframes import KeyframeMap, MapWriter
from mast3r_ros.replay.synthetic import default_intrinsics

W, H = 32, 24
CAM = default_intrinsics(W, H)


def _frame(i=0, stamp=None, x=None):
    rgb = np.random.default_rng(i).integers(0, 256, (H, W, 3), dtype=np.uint8)
    pose = np.eye(4)
    pose[0, 3] = 0.1 * i if x is None else x
    return rgb, CAM, pose, 1000 + i if stamp is None else stamp, np.full((H, W), 2.0, np.float32)


@pytest.mark.parametrize("moved", [False, True])
def test_a_frame_added_twice_is_refused_and_nothing_of_it_stored(tmp_path, moved):
    """The same stamp and image (at its pose, or at another: still that frame) is refused,
    naming the earlier keyframe; the writer goes on and the map holds each frame once."""
    with MapWriter(str(tmp_path / "map")) as w:
        w.add_keyframe(*_frame(0))
        w.add_keyframe(*_frame(1))
        files = dict(w.files)
        with pytest.raises(InputError, match=r"keyframe 2: stamp_ns 1000 and its image are "
                                             r"keyframe 0's: the same frame added twice"):
            w.add_keyframe(*_frame(0, x=0.5 if moved else None))
        assert w.files == files and len(w.records) == 2
        w.add_keyframe(*_frame(2))
        path = w.commit()
    assert [k.stamp_ns for k in KeyframeMap.load(path).keyframes] == [1000, 1001, 1002]


def test_images_that_only_share_a_stamp_and_one_image_at_two_stamps_are_kept(tmp_path):
    with MapWriter(str(tmp_path / "map")) as w:
        w.add_keyframe(*_frame(0))
        w.add_keyframe(*_frame(1, stamp=1000))  # another image at keyframe 0's stamp
        rgb, cam, pose, _, depth = _frame(0, x=0.3)
        w.add_keyframe(rgb, cam, pose, 2000, depth)  # keyframe 0's image at another stamp
        assert len(KeyframeMap.load(w.commit()).keyframes) == 3
