"""A bag's depth that is not registered to the colour image: a depth camera's own stream
(RealSense /camera/depth/image_rect_raw, an Orbbec or Kinect depth without registration) has the
depth camera's optical frame and calibration. At the colour image's size it was taken pixel
for pixel as the colour image's depth, without a word: every keyframe's 3-D points wrong."""

from __future__ import annotations

import logging

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from rosbags.rosbag2 import StoragePlugin  # noqa: E402
from test_rosbag import (  # noqa: E402
    H, MS, RGB, W, camera_info, header, image, tf_message, write_bag)

from mast3r_ros.core.errors import InputError  # noqa: E402
from mast3r_ros.replay.rosbag import BagSequence  # noqa: E402

COLOR, DEPTH = "camera_color_optical_frame", "camera_depth_optical_frame"
CAM = "/camera/color/image_raw"


def _info(stamp_ns, fx, frame_id):
    info = camera_info(stamp_ns, fx)
    info.header = header(stamp_ns, frame_id)
    return info


def _bag(path, depth_topic, depth_frame, depth_info_fx=None, info_frame=COLOR,
         image_frame=COLOR, static_tf=None, tf=None, depth_mm=None):
    """Three colour images (frame ``image_frame``, fx 30) and depth at their stamps on
    ``depth_topic`` (frame ``depth_frame``; ``depth_mm`` (H, W) plus i for image i, else 1000
    + i everywhere), with a CameraInfo beside the depth when ``depth_info_fx``;
    ``static_tf``: /tf_static's (parent, child, stamp, 4x4) transforms; ``tf``: /tf's, each in
    its own message received at its stamp."""
    msgs = [("/tf_static", 0, tf_message(static_tf))] if static_tf else []
    msgs += [("/tf", stamp, tf_message([(p, c, stamp, m)])) for p, c, stamp, m in tf or ()]
    for i, t in enumerate((1000 * MS, 1100 * MS, 1200 * MS)):
        msgs.append((CAM, t, image(t, "rgb8", RGB, frame_id=image_frame)))
        msgs.append(("/camera/color/camera_info", t, _info(t, 30.0, info_frame)))
        depth = (np.full((H, W), 1000, np.uint16) if depth_mm is None else depth_mm) + i
        msgs.append((depth_topic, t + 1, image(t, "16UC1", depth, frame_id=depth_frame)))
        if depth_info_fx is not None:
            ns = depth_topic.rsplit("/", 1)[0]
            msgs.append((f"{ns}/camera_info", t + 1, _info(t, depth_info_fx, depth_frame)))
    return write_bag(path, StoragePlugin.MCAP, sorted(msgs, key=lambda m: m[1]))


def test_depth_of_another_camera_is_refused_by_its_frame_and_calibration(tmp_path):
    """The depth camera's stream: its frame and its CameraInfo (fx 20 against the image's 30)
    are not the colour image's. Refused before any frame is read, naming both frames, both
    calibrations and the fix (was: three frames with that depth, no warning)."""
    bag = _bag(tmp_path / "bag", "/camera/depth/image_rect_raw", DEPTH, depth_info_fx=20.0)
    with pytest.raises(InputError) as err:
        BagSequence(bag, image_topic=CAM, depth_topic="/camera/depth/image_rect_raw")
    text = str(err.value)
    for part in ("/camera/depth/image_rect_raw", DEPTH, COLOR, "/camera/depth/camera_info",
                 "fx 20", "fx 30", "not registered", "aligned_depth_to_color"):
        assert part in text, part


