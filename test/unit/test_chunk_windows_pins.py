"""`drawn._ChunkWindows` on a stand-in of rosbags' MCAP reader (its ``readers[i].storage
.storages[j].chunks``): which chunks a window hands rosbags, at the window's edges, and the
full list restored after. Left by the mutation audit of 2026-12-08 (the bag tests read through
it but would read the same messages from a list not narrowed)."""

from __future__ import annotations

from types import SimpleNamespace as NS

import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from mast3r_ros.replay.rosbag.drawn import _ChunkWindows  # noqa: E402


def _reader():
    chunks = [NS(message_start_time=a, message_end_time=a + 9) for a in (0, 10, 20)]
    storage = NS(chunks=chunks)
    return NS(readers=[NS(storage=NS(storages=[storage, NS(chunks=None)]))]), storage, chunks


@pytest.mark.parametrize("start, stop, kept", [(12, 13, [1]), (9, 10, [0]), (9, 11, [0, 1]),
                                               (19, 20, [1]), (20, 21, [2]), (0, 30, [0, 1, 2]),
                                               (100, 101, [0])])
def test_a_window_lists_the_chunks_meeting_it_and_the_whole_list_comes_back(start, stop, kept):
    """[start, stop) meets a chunk whose messages run [first, last] when first < stop and
    last >= start; a window meeting none lists the first chunk (an empty list would make
    rosbags scan the file); the storage without a chunk list is left as it is."""
    reader, storage, chunks = _reader()
    windows = _ChunkWindows(reader)
    with windows.narrowed(start, stop):
        assert storage.chunks == [chunks[i] for i in kept]
        assert reader.readers[0].storage.storages[1].chunks is None
    assert storage.chunks is chunks


def test_a_drawn_message_that_opens_its_mcap_chunk_is_found(tmp_path):
    """A heavy message (a point cloud) closes each chunk just before an image: each image is the
    first message of its chunk, which a window [t, t) would leave out (the frames then ended at
    the first image drawn)."""
    import numpy as np
    from rosbags.rosbag2 import StoragePlugin
    from test_bag_drawn_reads import CAM, DEPTH
    from test_rosbag import H, MS, RGB, TS, W, camera_info, compressed, image, pose, \
        tf_message, write_bag

    from mast3r_ros.replay.rosbag import BagSequence, drawn

    stamps = [k * 100 * MS for k in range(1, 7)]
    cloud = TS.types["std_msgs/msg/ByteMultiArray"]
    layout = TS.types["std_msgs/msg/MultiArrayLayout"](dim=[], data_offset=0)
    msgs = [("/tf_static", 0, tf_message([("base_link", "camera_optical", 0, np.eye(4))])),
            ("/cam/camera_info", 0, camera_info(50 * MS))]
    for k, t in enumerate(stamps):
        msgs += [("/points", t - 3, cloud(layout=layout, data=np.zeros(2**20, np.uint8))),
                 (CAM, t, compressed(t, "jpeg", RGB[..., ::-1])),
                 (DEPTH, t + 1, image(t, "16UC1", np.full((H, W), 1000, np.uint16))),
                 ("/tf", t + 2, tf_message([("map", "base_link", t, pose([0, 0, 0],
                                                                          [k, 0, 0]))]))]
    bag = write_bag(tmp_path / "bag", StoragePlugin.MCAP, msgs)
    seq = BagSequence(bag, image_topic=CAM, depth_topic=DEPTH, pose_frames="map:camera_optical")
    assert drawn.seeks_by_time(seq.path)
    frames = list(seq.frames_or_unreadable(iter([0, 2, 5])))
    assert [f.stamp_ns for f in frames] == [stamps[0], stamps[2], stamps[5]]
