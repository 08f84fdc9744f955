"""A resumed localize over a rosbag2 (``frames_or_unreadable(recorded=...)``): the frames it
recorded cost nothing beyond the raw bytes the reader yields. Each recorded image message was
still deserialized (for its stamp, frame_id and pose) and its depth message decoded: on a bag
stopped at frame 9000, 9000 of each for nothing. Now the stamp, frame_id and pose come from the
indexing pass, and a depth message matched only to recorded frames (or to no frame yielded) is
neither deserialized, decoded nor waited for; the frames after them come out exactly as in a
plain run."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from rosbags.highlevel import AnyReader  # noqa: E402
from rosbags.rosbag2 import StoragePlugin  # noqa: E402
from test_rosbag import (H, MS, RGB, W, camera_info, image, pose, tf_message,  # noqa: E402
                         write_bag)

from mast3r_ros.core.message_fields import header_stamp_ns  # noqa: E402
from mast3r_ros.core.types import Frame, RecordedFrame, UnreadableFrame  # noqa: E402
from mast3r_ros.replay.rosbag import BagSequence  # noqa: E402

CAM, DEPTH, INFO = "/cam/image", "/cam/depth", "/cam/camera_info"
STAMPS = [(1000 + 100 * k) * MS for k in range(10)]  # images at 1.0 .. 1.9 s
BAD = 7  # the image at 1.7 s is written cut short: it cannot be deserialized
# depth, each matched (within 0.06 s) to: 1.0 and 1.1 s; 1.2 and 1.3 s; 1.4; 1.6; 1.7 (the bad
# one); 1.9 s; no image (2.5 s). The images at 1.5 and 1.8 s have none.
DEPTHS = [1050 * MS, 1250 * MS, 1400 * MS, 1600 * MS, 1700 * MS, 1900 * MS, 2500 * MS]
LATE = 250 * MS  # depth reaches the bag after the images it belongs to: they wait for it
CAM_FROM = {"cam_a": pose([0, 0, 0], [0, 0, 0.5]), "cam_b": pose([0, 0.2, 0], [0.1, 0, 0])}
# the driver restarted with another frame_id from the image at 1.5 s on
FRAME_ID = ["cam_a"] * 5 + ["cam_b"] * 5


def _bag(path):
    msgs = [(INFO, 900 * MS, camera_info(900 * MS))]
    for k, (t, fid) in enumerate(zip(STAMPS, FRAME_ID)):
        msgs.append((CAM, t + 10 * MS, image(t, "rgb8", (RGB // (k + 1)), frame_id=fid)))
    for k, t in enumerate(DEPTHS):
        depth = np.full((H, W), 500 * (k + 1), np.uint16)
        msgs.append((DEPTH, t + LATE, image(t, "16UC1", depth)))
    static = [("base_link", fid, 0, cam) for fid, cam in CAM_FROM.items()]
    msgs.append(("/tf_static", 0, tf_message(static)))
    for k in range(12):  # map -> base_link every 0.1 s from 0.95 s, turning and moving
        t = (950 + 100 * k) * MS
        msgs.append(("/tf", t, tf_message([("map", "base_link", t,
                                            pose([0, 0, 0.05 * k], [0.1 * k, 0, 0]))])))
    return write_bag(path, StoragePlugin.MCAP, sorted(msgs, key=lambda m: m[1]),
                     corrupt={(CAM, STAMPS[BAD] + 10 * MS)})


@pytest.fixture
def seq(tmp_path):
    return BagSequence(_bag(tmp_path / "bag"), image_topic=CAM, depth_topic=DEPTH,
                       pose_frames="map", sync_tolerance_s=0.06)


class _Decoded(list):
    """Stamps of the depth messages decoded; ``read``: of those deserialized."""

    read: list

    def __init__(self):
        super().__init__()
        self.read = []


def _watch(monkeypatch):
    """Header stamps of the image messages deserialized, of the depth messages decoded and of
    those deserialized (``decoded.read``), from now on."""
    deserialized, decoded = [], _Decoded()
    real_deserialize, real_decode = AnyReader.deserialize, BagSequence._decode_depth

    def deserialize(self, raw, typename):
        msg = real_deserialize(self, raw, typename)
        if typename == "sensor_msgs/msg/Image":
            (deserialized if msg.encoding == "rgb8" else decoded.read).append(
                header_stamp_ns(msg.header))
        return msg

    def decode(self, msg):
        decoded.append(header_stamp_ns(msg.header))
        return real_decode(self, msg)

    monkeypatch.setattr(AnyReader, "deserialize", deserialize)
    monkeypatch.setattr(BagSequence, "_decode_depth", decode)
    return deserialized, decoded


def _same(plain, got, recorded):
    """``got`` (a resumed iteration) is ``plain`` (the same frames read in one go), each
    frame at a recorded stamp a `RecordedFrame` with the plain frame's stamp, camera and pose."""
    assert [f.stamp_ns for f in got] == [f.stamp_ns for f in plain]
    for f, g in zip(plain, got):
        if g.stamp_ns in recorded and not isinstance(f, UnreadableFrame):
            assert isinstance(g, RecordedFrame), g
            assert g.intrinsics == f.intrinsics
            np.testing.assert_array_equal(g.map_from_cam, f.map_from_cam)
            continue
        assert type(g) is type(f)
        if isinstance(f, UnreadableFrame):
            assert (g.reason, g.image_size, g.intrinsics_size) == (
                f.reason, f.image_size, f.intrinsics_size)
            np.testing.assert_array_equal(g.map_from_cam, f.map_from_cam)
            continue
        assert isinstance(f, Frame)
        assert (g.frame_id, g.intrinsics) == (f.frame_id, f.intrinsics)
        np.testing.assert_array_equal(g.rgb, f.rgb)
        np.testing.assert_array_equal(g.map_from_cam, f.map_from_cam)
        if f.depth_m is None:
            assert g.depth_m is None
        else:
            np.testing.assert_array_equal(g.depth_m, f.depth_m)


