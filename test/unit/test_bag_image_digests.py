"""The indexing pass took a CRC-32 of every colour image message's bytes to tell two at one
stamp apart (the same image recorded twice, or two different images): a quarter of the pass's
CPU on 640x480 images (docs/bench/bag_crc_cpu_2026-12-11d). Now only the images at a stamp
another image has get one, with the same verdicts."""

from __future__ import annotations

import zlib

from mast3r_ros.replay.rosbag.image_digests import RECENT, ImageDigests


def _values(items):
    d = ImageDigests()
    for raw, stamp in items:
        d.add(raw, stamp)
    return d.values


def test_only_images_at_a_repeated_stamp_are_digested(monkeypatch):
    calls = []
    real = zlib.crc32
    monkeypatch.setattr(zlib, "crc32", lambda raw, *a: calls.append(raw) or real(raw, *a))
    v = _values([(b"a", 10), (b"b", 20), (b"c", 30)])
    assert calls == [] and len(set(v)) == 3  # rising stamps: nothing taken, all told apart
    v = _values([(b"a", 10), (b"a", 10), (b"b", 20), (b"c", 20), (b"d", 0), (b"d", 0),
                 (b"e", None)])
    assert v[0] == v[1] == real(b"a")  # recorded twice: the same image
    assert v[2] != v[3]  # two images at one stamp
    assert len({v[4], v[5], v[6], v[0], v[2]}) == 5  # stamp 0 or none: each its own
    assert sorted(calls) == [b"a", b"a", b"b", b"c"]


def test_a_first_image_further_back_than_recent_counts_as_another_image():
    """Its bytes are gone: taken as different (no pose at that stamp), the careful side."""
    items = [(b"x", 10)] + [(bytes([i]), 100 + i) for i in range(RECENT)] + [(b"x", 10)]
    v = _values(items)
    assert v[0] != v[-1] and v[-1] == zlib.crc32(b"x") and v[0] < 0


def test_a_bag_index_takes_no_crc_of_images_at_their_own_stamps(tmp_path, monkeypatch):
    from test_shared_stamps import _bag

    from mast3r_ros.replay.rosbag import BagSequence
    from mast3r_ros.replay.rosbag.opening import _open_bag, numbered_messages

    bag = _bag(tmp_path / "bag", [1000, 1100, 1200, 1300])
    with _open_bag(bag) as reader:
        images = {bytes(m[-1]) for m in numbered_messages(
            reader, reader.topics["/cam/image_raw"].connections)}
    taken = []
    real = zlib.crc32
    monkeypatch.setattr(zlib, "crc32",
                        lambda raw, *a: taken.append(bytes(raw)) or real(raw, *a))
    BagSequence(bag, pose_frames="map:camera_optical", command="localize")
    assert len(images) == 4 and not images & set(taken)