def test_depth_of_another_camera_joined_by_tf_static_is_registered(tmp_path, caplog):
    """The same stream with /tf_static joining the depth camera's frame to the colour one
    (realsense2_camera publishes camera_link -> each optical frame): registered to the colour
    image (a wall 1 m before the depth camera, 15 mm beside the colour camera, is 1 m before
    the colour camera), where it was refused; without --pose-frames too."""
    link_from_depth = np.eye(4)
    link_from_depth[0, 3] = 0.015
    static = [("camera_link", COLOR, 0, np.eye(4)), ("camera_link", DEPTH, 0, link_from_depth)]
    topic = "/camera/depth/image_rect_raw"
    bag = _bag(tmp_path / "bag", topic, DEPTH, depth_info_fx=20.0, static_tf=static)
    with caplog.at_level(logging.INFO):
        frames = list(BagSequence(bag, image_topic=CAM, depth_topic=topic))
    assert len(frames) == 3
    for i, f in enumerate(frames):
        covered = f.depth_m > 0
        assert f.depth_m.shape == (H, W) and covered.mean() > 0.9
        np.testing.assert_allclose(f.depth_m[covered], 1.0 + i / 1000, rtol=1e-5)
    said = [r.getMessage() for r in caplog.records if "registered to" in r.getMessage()]
    assert len(said) == 1 and "with /tf_static (15.0 mm apart)" in said[0], said
    # the refusal without it says what would have registered it
    with pytest.raises(InputError, match=f"with /tf_static joining '{DEPTH}' to '{COLOR}' in "
                                         "the bag it would be registered here"):
        BagSequence(_bag(tmp_path / "no_tf", topic, DEPTH, depth_info_fx=20.0),
                    image_topic=CAM, depth_topic=topic)


def test_depth_naming_no_frame_with_another_calibration_is_refused(tmp_path, caplog):
    """A depth driver that leaves header.frame_id empty, with its own CameraInfo beside it
    (fx 20 against the image's 30): it was read pixel for pixel without a word, where the same
    stream naming its own frame is refused. Refused likewise, in one message naming the
    missing frame and both calibrations; with the image's calibration it is read silently."""
    topic = "/camera/depth/image_rect_raw"
    bag = _bag(tmp_path / "bag", topic, "", depth_info_fx=20.0)
    with pytest.raises(InputError) as err:
        BagSequence(bag, image_topic=CAM, depth_topic=topic)
    text = str(err.value)
    for part in (topic, "names no frame", "/camera/depth/camera_info", "fx 20", "fx 30", COLOR,
                 "not registered", "aligned_depth_to_color"):
        assert part in text, part
    assert "\n" not in text
    same = _bag(tmp_path / "same", topic, "", depth_info_fx=30.0)
    with caplog.at_level(logging.WARNING):
        frames = list(BagSequence(same, image_topic=CAM, depth_topic=topic))
    assert len(frames) == 3 and all(f.depth_m is not None for f in frames)
    assert "registered" not in caplog.text


def test_registered_depth_in_the_colour_frame_is_read(tmp_path, caplog):
    """aligned_depth_to_color: the colour frame and calibration, read without a word."""
    topic = "/camera/aligned_depth_to_color/image_raw"
    bag = _bag(tmp_path / "bag", topic, COLOR, depth_info_fx=30.0)
    with caplog.at_level(logging.WARNING):
        seq = BagSequence(bag, image_topic=CAM, depth_topic=topic)
        frames = list(seq)
    assert len(frames) == 3 and all(f.depth_m is not None for f in frames)
    assert "registered" not in caplog.text


def test_depth_in_another_frame_with_the_same_calibration_is_read(tmp_path, caplog):
    """A registered depth that a driver names by another frame but whose CameraInfo is the
    image's (fx 30, same size): read, and a leading slash on one name is no other frame."""
    bag = _bag(tmp_path / "bag", "/camera/depth_registered/image_raw", "/" + COLOR,
               depth_info_fx=30.0)
    with caplog.at_level(logging.WARNING):
        frames = list(BagSequence(bag, image_topic=CAM,
                                  depth_topic="/camera/depth_registered/image_raw"))
    assert len(frames) == 3 and "registered" not in caplog.text


def test_depth_in_another_frame_without_its_calibration_is_warned_about(tmp_path, caplog):
    """No CameraInfo beside the depth: its frame alone says it may be another camera's. Read,
    with one warning that names both frames and the fix (was: nothing said)."""
    bag = _bag(tmp_path / "bag", "/camera/depth/image_rect_raw", DEPTH)
    with caplog.at_level(logging.WARNING):
        frames = list(BagSequence(bag, image_topic=CAM,
                                  depth_topic="/camera/depth/image_rect_raw"))
    assert len(frames) == 3
    warned = [r.getMessage() for r in caplog.records if "registered" in r.getMessage()]
    assert len(warned) == 1 and DEPTH in warned[0] and COLOR in warned[0]


