"""`check_keyframes` (check-map's loop over a written map) reads the next keyframe on a worker
thread while the current one is measured (`map_check._read_ahead`): its two PNG decodes beside
the previous keyframe's SIFT detection. The report is the same, errors surface at the keyframe
that has them, and the map is read by one thread at a time."""

from __future__ import annotations

import collections.abc
import threading

import pytest

import mast3r_ros.core.map_check as map_check
from mast3r_ros.core.config import Config
from mast3r_ros.core.errors import InputError
from mast3r_ros.core.map_check import KeyframeRecord, check_keyframes
from mast3r_ros.replay.synthetic import default_intrinsics, render_frames

CFG = Config().map_check


def _records(n=5):
    cam = default_intrinsics(160, 120)
    return [KeyframeRecord(f.rgb, f.depth_m, cam, f.map_from_cam, f.stamp_ns)
            for f in render_frames(40, cam, indices=range(0, 2 * n, 2))]


class _Logged(collections.abc.Sequence):
    """``records`` whose reads are logged (index, thread) and signalled."""

    def __init__(self, records, bad=None):
        self.records, self.bad = records, bad
        self.reads = []
        self.asked = [threading.Event() for _ in records]

    def __len__(self):
        return len(self.records)

    def __getitem__(self, i):
        self.reads.append((i, threading.current_thread().name))
        self.asked[i].set()
        if i == self.bad:
            raise InputError(f"keyframe {i} unreadable")
        return self.records[i]


def test_the_next_keyframe_is_read_on_a_worker_while_one_is_measured(monkeypatch):
    recs = _Logged(_records())
    seen = []
    add = map_check.KeyframeCheck.add

    def spy(self, record):  # measuring record i: record i + 1 is asked for meanwhile
        i = len(seen)
        seen.append(i)
        if i + 1 < len(recs):
            assert recs.asked[i + 1].wait(5.0), f"keyframe {i + 1} not read during {i}"
        add(self, record)
    monkeypatch.setattr(map_check.KeyframeCheck, "add", spy)
    rep = check_keyframes(recs, CFG)
    assert seen == list(range(len(recs)))
    assert [i for i, _ in recs.reads] == list(range(len(recs)))  # once each, in order
    assert all(name.startswith("map-check-read") for _, name in recs.reads)
    monkeypatch.setattr(map_check.KeyframeCheck, "add", add)
    plain = check_keyframes(list(recs.records), CFG)
    assert (rep.verdict, rep.summary().split(" in ")[0], rep.note) == (
        plain.verdict, plain.summary().split(" in ")[0], plain.note)
    assert [vars(p) for p in rep.pairs] == [vars(p) for p in plain.pairs]


def test_a_read_error_is_raised_at_its_keyframe_after_the_ones_before(monkeypatch):
    recs = _Logged(_records(), bad=3)
    added = []
    add = map_check.KeyframeCheck.add
    monkeypatch.setattr(map_check.KeyframeCheck, "add",
                        lambda self, r: added.append(r) or add(self, r))
    with pytest.raises(InputError, match="keyframe 3 unreadable"):
        check_keyframes(recs, CFG)
    assert len(added) == 3  # 0, 1, 2 measured; 4 never read
    assert [i for i, _ in recs.reads] == [0, 1, 2, 3]


def test_the_progress_bar_counts_the_keyframes_measured_not_the_reads_ahead(monkeypatch):
    """The bar wrapped the indices the worker was given, so it drew keyframe k + 1 (and
    said it done) while k was still being measured, and reached n/n before the last one."""
    recs, added, at_draw = _records(4), [], []
    add = map_check.KeyframeCheck.add
    monkeypatch.setattr(map_check.KeyframeCheck, "add",
                        lambda self, r: added.append(r) or add(self, r))

    def bar(it, total, desc):
        for item in it:
            if desc == "map check: keyframes":
                at_draw.append(len(added))
            yield item
    check_keyframes(recs, CFG, progress=bar)
    assert at_draw == [0, 1, 2, 3]  # the k-th drawn once k keyframes were measured


def test_a_keyframe_that_fails_its_check_leaves_no_reading_thread(monkeypatch):
    """A check that raises (a bad pose) ends the read-ahead at once: its worker thread is
    joined before the error reaches the caller, not left until the traceback is dropped."""
    def fail(self, record):
        raise ValueError("bad pose")
    monkeypatch.setattr(map_check.KeyframeCheck, "add", fail)
    with pytest.raises(ValueError, match="bad pose") as raised:
        check_keyframes(_Logged(_records(3)), CFG)
    assert raised.traceback  # the frames (and a generator not closed) still referenced
    assert not [t.name for t in threading.enumerate() if t.name.startswith("map-check-read")]