def test_recorded_frames_are_neither_deserialized_nor_their_depth_decoded(seq, monkeypatch):
    recorded = {STAMPS[k] for k in (0, 1, 2, 4, 8)}
    plain = list(seq.frames_or_unreadable())
    deserialized, decoded = _watch(monkeypatch)
    got = list(seq.frames_or_unreadable(recorded=recorded))
    # only the images read now: not 1.7 s either (it cannot be)
    assert deserialized == [STAMPS[k] for k in (3, 5, 6, 9)]
    # depth at 1.05 s (1.0 and 1.1 s recorded) and 1.4 s (recorded) is not decoded; 1.25 s
    # (shared by the recorded 1.2 s and the 1.3 s read now) and the bad frame's still are
    assert decoded == [1250 * MS, 1600 * MS, 1700 * MS, 1900 * MS]
    assert decoded.read == decoded  # nor deserialized: neither those nor 2.5 s (no image's)
    assert [type(f).__name__ for f in got] == (["RecordedFrame"] * 3 + ["Frame", "RecordedFrame"]
                                               + ["Frame"] * 2 + ["UnreadableFrame"]
                                               + ["RecordedFrame", "Frame"])
    _same(plain, got, recorded)
    # after the change of frame_id, a recorded frame's pose is the new camera frame's (the
    # first image's frame_id would give another one), as in the plain run (`_same`)
    assert all(f.map_from_cam is not None for f in plain)
    assert not np.allclose(seq._pose("cam_a", STAMPS[8]), got[8].map_from_cam)
    assert plain[1].depth_m is not None and plain[4].depth_m is not None  # depth it skipped


def test_every_frame_recorded_reads_nothing(seq, monkeypatch):
    """A run stopped after its last frame (before writing its results): the resumed one reads
    no image and decodes no depth; the bad image stays an unreadable frame."""
    plain = list(seq.frames_or_unreadable())
    deserialized, decoded = _watch(monkeypatch)
    got = list(seq.frames_or_unreadable(recorded=set(seq.stamps_ns.tolist())))
    assert deserialized == [] and decoded == [] and decoded.read == []
    assert [isinstance(f, UnreadableFrame) for f in got] == [k == BAD for k in range(10)]
    _same(plain, got, set(STAMPS))


@pytest.mark.parametrize("positions", [[0, 2, 4, 6, 8], [1, 3, 5, 7, 9], [3, 4, 9]])
def test_recorded_frames_among_positions(seq, monkeypatch, positions):
    """--stride with --resume: the positions taken, the recorded ones among them not read; the
    depth of a skipped frame is not decoded either."""
    recorded = {STAMPS[k] for k in (0, 1, 2, 3, 4)}
    plain = list(seq.frames_or_unreadable(positions=positions))
    deserialized, decoded = _watch(monkeypatch)
    got = list(seq.frames_or_unreadable(positions=positions, recorded=recorded))
    _same(plain, got, recorded)
    read = [k for k in positions if STAMPS[k] not in recorded and k != BAD]
    assert deserialized == [STAMPS[k] for k in read]
    needed = {int(seq._depth_matches(np.array([STAMPS[k]]))[0])
              for k in positions if STAMPS[k] not in recorded}
    assert decoded == sorted(d for d in needed if d >= 0) and decoded.read == decoded


