"""`replay.map_build` values worked out by hand (mutation audit): the pose gap and depth ratio
merge-maps judges copies by, the ASMK inverted files it concatenates, which stores the merged
map keeps, merge-maps' refusals, and the resume bookkeeping of a build's encoding store."""

from __future__ import annotations

import json
import logging
import os
from types import SimpleNamespace

import numpy as np
import pytest

from mast3r_ros.core.asmk import AsmkIndex
from mast3r_ros.core.errors import InputError
from mast3r_ros.core.keyframes import write_map
from mast3r_ros.replay import map_build
from mast3r_ros.replay.synthetic import default_intrinsics

W, H = 32, 24
CAM = default_intrinsics(W, H)


def _rz(deg):
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    m = np.eye(4)
    m[:2, :2] = [[c, -s], [s, c]]
    return m


def _t(x, y=0.0, z=0.0):
    m = np.eye(4)
    m[:3, 3] = (x, y, z)
    return m


def _frames(poses):
    return [(np.random.default_rng(i).integers(0, 256, (H, W, 3), dtype=np.uint8), CAM, p,
             1000 + i, None) for i, p in enumerate(poses)]


def test_pose_gap_is_measured_in_the_first_poses_frame():
    # A: turned 90 deg about z at (1, 0, 0); B: unturned at (1, 0, 0). Same place: 0 m apart,
    # 90 deg apart (A^-1 B; A B^-1 would put them (1, -1, 0) = 1.414 m apart)
    t, r = map_build._pose_gap(_t(1) @ _rz(90), _t(1))
    assert t == pytest.approx(0.0, abs=1e-12) and r == pytest.approx(90.0)
    t, r = map_build._pose_gap(_rz(30), _rz(30) @ _t(0, 0.3, 0.4))
    assert t == pytest.approx(0.5) and r == pytest.approx(0.0, abs=1e-6)


def test_depth_ratio_is_other_over_kept_on_at_least_16_shared_pixels():
    kept = np.full((4, 4), 2.0, np.float32)
    other = np.full((4, 4), 3.0, np.float32)
    assert map_build._depth_ratio(kept, other) == pytest.approx(1.5)  # 16 pixels: judged
    other[0, 0] = np.nan
    assert map_build._depth_ratio(kept, other) is None  # 15 pixels: too few
    assert map_build._depth_ratio(kept, None) is None
    assert map_build._depth_ratio(kept, np.ones((4, 5), np.float32)) is None


def test_concatenated_asmk_index_renumbers_the_kept_images():
    # P: 3 images; word 0 holds images 0 (code 1), 2 (code 2); word 1 images 1 (3), 2 (4)
    p = AsmkIndex(np.array([0, 2, 4]), np.array([0, 2, 1, 2], np.int32),
                  np.array([[1], [2], [3], [4]], np.uint8), np.array([1, 1, 2], np.int32), 8,
                  "r")
    # Q: 2 images; word 0 holds image 1 (code 5); word 1 images 0 (6), 1 (7)
    q = AsmkIndex(np.array([0, 1, 3]), np.array([1, 0, 1], np.int32),
                  np.array([[5], [6], [7]], np.uint8), np.array([1, 2], np.int32), 8, "r")
    # P's image 1 dropped: P0 -> 0, P2 -> 1, Q0 -> 2, Q1 -> 3
    m = map_build._concat_asmk([p, q], [np.array([True, False, True]), np.array([True, True])])
    assert m.offsets.tolist() == [0, 3, 6]
    assert m.image_ids.tolist() == [0, 1, 3, 1, 2, 3]
    assert m.codes[:, 0].tolist() == [1, 2, 5, 4, 6, 7]
    assert m.words_per_image.tolist() == [1, 2, 1, 2]
    assert (m.dim, m.identity) == (8, "r")


def test_the_merged_map_keeps_the_stores_every_contributing_map_holds(caplog):
    a, b, c, d = ("ck", 224), ("ck", 512), ("x", 224), ("y", 224)
    keys = [[a, b, c], [b, a, d]]
    with caplog.at_level(logging.WARNING):
        assert map_build._held_by([0, 1], keys, ("A", "B"), "enc", "then") == [a, b]
    assert len(caplog.records) == 2  # c (B lacks it) and d (A lacks it)
    assert "enc x/224 of A are not in B" in caplog.records[0].getMessage()
    # B gives no keyframe (all copies of A's): A's stores are all kept
    assert map_build._held_by([0], keys, ("A", "B"), "enc", "then") == [a, b, c]