def test_depth_in_the_colour_frame_with_another_calibration_is_warned_about(tmp_path, caplog):
    """A depth camera's own stream whose driver names it by the colour frame (one frame_id
    parameter for both) but whose CameraInfo beside it is its own (fx 20 against 30, same
    size): read pixel for pixel as registered depth without a word. Read, with a warning."""
    bag = _bag(tmp_path / "bag", "/camera/depth/image_rect_raw", COLOR, depth_info_fx=20.0)
    with caplog.at_level(logging.WARNING):
        frames = list(BagSequence(bag, image_topic=CAM,
                                  depth_topic="/camera/depth/image_rect_raw"))
    assert len(frames) == 3
    warned = [r.getMessage() for r in caplog.records if "registered" in r.getMessage()]
    assert len(warned) == 1, caplog.text
    for part in ("/camera/depth/camera_info", "fx 20", "fx 30", COLOR, "aligned_depth_to_color"):
        assert part in warned[0], part


def test_depth_and_images_naming_no_frame_with_another_calibration_say_so(tmp_path, caplog):
    """The same, with neither the images nor the depth naming a frame (empty frame_ids): the
    warning said "in the images' frame ''"; it says that no frame is named."""
    bag = _bag(tmp_path / "bag", "/camera/depth/image_rect_raw", "", depth_info_fx=20.0,
               info_frame="", image_frame="")
    with caplog.at_level(logging.WARNING):
        frames = list(BagSequence(bag, image_topic=CAM,
                                  depth_topic="/camera/depth/image_rect_raw"))
    assert len(frames) == 3
    warned = [r.getMessage() for r in caplog.records if "registered" in r.getMessage()]
    assert len(warned) == 1, caplog.text
    assert "''" not in warned[0] and "names no frame, nor do the images" in warned[0], warned[0]


def _info_only_bag(path, info_topic, info_frame):
    """Three colour images (frame COLOR) and one CameraInfo topic, ``info_topic``, of frame
    ``info_frame`` (fx 20) and the images' size."""
    msgs = []
    for t in (1000 * MS, 1100 * MS, 1200 * MS):
        msgs.append((CAM, t, image(t, "rgb8", RGB, frame_id=COLOR)))
        msgs.append((info_topic, t, _info(t, 20.0, info_frame)))
    return write_bag(path, StoragePlugin.MCAP, msgs)


def test_the_only_camera_info_of_another_camera_is_refused(tmp_path):
    """A bag that recorded the depth camera's CameraInfo but not the colour camera's: the one
    CameraInfo topic, in another namespace and of another frame, was taken as the images'
    calibration without a word (wrong fx, confident wrong poses). Refused naming it, both
    frames and the fixes."""
    bag = _info_only_bag(tmp_path / "bag", "/camera/depth/camera_info", DEPTH)
    with pytest.raises(InputError) as err:
        BagSequence(bag)
    text = str(err.value)
    for part in ("/camera/depth/camera_info", DEPTH, COLOR, CAM, "--camera-info-topic",
                 "--camera-info"):
        assert part in text, part


@pytest.mark.parametrize("info_topic, info_frame", [
    ("/camera/aligned_depth_to_color/camera_info", COLOR),  # the colour calibration, repeated
    ("/camera/color/camera_info", DEPTH),  # its own namespace: a driver's odd frame name
    ("/camera/depth/camera_info", ""),  # no frame named
    ("/camera/depth/camera_info", "/" + COLOR),  # the images' frame, a leading slash aside
])
def test_the_only_camera_info_that_may_be_the_images_is_read(tmp_path, info_topic, info_frame,
                                                            caplog):
    """Read; the depth camera's topic naming no frame is warned about (it was read without a
    word, and a 10 % other fx then read as 'fix: --depth-scale 1300' in the map check)."""
    bag = _info_only_bag(tmp_path / "bag", info_topic, info_frame)
    with caplog.at_level(logging.WARNING):
        seq = BagSequence(bag)
    assert seq.camera_info_topic == info_topic and len(list(seq)) == 3
    warned = [r.getMessage() for r in caplog.records if "names no frame" in r.getMessage()]
    if info_frame:
        assert not warned, warned
    else:
        assert len(warned) == 1 and info_topic in warned[0] and CAM in warned[0], warned