def test_a_plain_run_reads_no_depth_message_that_no_image_takes(seq, monkeypatch):
    """The depth message at 2.5 s is matched to no image: it is not even deserialized (its
    stamp is the indexing pass's)."""
    _, decoded = _watch(monkeypatch)
    assert len(list(seq.frames_or_unreadable())) == 10
    assert decoded.read == decoded == DEPTHS[:-1]


def test_a_bad_image_at_a_recorded_stamp_stays_unreadable(seq, monkeypatch):
    """An image message that cannot be deserialized is the same unreadable frame whether or
    not its (estimated) stamp is recorded; recorded, its depth is not decoded for it."""
    plain = list(seq.frames_or_unreadable())
    _, decoded = _watch(monkeypatch)
    got = list(seq.frames_or_unreadable(recorded={int(seq.stamps_ns[BAD])}))
    _same(plain, got, set())
    assert isinstance(got[BAD], UnreadableFrame) and 1700 * MS not in decoded


def test_a_recorded_frame_waits_behind_one_waiting_for_its_depth(tmp_path):
    """Frames come in bag order: a recorded frame that waits for nothing still comes after the
    frame before it, which waits for its depth message received later."""
    msgs = [(INFO, 0, camera_info(0)),
            (CAM, 1000 * MS, image(1000 * MS, "rgb8", RGB)),
            (CAM, 1100 * MS, image(1100 * MS, "rgb8", RGB)),
            (CAM, 1200 * MS, image(1200 * MS, "rgb8", RGB)),
            (DEPTH, 1500 * MS, image(1000 * MS, "16UC1", np.full((H, W), 900, np.uint16)))]
    bag = write_bag(tmp_path / "bag", StoragePlugin.MCAP, msgs)
    seq = BagSequence(bag, image_topic=CAM, depth_topic=DEPTH)
    got = list(seq.frames_or_unreadable(recorded={1100 * MS, 1200 * MS}))
    assert [(type(f).__name__, f.stamp_ns) for f in got] == [
        ("Frame", 1000 * MS), ("RecordedFrame", 1100 * MS), ("RecordedFrame", 1200 * MS)]
    np.testing.assert_allclose(got[0].depth_m, 0.9)


def _tum_as_bag(folder, path, n):
    """The first ``n`` frames of a TUM folder as a rosbag2: rgb8 images, their CameraInfo and
    the ground truth as tf map -> cam at each image stamp."""
    from mast3r_ros.replay.tum import TumSequence

    frames = list(TumSequence(folder, read_depth=False))[:n]
    cam = frames[0].intrinsics
    info = camera_info(frames[0].stamp_ns, width=cam.width, height=cam.height)
    info.k, info.d = cam.K.reshape(-1).astype(np.float64), np.asarray(cam.dist, np.float64)
    msgs = [(INFO, frames[0].stamp_ns, info)]
    for f in frames:
        msgs.append(("/tf", f.stamp_ns, tf_message([("map", "cam", f.stamp_ns,
                                                    f.map_from_cam)])))
        msgs.append((CAM, f.stamp_ns + 5 * MS, image(f.stamp_ns, "rgb8", f.rgb,
                                                     frame_id="cam")))
    return write_bag(path, StoragePlugin.MCAP, sorted(msgs, key=lambda m: m[1]))