def test_merge_maps_refusals_before_reading(tmp_path):
    a = write_map(str(tmp_path / "a"), _frames([np.eye(4)]))
    b = write_map(str(tmp_path / "b"), _frames([_t(1)]))
    with pytest.raises(InputError, match=r"is map B: the merge would replace an input"):
        map_build.merge_maps(a, b, b, overwrite=True)
    with pytest.raises(InputError, match=r"^A and B are the same map"):
        map_build.merge_maps(a, a + "/", str(tmp_path / "c"))
    other = write_map(str(tmp_path / "o"), _frames([_t(2)]))
    man = os.path.join(other, "manifest.json")
    with open(man) as fh:
        m = json.load(fh)
    m["map_frame"] = "odom"
    with open(man, "w") as fh:
        json.dump(m, fh)
    with pytest.raises(InputError, match=r"are in different frames"):
        map_build.merge_maps(a, other, str(tmp_path / "c"))
    assert sorted(os.listdir(tmp_path)) == ["a", "b", "o"]


def test_a_rotated_copy_is_warned_about_even_beside_a_shifted_one(tmp_path, caplog):
    """Two copies of A's frames in B: one turned 5 deg in place (0 m, 5 deg), one moved 0.5 mm
    (0.0005 m, 0 deg). Each figure is judged on its worst copy: 0.0005 m is within 1 mm, but
    5 deg is far beyond 0.01 deg, so the maps are not in one frame."""
    poses = [np.eye(4), _t(1)]
    a = write_map(str(tmp_path / "a"), _frames(poses))
    b = write_map(str(tmp_path / "b"), _frames([poses[0] @ _rz(5), poses[1] @ _t(0.0005)]))
    with caplog.at_level(logging.WARNING):
        assert map_build.merge_maps(a, b, str(tmp_path / "c")) == 2
    warned = [r.getMessage() for r in caplog.records if "not in one frame" in r.getMessage()]
    assert len(warned) == 1 and "poses 0.0005 m / 5 deg apart" in warned[0], warned


def test_staging_records_what_it_encodes_and_resume_refuses_other_keyframes(tmp_path):
    info = {"identity": "ab", "image_size": 224, "images": ["s0", "s1"]}
    map_build._check_staging(str(tmp_path), info, resume=False)
    with open(tmp_path / "build.json") as fh:
        assert json.load(fh) == info
    map_build._check_staging(str(tmp_path), info, resume=True)  # the same build: fine
    # which keyframes it chose: the settings can be put back instead of hours of shards deleted
    with pytest.raises(InputError, match=r"encoded other keyframes: it chose 2, this run 3 \(1 "
                                         r"the same, in order\), so the source, --max-frames, "
                                         r"--trajectory or the map_build settings "
                                         r"\(--params\) differ .*; "
                                         r"resume with those, or rerun with --restart instead "
                                         r"of --resume to delete it and start over$"):
        map_build._check_staging(str(tmp_path), {**info, "images": ["s0", "s2", "s3"]},
                                 resume=True)
    with pytest.raises(InputError, match=r"encoded other keyframes or another checkpoint; "
                                         r"rerun with --restart instead of --resume to delete "
                                         r"it and start over$"):
        map_build._check_staging(str(tmp_path), {**info, "identity": "cd"}, resume=True)


def test_resume_refuses_shards_of_other_weights_with_the_same_sampled_id(tmp_path):
    """A checkpoint fine-tuned in a few values keeps the sampled id: --resume must not add its
    encodings to shards of the earlier weights. A build begun before the content id was
    recorded resumes as before."""
    info = map_build.staging_info("ab", 224, ["s0", "s1"], "c1")
    assert info["content_id"] == "c1"
    map_build._check_staging(str(tmp_path), info, resume=False)
    map_build._check_staging(str(tmp_path), info, resume=True)
    with pytest.raises(InputError, match=r"encoded other keyframes or another checkpoint"):
        map_build._check_staging(str(tmp_path), map_build.staging_info(
            "ab", 224, ["s0", "s1"], "c2"), resume=True)
    map_build._check_staging(str(tmp_path), map_build.staging_info("ab", 224, ["s0", "s1"], ""),
                             resume=False)  # a build.json of before
    map_build._check_staging(str(tmp_path), info, resume=True)