def test_a_given_camera_info_topic_of_another_frame_is_warned_about(tmp_path, caplog):
    """--camera-info-topic chosen by the user: read, with one warning naming both frames."""
    bag = _info_only_bag(tmp_path / "bag", "/camera/depth/camera_info", DEPTH)
    with caplog.at_level(logging.WARNING):
        seq = BagSequence(bag, camera_info_topic="/camera/depth/camera_info")
        assert len(list(seq)) == 3
    warned = [r.getMessage() for r in caplog.records if DEPTH in r.getMessage()]
    assert len(warned) == 1 and COLOR in warned[0]


def _scaled_bag(path, dw, dh, depth_fx, depth_frame=COLOR, info_size=None):
    """Three colour images (8x6, fx 30, principal point at the centre, frame COLOR) and a
    ``dw`` x ``dh`` depth (1000 + 10 * row + column mm) with its CameraInfo beside it (fx
    ``depth_fx``, principal point at its centre; of the depth's size unless ``info_size``)."""
    rows, cols = np.mgrid[0:dh, 0:dw]
    depth = (1000 + 10 * rows + cols).astype(np.uint16)
    msgs = []
    for t in (1000 * MS, 1100 * MS, 1200 * MS):
        msgs.append((CAM, t, image(t, "rgb8", RGB, frame_id=COLOR)))
        msgs.append(("/camera/color/camera_info", t, _info(t, 30.0, COLOR)))
        msgs.append(("/camera/depth_small/image_raw", t + 1,
                     image(t, "16UC1", depth, frame_id=depth_frame)))
        iw, ih = info_size or (dw, dh)
        info = camera_info(t, depth_fx, width=iw, height=ih)
        info.header = header(t, depth_frame)
        msgs.append(("/camera/depth_small/camera_info", t + 1, info))
    return write_bag(path, StoragePlugin.MCAP, sorted(msgs, key=lambda m: m[1])), depth


@pytest.mark.parametrize("dw, dh, fx", [(4, 3, 15.0), (16, 12, 60.0)])
def test_registered_depth_at_another_resolution_is_resampled_to_the_image(tmp_path, dw, dh, fx,
                                                                         caplog):
    """Depth registered to the colour camera at half or twice its resolution (its CameraInfo is
    the image's K scaled by the size ratio: an OAK-D's aligned depth at the stereo size, a
    ZED's downsampled depth): each image pixel takes the depth pixel its centre falls in
    (was: every frame refused, 'register depth to the colour image', though it is)."""
    bag, depth = _scaled_bag(tmp_path / "bag", dw, dh, fx)
    with caplog.at_level(logging.INFO, logger="mast3r_ros"):
        frames = list(BagSequence(bag, image_topic=CAM,
                                  depth_topic="/camera/depth_small/image_raw"))
    assert len(frames) == 3
    said = [r.getMessage() for r in caplog.records if "resampled" in r.getMessage()]
    assert len(said) == 1 and f"is {dw}x{dh}, the images 8x6" in said[0], said  # once
    ys, xs = np.mgrid[0:H, 0:W]
    want = depth[((ys + 0.5) * dh / H).astype(int), ((xs + 0.5) * dw / W).astype(int)] / 1000
    for f in frames:
        assert f.depth_m.shape == (H, W)
        np.testing.assert_allclose(f.depth_m, want, rtol=1e-6)


def test_depth_of_another_resolution_and_calibration_is_still_refused(tmp_path):
    """At twice the size but fx 50 (not the image's 30 scaled): no frame is read with it."""
    bag, _ = _scaled_bag(tmp_path / "bag", 16, 12, 50.0)
    seq = BagSequence(bag, image_topic=CAM, depth_topic="/camera/depth_small/image_raw")
    with pytest.raises(InputError, match=r"16x12, but the image is 8x6 and its CameraInfo "
                       r"\(/camera/depth_small/camera_info: 16x12, fx 50 .*\) is not the "
                       r"image's K scaled to that size: register depth"):
        list(seq)


