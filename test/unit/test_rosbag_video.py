"""Compressed video topics of a rosbag2 (Foxglove's CompressedVideo, ffmpeg_image_transport's
FFMPEGPacket) read as the colour images: tiny h264 bags encoded here with PyAV (libx264) from
synthetic frames, beside CameraInfo, raw depth and tf, in mcap and sqlite3."""

from __future__ import annotations

import fractions
import logging
import sqlite3
import sys

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")
av = pytest.importorskip("av", reason='PyAV is not installed (pip install -e ".[video]")')

from rosbags.rosbag2 import StoragePlugin, Writer  # noqa: E402

from mast3r_ros.core.errors import InputError  # noqa: E402
from mast3r_ros.replay.cli import main  # noqa: E402
from mast3r_ros.replay.rosbag import BagSequence  # noqa: E402
from mast3r_ros.replay.rosbag.video import (COMPRESSED_VIDEO_TYPE, FFMPEG_PACKET_TYPE,  # noqa: E402
                                            codec_family, humble_typestore)
from test_rosbag import (BASE_FROM_CAM, MS, S, image, pose, tf_message)  # noqa: E402

TS = humble_typestore()
T = TS.types
W, H, N = 64, 48, 12
STAMPS = [S + k * 100 * MS for k in range(N)]
VIDEO, DEPTH, INFO = "/cam/image_raw/foxglove", "/cam/depth", "/cam/camera_info"


def _pictures():
    yy, xx = np.mgrid[0:H, 0:W].astype(float)
    return [np.stack([128 + 100 * np.sin((xx + 2 * k) / 6), 128 + 100 * np.cos((yy + k) / 7),
                      128 + 80 * np.sin((xx + yy) / 9)], -1).astype(np.uint8) for k in range(N)]


PICTURES = _pictures()


def _packets(gop=5, b_frames=False):
    """(bytes, is keyframe) of each picture, h264 (Annex B) from libx264 without B-frames
    (``b_frames``: with 2 between the P-frames)."""
    enc = av.CodecContext.create("libx264", "w")
    enc.width, enc.height, enc.pix_fmt = W, H, "yuv420p"
    enc.time_base = fractions.Fraction(1, 10)
    enc.options = ({"bf": "2", "g": str(gop), "crf": "18"} if b_frames else
                   {"tune": "zerolatency", "g": str(gop), "crf": "18"})
    out = []
    for k, rgb in enumerate(PICTURES):
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts = k
        out += [(bytes(p), p.is_keyframe) for p in enc.encode(frame)]
    out += [(bytes(p), p.is_keyframe) for p in enc.encode(None)]
    assert len(out) == N
    return out


def _time(ns):
    return T["builtin_interfaces/msg/Time"](sec=ns // S, nanosec=ns % S)


def _video_msg(kind, stamp, data, key, fmt=None, pts=0):
    payload = np.frombuffer(data, np.uint8)
    if kind == COMPRESSED_VIDEO_TYPE:
        return T[kind](timestamp=_time(stamp), frame_id="camera_optical", data=payload,
                       format=fmt or "h264")
    head = T["std_msgs/msg/Header"](stamp=_time(stamp), frame_id="camera_optical")
    return T[kind](header=head, width=W, height=H, encoding=fmt or "libx264", pts=pts,
                   flags=int(key), is_bigendian=False, data=payload)


def _info(stamp):
    k = np.array([50.0, 0, (W - 1) / 2, 0, 50.0, (H - 1) / 2, 0, 0, 1])
    roi = T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0,
                                                do_rectify=False)
    return T["sensor_msgs/msg/CameraInfo"](
        header=T["std_msgs/msg/Header"](stamp=_time(stamp), frame_id="camera_optical"),
        height=H, width=W, distortion_model="plumb_bob", d=np.zeros(5), k=k,
        r=np.eye(3).reshape(-1), p=np.zeros(12), binning_x=0, binning_y=0, roi=roi)