@pytest.mark.usefixtures("one_torch_thread")
def test_a_resumed_bag_run_gives_the_results_of_one_uninterrupted_run(tum, sift_map, tmp_path,
                                                                      monkeypatch):
    """localize over a bag stopped after 3 frames, then resumed: the results, trajectory and
    metrics of one run in one go, the 3 recorded image messages not deserialized again after
    the indexing pass."""
    import json

    from mast3r_ros.core.localizer import Localizer
    from mast3r_ros.replay.cli import main

    bag = _tum_as_bag(tum[1], tmp_path / "bag", 6)
    one, two = tmp_path / "one", tmp_path / "two"

    def argv(out, *more):
        return ["localize", str(bag), "--map", sift_map, "--out", str(out), "--matcher",
                "sift", "--pose-frames", "map:cam", "--log-level", "warning", *more]

    deserialized, _ = _watch(monkeypatch)
    assert main(argv(one)) == 0
    in_one_go = len(deserialized)  # the indexing pass's, the topic probe's, the iteration's
    monkeypatch.undo()
    real, calls = Localizer.localize, []

    def stop_after_3(self, *a, **k):
        calls.append(1)
        if len(calls) > 3:
            raise KeyboardInterrupt
        return real(self, *a, **k)

    monkeypatch.setattr(Localizer, "localize", stop_after_3)
    assert main(argv(two)) == 130
    monkeypatch.undo()
    deserialized, _ = _watch(monkeypatch)
    assert main(argv(two, "--resume")) == 0
    assert len(deserialized) == in_one_go - 3  # none of the 3 recorded by the iteration

    def without_timings(path):
        return [{k: v for k, v in json.loads(line).items()
                 if k not in ("timings_s", "cold_start")} for line in open(path)]

    a, b = without_timings(one / "results.jsonl"), without_timings(two / "results.jsonl")
    assert len(a) == 6 and sum(r["success"] for r in a) >= 4
    assert a == b
    assert (one / "trajectory.tum").read_text() == (two / "trajectory.tum").read_text()
    ma = json.loads((one / "metrics.json").read_text())
    mb = json.loads((two / "metrics.json").read_text())
    assert ma["evaluated"] == 6
    for key in ("frames", "localized", "evaluated", "translation_error_m", "recall"):
        assert ma[key] == mb[key], key


def _tum_as_reset_bag(folder, path, n):
    """A bag of two runs that share their header stamps (a simulator reset): run 1 is the
    first ``n`` frames of a TUM folder, as `_tum_as_bag`; run 2, received 100 s later, the
    next ``n`` frames (other images, other poses) stamped again as run 1's."""
    from mast3r_ros.replay.tum import TumSequence

    frames = list(TumSequence(folder, read_depth=False))[:2 * n]
    cam = frames[0].intrinsics
    msgs = []
    for run in (0, 1):
        info = camera_info(frames[0].stamp_ns, width=cam.width, height=cam.height)
        info.k, info.d = cam.K.reshape(-1).astype(np.float64), np.asarray(cam.dist, np.float64)
        late = run * 100_000 * MS
        msgs.append((INFO, late + frames[0].stamp_ns, info))
        for stamped, f in zip(frames[:n], frames[run * n:(run + 1) * n]):
            t = stamped.stamp_ns
            msgs.append(("/tf", late + t, tf_message([("map", "cam", t, f.map_from_cam)])))
            msgs.append((CAM, late + t + 5 * MS, image(t, "rgb8", f.rgb, frame_id="cam")))
    return write_bag(path, StoragePlugin.MCAP, sorted(msgs, key=lambda m: m[1]))


@pytest.mark.usefixtures("one_torch_thread")
def test_resume_refuses_a_partial_of_another_run_of_the_bag(tum, sift_map, tmp_path, capsys,
                                                            monkeypatch):
    """A bag whose clock was reset holds runs that share their stamps: a run of --run 2 stopped
    after 2 frames, then resumed without --run (run 1 read), took run 2's recorded results for
    run 1's frames, since they matched by stamp: one run's poses under another's. run.json
    records the run read now; the resume is refused in one line naming --run 2, and a resume
    with --run 2 goes on."""
    import json

    from mast3r_ros.core.localizer import Localizer
    from mast3r_ros.replay.cli import main

    bag = _tum_as_reset_bag(tum[1], tmp_path / "bag", 4)
    out = tmp_path / "run"

    def argv(*more):
        return ["localize", str(bag), "--map", sift_map, "--out", str(out), "--matcher",
                "sift", "--pose-frames", "map:cam", "--log-level", "error", *more]

    real, calls = Localizer.localize, []

    def stop_after_2(self, *a, **k):
        calls.append(1)
        if len(calls) > 2:
            raise KeyboardInterrupt
        return real(self, *a, **k)

    monkeypatch.setattr(Localizer, "localize", stop_after_2)
    assert main(argv("--run", "2")) == 130
    monkeypatch.undo()
    partial = tmp_path / "run.partial"
    capsys.readouterr()
    assert main(argv("--resume")) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "run 2" in line and "--run 2" in line and "--restart" in line, line
    assert not out.exists() and partial.is_dir()
    assert json.loads((partial / "run.json").read_text())["run"] == 2
    assert main(argv("--resume", "--run", "2")) == 0
    assert json.loads((out / "run.json").read_text())["run"] == 2
    assert len((out / "results.jsonl").read_text().splitlines()) == 4