def _cam(width, height, fx, fy, cx, cy, skew=0.0):
    from mast3r_ros.core.types import CameraIntrinsics

    return CameraIntrinsics(width=width, height=height,
                            K=np.array([[fx, skew, cx], [0, fy, cy], [0, 0, 1.0]]))


def test_a_depth_calibration_is_the_images_only_with_its_principal_point_and_skew_scaled():
    """`_other_calibration` of a 640x480 image (fx fy 500, principal point at the centre): the
    depth's K at half the size, or at 4x (pixel centres aligned: cx 1279.5, not 319.5 x 4 =
    1278, 1.5 px off), or halved in height alone (fy and cy halved, fx and cx kept) is the
    image's. A depth camera's own stream whose fx happens to scale as the image's but whose
    principal point is 8 px off, or whose K has a skew, is another calibration."""
    from mast3r_ros.replay.rosbag.registered_depth import _other_calibration

    image = _cam(640, 480, 500, 500, 319.5, 239.5)
    assert not _other_calibration(_cam(320, 240, 250, 250, 159.5, 119.5), image)
    assert not _other_calibration(_cam(2560, 1920, 2000, 2000, 1279.5, 959.5), image)
    # plain scaling (cx x 4 = 1278, image_proc's resize before it aligned pixel centres) at 4x:
    # 1.5 px off the centre-aligned 1279.5, both conventions are the image's K
    assert not _other_calibration(_cam(2560, 1920, 2000, 2000, 1278.0, 958.0), image)
    assert _other_calibration(_cam(2560, 1920, 2000, 2000, 1276.0, 956.0), image)
    assert not _other_calibration(_cam(640, 240, 500, 250, 319.5, 119.5), image)
    assert _other_calibration(_cam(320, 240, 250, 250, 167.5, 119.5), image)
    assert _other_calibration(_cam(320, 240, 250, 250, 159.5, 127.5), image)
    assert _other_calibration(_cam(320, 240, 250, 250, 159.5, 119.5, skew=5.0), image)


def test_depth_whose_camera_info_is_of_another_size_than_it_is_still_refused(tmp_path):
    """Depth 16x12 beside a CameraInfo of 8x6 (the image's K, not rescaled with the depth):
    the calibration does not describe the depth images, so they are not resampled."""
    bag, _ = _scaled_bag(tmp_path / "bag", 16, 12, 30.0, info_size=(8, 6))
    seq = BagSequence(bag, image_topic=CAM, depth_topic="/camera/depth_small/image_raw")
    with pytest.raises(InputError, match=r"16x12, but the image is 8x6 and its CameraInfo "
                                         r"\(\S+: 8x6, .*register depth"):
        list(seq)


def test_depth_of_another_camera_is_refused_against_a_given_calibration_too(tmp_path):
    """--camera-info given (the bag's colour CameraInfo not read): the depth's frame and
    calibration (fx 20) are compared with the given one (fx 30) and refused as without it."""
    bag = _bag(tmp_path / "bag", "/camera/depth/image_rect_raw", DEPTH, depth_info_fx=20.0)
    with pytest.raises(InputError, match="not registered"):
        BagSequence(bag, image_topic=CAM, depth_topic="/camera/depth/image_rect_raw",
                    camera_info=_cam(W, H, 30.0, 30.0, (W - 1) / 2, (H - 1) / 2))


def test_a_depth_camera_info_that_does_not_convert_is_not_compared(tmp_path, caplog):
    """The CameraInfo beside the depth is unusable (fx 0: a driver's placeholder): nothing to
    compare the depth's calibration with, so its other frame alone is warned about and the
    frames are read, as without a CameraInfo beside it (not an error naming that topic)."""
    bag = _bag(tmp_path / "bag", "/camera/depth/image_rect_raw", DEPTH, depth_info_fx=0.0)
    with caplog.at_level(logging.WARNING):
        frames = list(BagSequence(bag, image_topic=CAM,
                                  depth_topic="/camera/depth/image_rect_raw"))
    assert len(frames) == 3
    assert [r for r in caplog.records if "registered" in r.getMessage()]