def video_bag(path, storage=StoragePlugin.MCAP, kind=COMPRESSED_VIDEO_TYPE, drop=0, fmt=None,
              topic=VIDEO, depth=True, raw_image=False, b_frames=False, stamps=STAMPS,
              missing=()):
    """N pictures 0.1 s apart on ``topic`` (the first ``drop`` packets not recorded: a
    recording started mid-GOP; the packets ``missing`` not recorded either; an FFMPEGPacket's
    pts: its picture's number, as the encoder counts), CameraInfo, 16UC1 depth at each stamp,
    the camera 0.5 m further along tf at each; ``raw_image``: the pictures as rgb8 Images on
    /cam/color/image_raw too. ``stamps``: the messages' header stamps (received 0.1 s apart
    all the same)."""
    msgs = [("/tf_static", 0, tf_message([("base_link", "camera_optical", 0, BASE_FROM_CAM)])),
            (INFO, 1, _info(900 * MS))]
    for k, ((data, key), t, h) in enumerate(zip(_packets(b_frames=b_frames), STAMPS, stamps)):
        msgs.append(("/tf", t, tf_message([("map", "base_link", h,
                                            pose([0, 0, 0], [0.5 * k, 0, 0]))])))
        if k >= drop and k not in missing:
            msgs.append((topic, t + 1, _video_msg(kind, h, data, key, fmt, pts=k)))
        if raw_image:
            msgs.append(("/cam/color/image_raw", t + 1, image(h, "rgb8", PICTURES[k])))
        if depth:
            msgs.append((DEPTH, t + 2, image(h, "16UC1", np.full((H, W), 1500, np.uint16))))
    with Writer(path, version=9, storage_plugin=storage) as writer:
        conns = {}
        for name, bag_ns, msg in sorted(msgs, key=lambda m: m[1]):
            if name not in conns:
                conns[name] = writer.add_connection(name, msg.__msgtype__, typestore=TS)
            writer.write(conns[name], bag_ns, bytes(TS.serialize_cdr(msg, msg.__msgtype__)))
    return path


def psnr(a, b):
    mse = np.mean((a.astype(float) - b.astype(float)) ** 2)
    return 10 * np.log10(255.0 ** 2 / max(mse, 1e-12))


@pytest.mark.parametrize("kind", [COMPRESSED_VIDEO_TYPE, FFMPEG_PACKET_TYPE],
                         ids=["CompressedVideo", "FFMPEGPacket"])
@pytest.mark.parametrize("storage", [StoragePlugin.MCAP, StoragePlugin.SQLITE3],
                         ids=["mcap", "sqlite3"])
def test_every_video_frame_is_read_with_its_stamp_and_close_to_the_original(tmp_path, storage,
                                                                            kind):
    bag = video_bag(tmp_path / "bag", storage, kind)
    seq = BagSequence(bag, pose_frames="map:camera_optical")  # the video topic detected
    assert seq.image_topic == VIDEO and seq.camera_info_topic == INFO
    assert seq.stamps_ns.tolist() == STAMPS  # the message's timestamp / header.stamp
    frames = list(seq)
    assert [f.stamp_ns for f in frames] == STAMPS
    for k, frame in enumerate(frames):
        assert frame.rgb.shape == (H, W, 3) and frame.frame_id == "camera_optical"
        assert psnr(frame.rgb, PICTURES[k]) > 30, k
        np.testing.assert_allclose(frame.map_from_cam[:3, 3], BASE_FROM_CAM[:3, 3]
                                   + [0.5 * k, 0, 0], atol=1e-9)
    # a stride, and frames drawn one at a time (build-map's), decode every packet in order
    strided = list(seq.frames_or_unreadable(positions=range(1, N, 4)))
    drawn = list(seq.frames_or_unreadable(positions=iter([3, 7, 11])))
    for k, frame in [*zip(range(1, N, 4), strided), *zip([3, 7, 11], drawn)]:
        np.testing.assert_array_equal(frame.rgb, frames[k].rgb)


def test_a_humble_sqlite3_bag_without_definitions_reads_the_registered_types(tmp_path):
    bag = video_bag(tmp_path / "bag", StoragePlugin.SQLITE3, FFMPEG_PACKET_TYPE)
    with sqlite3.connect(next(bag.glob("*.db3"))) as db:
        db.execute("DELETE FROM message_definitions")
    db.close()
    frames = list(BagSequence(bag, image_topic=VIDEO))
    assert len(frames) == N and psnr(frames[-1].rgb, PICTURES[-1]) > 30