@pytest.mark.usefixtures("one_torch_thread")
def test_an_image_recorded_out_of_order_keeps_the_tracking(tum, sift_map, tmp_path,
                                                           monkeypatch, capsys):
    """Two images the bag received swapped (one run: the bag reader tells a reorder from a
    clock reset) made localize warn 'time went backwards ... tracking reset' and localize the
    earlier one without the tracker's hint, as after a bag loop. Tracking now goes on."""
    from mast3r_ros.core.localizer import Localizer
    from mast3r_ros.replay.cli import main

    from mast3r_ros.replay.tum import TumSequence

    # `_tum_as_bag`'s messages, but the bag receives frame 3 before frame 2
    frames = list(TumSequence(tum[1], read_depth=False))[:6]
    stamps = [f.stamp_ns for f in frames]
    cam = frames[0].intrinsics
    info = camera_info(frames[0].stamp_ns, width=cam.width, height=cam.height)
    info.k, info.d = cam.K.reshape(-1).astype(np.float64), np.asarray(cam.dist, np.float64)
    msgs = [(INFO, frames[0].stamp_ns, info)]
    for k, f in enumerate(frames):
        msgs.append(("/tf", f.stamp_ns, tf_message([("map", "cam", f.stamp_ns,
                                                    f.map_from_cam)])))
        received = frames[{2: 3, 3: 2}.get(k, k)].stamp_ns + (6 if k == 2 else 5) * MS
        msgs.append((CAM, received, image(f.stamp_ns, "rgb8", f.rgb, frame_id="cam")))
    swapped = write_bag(tmp_path / "swapped", StoragePlugin.MCAP,
                        sorted(msgs, key=lambda m: m[1]))
    real, hints = Localizer.localize, {}

    def record_hint(self, frame, *a, **k):
        hints[frame.stamp_ns] = k.get("hint") is not None
        return real(self, frame, *a, **k)

    monkeypatch.setattr(Localizer, "localize", record_hint)
    out = tmp_path / "run"
    assert main(["localize", str(swapped), "--map", sift_map, "--out", str(out), "--matcher",
                 "sift", "--pose-frames", "map:cam"]) == 0
    err = capsys.readouterr().err
    assert "tracking reset" not in err
    # the earlier image named, and by how much it came late (positive: not 'time went back')
    assert (f"the image at t={stamps[2] * 1e-9:.6f} s was recorded out of order "
            f"({(stamps[3] - stamps[2]) * 1e-9:.3f} s before the one before it)") in err, err
    assert hints[stamps[2]] and hints[stamps[3]], hints  # both localized while tracking


@pytest.mark.usefixtures("one_torch_thread")
def test_localize_over_a_bag_with_one_invalid_tf_sample_runs_with_a_warning(tum, sift_map,
                                                                          tmp_path, capsys):
    """A driver glitch, one map -> cam sample with a zero quaternion between the 3rd and 4th
    images: localize reads the bag as tf2 would, that sample dropped with a warning naming it,
    every frame localized against its ground truth. Before: the whole bag was refused."""
    import json

    from mast3r_ros.replay.cli import main

    bag = _tum_as_bag(tum[1], tmp_path / "bag", 5)
    with AnyReader([bag]) as reader:
        stamps = sorted(header_stamp_ns(reader.deserialize(raw, c.msgtype).header)
                        for c, _, raw in reader.messages()
                        if c.topic == CAM)
    glitch = (stamps[2] + stamps[3]) // 2
    msgs = []
    with AnyReader([bag]) as reader:
        for c, t, raw in reader.messages():
            msgs.append((c.topic, t, reader.deserialize(raw, c.msgtype)))
    zero = tf_message([("map", "cam", glitch, np.eye(4))])
    q = zero.transforms[0].transform.rotation
    q.x = q.y = q.z = q.w = 0.0
    msgs.append(("/tf", glitch, zero))
    bag = write_bag(tmp_path / "glitch", StoragePlugin.MCAP, sorted(msgs, key=lambda m: m[1]))
    out = tmp_path / "run"
    assert main(["localize", str(bag), "--map", sift_map, "--out", str(out), "--matcher",
                 "sift", "--pose-frames", "map:cam"]) == 0
    err = capsys.readouterr().err
    assert (f"ignoring an invalid transform map -> cam on /tf stamped t={glitch * 1e-9:.6f} s "
            f"(received at bag time {glitch * 1e-9:.6f} s), as tf2 does") in err, err
    assert "1 invalid tf sample was ignored" in err, err
    assert len(open(out / "results.jsonl").read().splitlines()) == 5
    assert json.loads((out / "metrics.json").read_text())["frames_with_groundtruth"] == 5