def test_finish_encodings_leaves_only_the_store(tmp_path):
    store = tmp_path / "encodings" / "ab_224"
    store.mkdir(parents=True)
    for name in ("chunk_000000.npy", "chunk_table.npy", "shard_000000.json",
                 "shard_000016.json", "build.json"):
        (store / name).write_text("")
    w = SimpleNamespace(tmp=str(tmp_path), encodings=[
        {"store": "encodings/ab_224"}, {"store": "encodings/gone_224"}])
    map_build.finish_encodings(w)
    assert sorted(os.listdir(store)) == ["chunk_000000.npy", "chunk_table.npy"]


def test_a_sift_build_does_not_need_the_configured_checkpoint():
    import dataclasses

    from mast3r_ros.core.config import Config
    from mast3r_ros.core.errors import CheckpointError

    cfg = Config()
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model,
                                                             checkpoint="/nonexistent/m.pth"))
    sift = dataclasses.replace(cfg, localizer=dataclasses.replace(cfg.localizer,
                                                                  matcher="sift"))
    map_build.check_build_files(sift, map_build.BuildOptions())  # encodes nothing: no check
    with pytest.raises(CheckpointError, match="m.pth"):
        map_build.check_build_files(cfg, map_build.BuildOptions())


def test_merge_over_a_folder_that_is_not_a_map_is_refused_in_the_clis_words(tmp_path):
    a = write_map(str(tmp_path / "a"), _frames([np.eye(4)]))
    b = write_map(str(tmp_path / "b"), _frames([_t(1)]))
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("mine")
    with pytest.raises(InputError, match=r"^--overwrite: .*notes is not an output of this "
                                         r"command \(it lacks manifest.json\)"):
        map_build.merge_maps(a, b, str(notes), overwrite=True)
    assert os.listdir(notes) == ["todo.txt"]


def test_a_device_this_machine_lacks_is_refused_before_the_source_is_read(monkeypatch):
    """build-map --device cuda on a CPU machine read the whole source and checked the map's
    keyframes (minutes on a bag) before the first encoding refused the device."""
    import dataclasses

    import torch

    from mast3r_ros.core.config import Config
    from mast3r_ros.core.errors import ConfigError
    from mast3r_ros.core.model import checkpoint

    from mast3r_ros.core.model import loaded_networks

    monkeypatch.setattr(checkpoint, "require_checkpoint", lambda path: None)
    monkeypatch.setattr(loaded_networks, "load_up_front", lambda path, device: None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cfg = Config()
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(
        cfg.model, checkpoint="/some/m.pth", device="cuda"))
    with pytest.raises(ConfigError, match="device 'cuda' requested but CUDA is not available"):
        map_build.check_build_files(cfg, map_build.BuildOptions())
    # Ray workers resolve the device on their own machines
    map_build.check_build_files(cfg, map_build.BuildOptions(ray_address="auto"))


def test_resume_with_an_unreadable_build_record_says_so(tmp_path):
    """A build.json emptied or cut by a hard stop was refused as 'encoded other keyframes or
    another checkpoint', which it may not have: the record is unreadable, and said so."""
    info = {"identity": "ab", "image_size": 224, "images": ["s0", "s1"]}
    map_build._check_staging(str(tmp_path), info, resume=False)
    for text, said in (("", "is unreadable (empty: a hard stop"),
                       ('{"identity": "ab", "ima', "is unreadable (Unterminated string")):
        (tmp_path / "build.json").write_text(text)
        with pytest.raises(InputError) as e:
            map_build._check_staging(str(tmp_path), info, resume=True)
        assert said in str(e.value) and "cannot be matched to this run" in str(e.value), e.value
        assert str(e.value).endswith("rerun with --restart instead of --resume to delete it "
                                     "and start over"), e.value


def test_a_merged_map_has_its_keyframes_plot_and_is_replaced_by_a_merge(tmp_path):
    """A merged map held no keyframes.png (a fleet maintainer looked for the plot to show): it
    now has one, as a built map does, and a later merge --overwrite still replaces the map."""
    a = write_map(str(tmp_path / "a"), _frames([np.eye(4)]))
    b = write_map(str(tmp_path / "b"), [(f[0], f[1], _t(5), 2000 + k, None)
                                        for k, f in enumerate(_frames([np.eye(4)]))])
    out = str(tmp_path / "c")
    map_build.merge_maps(a, b, out, force=True)
    png = os.path.join(out, "keyframes.png")
    with open(png, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    map_build.merge_maps(a, b, out, overwrite=True, force=True)
    assert os.path.isfile(png)