def test_a_video_started_mid_gop_starts_at_its_first_keyframe_said_once(tmp_path, caplog):
    bag = video_bag(tmp_path / "bag", drop=2)  # keyframes at 0, 5, 10: packets 2-4 undecodable
    with caplog.at_level(logging.WARNING):
        seq = BagSequence(bag, pose_frames="map:camera_optical")
        frames = list(seq.frames_or_unreadable())
        list(seq)
    said = [r.getMessage() for r in caplog.records if "mid-GOP" in r.getMessage()]
    assert len(said) == 1, said
    assert (f"video topic {VIDEO} starts mid-GOP: its first 3 packets (t=1.200..1.400 s) come "
            "before its first keyframe") in said[0]
    assert "at t=1.500 s" in said[0]
    assert [f.stamp_ns for f in frames] == STAMPS[5:]
    assert all(psnr(f.rgb, PICTURES[5 + k]) > 30 for k, f in enumerate(frames))


def test_a_clock_reset_video_counts_no_packet_before_its_first_keyframe_in_its_runs(
        tmp_path, caplog):
    # packets 2-11 recorded (keyframes 0, 5, 10); the clock goes back 0.6 s before packet 7:
    # run 1 holds packets 2-6, of which 2-4 come before the first keyframe (no frames), run 2
    # packets 7-11, decoded on from run 1's keyframe
    stamps = [t - (600 * MS if k >= 7 else 0) for k, t in enumerate(STAMPS)]
    bag = video_bag(tmp_path / "bag", drop=2, stamps=stamps)
    with caplog.at_level(logging.WARNING):
        seq = BagSequence(bag, pose_frames="map:camera_optical")
    assert [c for c, _, _ in seq.runs] == [2, 5]
    assert seq.runs[0][1] == stamps[5]  # run 1 begins at its keyframe
    assert seq.run == 2  # the longer, in frames
    frames = list(seq.frames_or_unreadable())
    assert [f.stamp_ns for f in frames] == stamps[7:]
    assert all(psnr(f.rgb, PICTURES[7 + k]) > 30 for k, f in enumerate(frames))
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "1: 2 images t=1.500..1.600 s, 2: 5 images" in said
    assert "mid-GOP" not in said  # the run read has no packet before it
    seq = BagSequence(bag, pose_frames="map:camera_optical", run=1)
    assert [f.stamp_ns for f in seq.frames_or_unreadable()] == stamps[5:7]
    # a run of packets before the first keyframe alone (1-4; the clock back before 5) holds no
    # frames: not a run, said once
    stamps = [t - (600 * MS if k >= 5 else 0) for k, t in enumerate(STAMPS)]
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        seq = BagSequence(video_bag(tmp_path / "bag2", drop=1, stamps=stamps),
                          pose_frames="map:camera_optical")
    assert [c for c, _, _ in seq.runs] == [7] and seq.stamps_ns.tolist() == stamps[5:]
    said = [r.getMessage() for r in caplog.records if "first keyframe" in r.getMessage()]
    assert len(said) == 1 and (f"4 video packets on {VIDEO} (t=1.100..1.400 s) come before "
                               "its first keyframe, a run of their own") in said[0], said
    # --run 2 there: the header time does jump back, after packets that are no frames (it said
    # "never jumps back")
    with pytest.raises(InputError, match=r"has only one run \(its images' header time jumps "
                                         r"back only after the 4 video packet\(s\) before its "
                                         r"first keyframe, which hold no frames\): drop --run$"):
        BagSequence(tmp_path / "bag2", pose_frames="map:camera_optical", run=2)