def test_depth_without_a_frame_id_is_not_warned_about(tmp_path, caplog):
    """A depth driver that leaves header.frame_id empty, its CameraInfo the image's: no frame
    to tell it by, so no 'another frame' warning."""
    bag = _bag(tmp_path / "bag", "/camera/depth/image_rect_raw", "", depth_info_fx=30.0)
    with caplog.at_level(logging.WARNING):
        frames = list(BagSequence(bag, image_topic=CAM,
                                  depth_topic="/camera/depth/image_rect_raw"))
    assert len(frames) == 3 and "registered" not in caplog.text


def test_depth_of_another_resolution_without_its_camera_info_names_the_topic_to_record(
        tmp_path):
    """Registered depth at half the size with no CameraInfo beside it was refused with
    'register depth to the colour image (a camera's aligned_depth_to_color topic)', the topic
    it was read from: the CameraInfo that would let it be resampled is named now."""
    rows, cols = np.mgrid[0:3, 0:4]
    depth = (1000 + 10 * rows + cols).astype(np.uint16)
    topic = "/camera/aligned_depth_to_color/image_raw"
    msgs = []
    for t in (1000 * MS, 1100 * MS, 1200 * MS):
        msgs.append((CAM, t, image(t, "rgb8", RGB, frame_id=COLOR)))
        msgs.append(("/camera/color/camera_info", t, _info(t, 30.0, COLOR)))
        msgs.append((topic, t + 1, image(t, "16UC1", depth, frame_id=COLOR)))
    bag = write_bag(tmp_path / "bag", StoragePlugin.MCAP, sorted(msgs, key=lambda m: m[1]))
    seq = BagSequence(bag, image_topic=CAM, depth_topic=topic)
    with pytest.raises(InputError) as err:
        list(seq)
    assert ("4x3, but the image is 8x6, and no CameraInfo beside the depth "
            "(/camera/aligned_depth_to_color/camera_info) tells whether it is registered at "
            "another resolution (then resampled to the image): record "
            "/camera/aligned_depth_to_color/camera_info too") in str(err.value), str(err.value)


def test_several_camera_infos_none_the_images_are_listed_with_frame_and_size(tmp_path):
    """Two CameraInfo topics outside the image's namespace (a stereo pair's, the colour one
    not recorded): "choose one" named only the topics; the user had to open the bag to tell
    which is which. Each is listed with its frame (as tf2 names it: no leading slash) and
    size, and so are the images."""
    msgs = [(CAM, 1000 * MS, image(1000 * MS, "rgb8", RGB, frame_id=COLOR)),
            ("/left/camera_info", 1000 * MS, _info(1000 * MS, 30.0, "/left_optical")),
            ("/right/camera_info", 1000 * MS, camera_info(1000 * MS, 60.0, 2 * W, 2 * H))]
    msgs[2][2].header = header(1000 * MS, "")
    bag = write_bag(tmp_path / "bag", StoragePlugin.MCAP, msgs)
    with pytest.raises(InputError) as err:
        BagSequence(bag)
    text = str(err.value)
    for part in (f"/left/camera_info (frame 'left_optical', {W}x{H})",
                 f"/right/camera_info (no frame, {2 * W}x{2 * H})",
                 f"namespace of {CAM} (frame '{COLOR}', {W}x{H})",
                 "BagSequence(camera_info_topic=...)"):  # the CLI names --camera-info-topic
        assert part in text, text


def test_several_camera_infos_are_described_by_their_first_readable_message(tmp_path):
    """A CameraInfo cut short (it cannot be deserialized) is skipped for the next; a topic of
    such messages alone says so instead of a frame and size."""
    t0, t1 = 1000 * MS, 1100 * MS
    msgs = [(CAM, t0, image(t0, "rgb8", RGB, frame_id=COLOR)),
            ("/left/camera_info", t0, _info(t0, 30.0, "left_optical")),
            ("/left/camera_info", t1, _info(t1, 30.0, "left_optical")),
            ("/right/camera_info", t0, _info(t0, 30.0, "right_optical"))]
    bag = write_bag(tmp_path / "bag", StoragePlugin.MCAP, msgs,
                    corrupt=[("/left/camera_info", t0), ("/right/camera_info", t0)])
    with pytest.raises(InputError) as err:
        BagSequence(bag)
    text = str(err.value)
    assert f"/left/camera_info (frame 'left_optical', {W}x{H})" in text, text
    assert "/right/camera_info (no readable message)" in text, text