def test_a_video_topic_as_depth_an_unknown_format_and_a_missing_pyav_are_refused(
        tmp_path, monkeypatch, capsys):
    bag = video_bag(tmp_path / "bag")
    with pytest.raises(InputError, match=r"depth topic '/cam/image_raw/foxglove' is a "
                                         r"compressed video \(foxglove_msgs/msg/CompressedVideo\)"
                                         r": depth is never read from video"):
        BagSequence(bag, depth_topic=VIDEO)
    odd = video_bag(tmp_path / "odd", fmt="theora")
    with pytest.raises(InputError, match=r"video topic /cam/image_raw/foxglove: format 'theora' "
                                         r"is not supported: formats read: h264, h265"):
        BagSequence(odd)
    monkeypatch.setitem(sys.modules, "av", None)  # import av fails
    capsys.readouterr()
    rc = main(["build-map", str(bag), "--out", str(tmp_path / "map"), "--pose-frames",
               "map:camera_optical", "--depth-topic", DEPTH])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    assert ('needs PyAV, which is not installed: on Ubuntu 22.04 (Humble, JetPack 6): pip '
            'install "av>=10" (its apt python3-av 8.1 is too old); on Ubuntu 24.04 (Jazzy): sudo '
            'apt install python3-av; in a venv: pip install -e ".[video]"') in err[0], err[0]


def test_a_pyav_older_than_the_floor_is_refused_in_one_line_naming_the_fix(
        tmp_path, monkeypatch, capsys):
    # Ubuntu 22.04's python3-av is 8.1: below the floor (setup.py's video extra)
    setup = (__import__("pathlib").Path(__file__).parents[2] / "setup.py").read_text()
    assert 'AV = "av>=10.0"' in setup
    bag = video_bag(tmp_path / "bag")
    monkeypatch.setattr(av, "__version__", "8.1.0")
    capsys.readouterr()
    rc = main(["build-map", str(bag), "--out", str(tmp_path / "map"), "--pose-frames",
               "map:camera_optical", "--depth-topic", DEPTH])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    assert "needs PyAV >= 10.0; the one imported is 8.1.0 (" in err[0], err[0]
    assert 'on Ubuntu 22.04 (Humble, JetPack 6): pip install "av>=10"' in err[0], err[0]
    assert not (tmp_path / "map").exists()
    monkeypatch.setattr(av, "__version__", "10.0.0")
    assert len(BagSequence(bag)) == N


def test_a_stream_with_b_frames_gives_unreadable_frames_that_say_so(tmp_path):
    bag = video_bag(tmp_path / "bag", b_frames=True)
    frames = list(BagSequence(bag).frames_or_unreadable())
    assert len(frames) == N
    late = [f for f in frames if getattr(f, "reason", None)]
    assert late and all("gave no picture for the packet (a stream with B-frames" in f.reason
                        for f in late), late[0].reason


def test_the_base_topic_of_a_video_transport_names_the_transport_topic(tmp_path):
    bag = video_bag(tmp_path / "bag", kind=FFMPEG_PACKET_TYPE, topic="/cam/image_raw/ffmpeg")
    with pytest.raises(InputError, match=r"image topic '/cam/image_raw' is not in .*, but its "
                                         r"image_transport topic /cam/image_raw/ffmpeg is"):
        BagSequence(bag, image_topic="/cam/image_raw")


def test_an_image_topic_beside_a_video_topic_is_still_the_one_detected(tmp_path):
    bag = video_bag(tmp_path / "bag", raw_image=True)  # as before video topics were read
    assert BagSequence(bag).image_topic == "/cam/color/image_raw"


def test_build_map_reads_a_video_bag(tmp_path, capsys):
    bag = video_bag(tmp_path / "bag", kind=FFMPEG_PACKET_TYPE, topic="/cam/image_raw/ffmpeg")
    out = tmp_path / "map"
    rc = main(["build-map", str(bag), "--out", str(out), "--pose-frames", "map:camera_optical",
               "--depth-topic", DEPTH, "--log-level", "warning"])
    stdout, err = capsys.readouterr()
    assert rc == 0, err
    assert f"map {out}: {N} keyframes from {N} frames" in stdout, stdout
    from mast3r_ros.core.keyframes import KeyframeMap
    keyframes = KeyframeMap.load(str(out)).keyframes
    assert [k.stamp_ns for k in keyframes] == STAMPS


@pytest.mark.parametrize("fmt, family", [("h264", "h264"), ("h265", "hevc"), ("libx264", "h264"),
                                         ("h264_nvenc", "h264"), ("hevc_nvenc", "hevc"),
                                         ("libx265", "hevc"), ("vp9", "vp9"), ("av1", "av1"),
                                         ("libsvtav1", "av1"), ("mjpeg", None), ("", None)])
def test_codec_family(fmt, family):
    assert codec_family(fmt) == family


def test_localize_reads_a_video_bag_at_its_stride_and_a_resumed_run_skips_recorded_frames(
        tmp_path):
    from mast3r_ros.core.config import PoseAtStampConfig
    from mast3r_ros.core.types import RecordedFrame
    from mast3r_ros.replay.sources import SourceOptions, frames_or_unreadable, open_source

    bag = video_bag(tmp_path / "bag", kind=FFMPEG_PACKET_TYPE, topic="/cam/image_raw/ffmpeg")
    source = open_source(str(bag), SourceOptions(read_depth=False), PoseAtStampConfig())
    frames = list(frames_or_unreadable(source, 3, 0, recorded={STAMPS[6]}))
    assert [f.stamp_ns for f in frames] == STAMPS[::3]
    assert isinstance(frames[2], RecordedFrame)  # its packet decoded (the next needs it), not read
    for k, frame in zip((0, 3, 9), (frames[0], frames[1], frames[3])):
        assert psnr(frame.rgb, PICTURES[k]) > 30, k



def _damaged_copy(packets, k, flagged):
    """Packet ``k``'s bytes damaged: cut after a few bytes and followed by others, such that
    a plain decoder refuses it (``flagged`` False) or gives a picture flagged corrupt (True)."""
    for cut in range(12, 400):
        data = packets[k][0][:cut] + bytes(range(256)) * 2
        dec = av.CodecContext.create("h264", "r")
        try:
            for data_j, _ in packets[:k]:
                dec.decode(av.Packet(data_j))
            pictures = dec.decode(av.Packet(data))
        except av.error.FFmpegError:
            if not flagged:
                return data
            continue
        if flagged and any(getattr(p, "is_corrupt", False) for p in pictures):
            return data
    pytest.skip("no damage of the packet found that the decoder flags")


@pytest.mark.parametrize("flagged", [False, True], ids=["refused", "concealed"])
def test_a_damaged_packet_and_the_pictures_predicted_from_it_are_unreadable_frames(flagged):
    """Was: FFmpeg concealed a damaged packet's errors with parts of other pictures (PSNR ~10 dB
    against the frame, the P-frame after it too) and the picture was localized as this frame:
    a damaged h264 packet of a 7-Scenes bag gave a pose 29 cm off; a packet it refused left the
    P-frames after it predicted from a missing picture. The picture FFmpeg flags corrupt (or
    none), and those predicted from it until the next keyframe, are now unreadable, naming why;
    the keyframe after them decodes as before."""
    from mast3r_ros.replay.rosbag.video import VideoDecoder, VideoPacket

    packets = _packets(gop=5)  # keyframes at 0, 5, 10
    damaged = 6
    packets[damaged] = (_damaged_copy(packets, damaged, flagged), False)
    decoder, fed = VideoDecoder(VIDEO), []
    for k, (data, key) in enumerate(packets):
        msg = _video_msg(COMPRESSED_VIDEO_TYPE, STAMPS[k], data, key)
        fed.append(decoder.feed(VideoPacket(msg, COMPRESSED_VIDEO_TYPE), k))
    assert [p.picture is None for p in fed] == [k in (6, 7, 8, 9) for k in range(N)]
    assert ("decoder found the packet damaged" if flagged else "decoder refused the packet") \
        in fed[damaged].error
    when = f"t={STAMPS[damaged] / 1e9:.6f} s"
    assert all(f"predicted from a damaged packet before it ({when})" in fed[k].error
               for k in (7, 8, 9))
    for k in (5, 10, 11):
        assert psnr(fed[k].picture.to_ndarray(format="rgb24"), PICTURES[k]) > 30, k


def test_the_base_topic_of_a_video_depth_transport_is_not_told_to_pass_it(tmp_path):
    """--depth-topic /cam/depth beside /cam/depth/ffmpeg was told 'pass --depth-topic
    /cam/depth/ffmpeg', which is then refused: depth is never read from video."""
    bag = video_bag(tmp_path / "bag", kind=FFMPEG_PACKET_TYPE, topic="/cam/depth/ffmpeg",
                    depth=False, raw_image=True)
    with pytest.raises(InputError, match="depth topic '/cam/depth' is not in") as err:
        BagSequence(bag, image_topic="/cam/color/image_raw", depth_topic="/cam/depth")
    assert "pass --depth-topic" not in str(err.value)


@pytest.mark.parametrize("kind", [COMPRESSED_VIDEO_TYPE, FFMPEG_PACKET_TYPE],
                         ids=["CompressedVideo", "FFMPEGPacket"])
def test_the_indexing_pass_deserializes_packets_up_to_the_first_keyframe_alone(tmp_path, kind):
    """After the first keyframe a packet's stamp is read from its bytes (`cdr_header`), as a
    depth message's after the first; the stamps and frames are the same."""
    bag = video_bag(tmp_path / "bag", kind=kind, drop=2)  # first keyframe: the 4th packet
    seq = BagSequence(bag, image_topic=VIDEO, depth_topic=DEPTH)
    assert seq._headers.read == (N - 2 - 4) + (N - 1)
    assert seq.stamps_ns.tolist() == STAMPS[5:]
    assert [f.stamp_ns for f in seq.frames_or_unreadable()] == STAMPS[5:]


@pytest.mark.parametrize("kind", [COMPRESSED_VIDEO_TYPE, FFMPEG_PACKET_TYPE],
                         ids=["CompressedVideo", "FFMPEGPacket"])
def test_a_bag_missing_a_keyframe_says_so_until_the_next_keyframe(tmp_path, kind):
    """Was: packet 5 (a keyframe) missing from the bag, FFmpeg gave no picture for 6-8 and the
    reader called them "a stream with B-frames", then read 9's picture (predicted from the
    missing ones) as the frame. Now 6-9 are unreadable frames saying a keyframe (or, with an
    FFMPEGPacket's pts, a packet) is missing; the keyframe at 10 reads as before."""
    bag = video_bag(tmp_path / "bag", kind=kind, missing=(5,))
    frames = list(BagSequence(bag, image_topic=VIDEO).frames_or_unreadable())
    stamps = [s for k, s in enumerate(STAMPS) if k != 5]
    assert [f.stamp_ns for f in frames] == stamps
    bad = [f for f in frames if getattr(f, "reason", None)]
    assert [f.stamp_ns for f in bad] == STAMPS[6:10]
    said = "FFMPEGPacket pts 4 -> 6" if kind == FFMPEG_PACKET_TYPE else "a keyframe lost"
    assert all(said in f.reason and "B-frames" not in f.reason for f in bad), bad[0].reason
    assert psnr(frames[-2].rgb, PICTURES[10]) > 30


def test_an_ffmpeg_packet_bag_missing_a_p_frame_makes_the_pictures_after_it_unreadable(tmp_path):
    """FFmpeg decodes the pictures after a lost P-frame from an older one and does not flag
    them: was, pictures 3 and 4 (packet 2 missing) read as the frames; the FFMPEGPacket pts
    (the encoder's frame count) skipping one now makes them unreadable until the keyframe."""
    bag = video_bag(tmp_path / "bag", kind=FFMPEG_PACKET_TYPE, missing=(2,))
    frames = list(BagSequence(bag, image_topic=VIDEO).frames_or_unreadable())
    assert [f.stamp_ns for f in frames] == [s for k, s in enumerate(STAMPS) if k != 2]
    bad = [f.stamp_ns for f in frames if getattr(f, "reason", None)]
    assert bad == STAMPS[3:5]
    assert "FFMPEGPacket pts 1 -> 3" in frames[2].reason
    kept = zip([0, 1, 5, 6], frames[:2] + frames[4:6])
    assert all(psnr(f.rgb, PICTURES[k]) > 30 for k, f in kept)
