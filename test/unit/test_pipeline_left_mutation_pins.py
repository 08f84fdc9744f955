"""Pins from mutation audit 06p on core/localizer/pipeline.py (the mutants earlier samples
left): the warm-up's reported duration and its matching-only counts, `close` of the engine,
`from_config`'s clean-up of a refused localizer and of a failed warm-up, the reason of a frame
with just enough correspondences, the query-camera check's 0.5 % and fx, a replaced map's
error, the focal check of a result without undistorted pixels. Fast: sift matcher, small maps,
no network (a stand-in engine where one is needed)."""

import dataclasses
import logging
import time
from types import SimpleNamespace

import numpy as np
import pytest

from mast3r_ros.core.config import Config, LocalizerConfig, ModelConfig
from mast3r_ros.core.errors import ClosedError, ConfigError, MapFormatError
from mast3r_ros.core.geometry import make_pose
from mast3r_ros.core.keyframes import KeyframeMap, write_map
from mast3r_ros.core.localizer import Localizer
from mast3r_ros.core.pnp import MIN_POINTS
from mast3r_ros.core.types import CameraIntrinsics, Frame, LocalizationResult
from mast3r_ros.replay.synthetic import default_intrinsics

CAM = default_intrinsics(64, 48)  # fx = fy = 52.5, cx = 31.5, cy = 23.5, no distortion


def _write(path, n, cam=CAM):
    rng = np.random.default_rng(0)
    kfs = [(rng.integers(0, 255, (cam.height, cam.width, 3), dtype=np.uint8), cam,
            make_pose(np.eye(3), [float(i), 0.0, 0.0]), 10 * i,
            np.full((cam.height, cam.width), 2.0, np.float32)) for i in range(n)]
    return write_map(str(path), kfs)


@pytest.fixture(scope="module")
def map_path(tmp_path_factory):
    return _write(tmp_path_factory.mktemp("left_pins") / "map", 2)


def _loc(path, **kw):
    return Localizer(KeyframeMap.load(path), LocalizerConfig(matcher="sift", **kw))


class _Engine:
    """A stand-in network: counts its closes."""

    def __init__(self, **attrs):
        self.closed = 0
        self.__dict__.update(attrs)

    def close(self):
        self.closed += 1


def test_the_warm_up_solves_each_batch_and_reports_its_own_duration(map_path, monkeypatch):
    """The warm-up runs PnP on the matches of each keyframe batch (the `_pose` call dropped:
    the first live frame paid for it), and warmup_report["seconds"] is its duration
    (`perf_counter() - t0` -> `+` reported the clock's reading plus t0)."""
    from mast3r_ros.core.localizer import pipeline

    solved = []
    solve = pipeline.solve_pnp
    monkeypatch.setattr(pipeline, "solve_pnp",
                        lambda X, *a, **kw: solved.append(len(X)) or solve(X, *a, **kw))
    loc = _loc(map_path)
    t0 = time.perf_counter()
    report = loc.warmup()
    call = time.perf_counter() - t0
    assert report["keyframe_batches"] == [1, 2] and len(solved) == 2, (report, solved)
    assert 0.0 <= report["seconds"] <= call, (report, call)


def test_close_closes_the_engine_once(map_path):
    """`close` closes the localizer's engine and forgets it: a second close does not close it
    again (engine.close() dropped: never closed; `self.engine = None` dropped: closed twice)."""
    loc = _loc(map_path)
    eng = _Engine()
    loc.engine = eng
    loc.close()
    assert eng.closed == 1 and loc.engine is None
    loc.close()
    assert eng.closed == 1
    rgb = np.zeros((48, 64, 3), np.uint8)
    with pytest.raises(ClosedError, match="this Localizer is closed"):  # `_closed = False`
        loc.localize(Frame(rgb, CAM, 5))


def _fail_with(loc, monkeypatch, num_matches, keypoints):
    """Make the next frame fail after PnP with ``num_matches`` correspondences and the query
    image count ``keypoints`` sift keypoints."""
    monkeypatch.setattr(loc, "_pose", lambda frame, *a: LocalizationResult.failure(
        frame.stamp_ns, "too few inliers (3 < 6)", num_matches=num_matches))
    monkeypatch.setattr(loc.matcher, "query_feature_count", lambda state: keypoints,
                        raising=False)
    rgb = np.random.default_rng(1).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    return loc.localize(Frame(rgb, CAM, 5)).reason


def test_a_failure_with_as_many_matches_as_needed_keeps_its_reason(map_path, monkeypatch):
    """Only a frame with fewer correspondences than needed is told about its query image's
    features: with exactly ``need`` the reason is PnP's as it is (`num_matches < need` ->
    `<=`)."""
    loc = _loc(map_path)
    need = max(MIN_POINTS, loc.config.gates.min_inliers)
    assert _fail_with(loc, monkeypatch, need, 3) == "too few inliers (3 < 6)"
    assert _fail_with(loc, monkeypatch, need - 1, 3) == (
        "too few inliers (3 < 6); the query image has 3 sift keypoints")


def test_a_failure_with_exactly_pnps_minimum_keeps_pnps_reason(map_path, monkeypatch):
    """MIN_POINTS correspondences let PnP run: its reason is kept (with the keypoint count),
    not replaced by 'too few features' (`num_matches >= MIN_POINTS` -> `>`)."""
    loc = _loc(map_path, gates=dataclasses.replace(LocalizerConfig().gates,
                                                   min_inliers=MIN_POINTS + 10))
    reason = _fail_with(loc, monkeypatch, MIN_POINTS, 3)
    assert reason == "too few inliers (3 < 6); the query image has 3 sift keypoints", reason
    assert _fail_with(loc, monkeypatch, MIN_POINTS - 1, 3).startswith(
        "too few features in the query image (3 < 16 sift keypoints, gates.min_inliers")


def _mast3r_config(**model):
    return dataclasses.replace(Config(), localizer=LocalizerConfig(matcher="mast3r"),
                               model=ModelConfig(**model))


def test_from_config_closes_the_engine_of_a_refused_localizer(map_path, monkeypatch):
    """A Localizer refused after its engine was made (here: image_size 512 but an engine
    configured for 224) closes that engine (`engine.close()` dropped: its CUDA memory stayed
    held until it was collected)."""
    from mast3r_ros.core.model.engine import Mast3rEngine

    eng = _Engine(image_size=224)
    monkeypatch.setattr(Mast3rEngine, "from_config", lambda model_cfg, **kw: eng)
    with pytest.raises(ConfigError, match="image_size 512 but the engine was configured for 224"):
        Localizer.from_config(_mast3r_config(image_size=512), map_path)
    assert eng.closed == 1


class _Stop(BaseException):
    pass


@pytest.mark.parametrize("error, refused", [(MapFormatError("chunk 3 is corrupt"), True),
                                            (_Stop(), True),
                                            (RuntimeError("out of luck"), False)])
def test_from_config_closes_and_raises_a_failed_warm_up_unless_it_is_only_slow(
        map_path, monkeypatch, caplog, error, refused):
    """A warm-up that fails on the map (a Mast3rRosError) or is interrupted closes the localizer
    and raises; any other failure only warns: the first frames may be slow (each `close`,
    `raise` and the warning dropped survived)."""
    closed = []
    monkeypatch.setattr(Localizer, "warmup", lambda self: (_ for _ in ()).throw(error))
    monkeypatch.setattr(Localizer, "close", lambda self: closed.append(self))
    cfg = dataclasses.replace(Config(), localizer=LocalizerConfig(matcher="sift", warmup=True))
    with caplog.at_level(logging.WARNING, logger="mast3r_ros.core.localizer"):
        if refused:
            with pytest.raises(type(error)):
                Localizer.from_config(cfg, map_path)
            assert len(closed) == 1
        else:
            loc = Localizer.from_config(cfg, map_path)
            assert closed == [] and loc.keyframe_map.lazy  # opened lazily, as from_config does
    warned = [r.getMessage() for r in caplog.records if "warm-up failed" in r.getMessage()]
    assert warned == ([] if refused else ["localizer warm-up failed (RuntimeError: out of "
                                          "luck); the first frames may be slow"])


def test_the_cuda_graph_warm_up_matches_the_counts_the_padding_groups_away(map_path,
                                                                           monkeypatch):
    """With the matching replayed as CUDA graphs and an engine that pads 1 and 2 keyframes to
    one batch, the warm-up localizes 1 keyframe and matches 2 alone (that correspond dropped:
    the first live frame with 2 candidates captured its graph)."""
    from mast3r_ros.core.matchers import fixed_matching

    monkeypatch.setattr(fixed_matching, "uses_cuda_graphs", lambda cfg, device: True)
    loc = _loc(map_path, max_keyframes=2)
    loc.engine = _Engine(device="cuda", _padded_batch=lambda k: 2)
    monkeypatch.setattr(loc.matcher, "cfg", SimpleNamespace(cuda_graph=True), raising=False)
    asked = []
    correspond = loc.matcher.correspond

    def spy(frame, state, cand, timings):
        asked.append(list(cand))
        return correspond(frame, state, cand, timings)

    monkeypatch.setattr(loc.matcher, "correspond", spy)
    assert loc.warmup()["keyframe_batches"] == [1]
    assert asked == [[0], [0, 1]]


def test_a_camera_within_half_a_percent_of_fx_of_one_checked_is_that_camera(map_path, caplog):
    """fx 200 then 201 (1 px, exactly 0.5 % of 200): one camera, warned about once (`<=` ->
    `<` warned twice)."""
    loc = _loc(map_path)
    cams = [CameraIntrinsics(64, 48, np.array([[f, 0, 31.5], [0, 52.5, 23.5], [0, 0, 1]]))
            for f in (200.0, 201.0)]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mast3r_ros.core.localizer"):
        for cam in cams:
            loc._check_query_camera(cam)
    assert sum("differs by" in r.getMessage() for r in caplog.records) == 1


def test_an_undistorted_camera_under_another_model_name_is_the_same_camera(map_path, caplog):
    """No coefficients under 'plumb_bob' or 'equidistant' is one undistorted camera: checked
    (and warned about, fx 60 against the map's 52.5) once (an undistorted camera recorded with
    one zero coefficient instead of none (`np.zeros(0)` -> `zeros(1)`) had its model name
    compared, and was warned about twice)."""
    loc = _loc(map_path)
    K = np.array([[60.0, 0, 31.5], [0, 60.0, 23.5], [0, 0, 1]])
    cams = [CameraIntrinsics(64, 48, K, None, m) for m in ("plumb_bob", "equidistant")]
    assert [c.distortion_model for c in cams] == ["plumb_bob", "equidistant"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mast3r_ros.core.localizer"):
        for cam in cams:
            loc._check_query_camera(cam)
    assert sum("differs by" in r.getMessage() for r in caplog.records) == 1


def test_the_camera_mismatch_is_a_fraction_of_the_map_cameras_fx(tmp_path, caplog):
    """A map camera of fx 100, fy 50: a query 2.5 px off in cx is 2.5 % of fx, under the 3 %
    warned about (the map camera's fy as the measure (`same[:, 2]` -> `[:, 3]`) said 5 %)."""
    K = np.array([[100.0, 0, 31.5], [0, 50.0, 23.5], [0, 0, 1]])
    loc = _loc(_write(tmp_path / "map", 1, CameraIntrinsics(64, 48, K)))
    near = CameraIntrinsics(64, 48, K + np.array([[0, 0, 2.5], [0, 0, 0], [0, 0, 0]]))
    far = CameraIntrinsics(64, 48, K + np.array([[0, 0, 4.0], [0, 0, 0], [0, 0, 0]]))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mast3r_ros.core.localizer"):
        loc._check_query_camera(near)
        loc._check_query_camera(far)
    msgs = [r.getMessage() for r in caplog.records if "differs by" in r.getMessage()]
    assert len(msgs) == 1 and "cx 35.5, cy 23.5) differs by 4 %" in msgs[0], msgs


def test_a_lazy_reads_map_error_is_raised(map_path, monkeypatch):
    """A MapFormatError of a lazy read during `localize` is raised (as the map's
    `replaced_error` of it), not swallowed (its `raise` dropped: localize returned None)."""
    loc = _loc(map_path)
    err = MapFormatError("keyframe 1's image is corrupt")

    def fail(*a):
        raise err

    monkeypatch.setattr(loc, "_localize", fail)
    rgb = np.random.default_rng(1).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    with pytest.raises(MapFormatError, match="keyframe 1's image is corrupt"):
        loc.localize(Frame(rgb, CAM, 5))


def test_the_focal_check_undistorts_the_pixels_of_a_result_without_them(tmp_path, monkeypatch):
    """A PnP result without its undistorted pixels (one made by hand) gets them from the
    matched pixels for the focal check, and localizes as with them (`xu is None` -> `is not
    None` handed the check None)."""
    import cv2

    from mast3r_ros.core.localizer import pipeline

    cam = default_intrinsics(160, 120)
    rng = np.random.default_rng(0)
    imgs = [cv2.resize(rng.integers(0, 255, (15, 20, 3), dtype=np.uint8), (160, 120),
                       interpolation=cv2.INTER_CUBIC) for _ in range(2)]  # smooth blobs
    kfs = [(imgs[i], cam, make_pose(np.eye(3), [float(i), 0.0, 0.0]), 10 * i,
            np.full((120, 160), 2.0, np.float32)) for i in range(2)]
    path = write_map(str(tmp_path / "map"), kfs)
    frame = Frame(imgs[0], cam, 5)
    ref = Localizer(KeyframeMap.load(path), LocalizerConfig(matcher="sift")).localize(frame)
    solve = pipeline.solve_pnp

    def by_hand(*a, **kw):
        res = solve(*a, **kw)
        res.points2d_undistorted = None
        return res

    monkeypatch.setattr(pipeline, "solve_pnp", by_hand)
    got = Localizer(KeyframeMap.load(path), LocalizerConfig(matcher="sift")).localize(frame)
    assert ref.success and got.success and ref.focal_fit is not None
    assert got.focal_fit == ref.focal_fit
    np.testing.assert_array_equal(got.map_from_cam, ref.map_from_cam)


def test_the_rotation_jump_gate_passes_a_turn_of_exactly_its_limit(map_path):
    """gates.max_jump_deg refuses a turn beyond it, not one of exactly it (`dr >
    g.max_jump_deg` -> `>=`; results.gate_reason): the limit is the turn's own angle, as
    pose_error measures it, so the comparison is exact; a limit under 1 deg is a limit
    (`g.max_jump_deg > 0` -> `> 1` turned it off)."""
    from scipy.spatial.transform import Rotation

    from mast3r_ros.core.geometry import pose_error
    from mast3r_ros.core.pnp import PnPResult

    turned = make_pose(Rotation.from_euler("y", 2, degrees=True).as_matrix(), [0, 0, 0])
    deg = pose_error(np.eye(4), turned)[1]
    gate = _loc(map_path, gates=dataclasses.replace(LocalizerConfig().gates, max_jump_m=1.0,
                                                    max_jump_deg=deg))._gate
    res = PnPResult(True, turned, np.ones(100, bool), 1.0, np.eye(6) * 1e-8)
    assert gate(res, 100, np.eye(4)) == ""
    back = make_pose(Rotation.from_euler("y", -0.5, degrees=True).as_matrix(), [0, 0, 0])
    assert gate(res, 100, back).startswith("jump from the prior too large (2.5 deg > 2.0 deg)")
    tight = _loc(map_path, gates=dataclasses.replace(LocalizerConfig().gates, max_jump_m=1.0,
                                                     max_jump_deg=0.5))._gate  # under 1 deg
    assert tight(res, 100, np.eye(4)).startswith("jump from the prior too large (2.0 deg > "
                                                 "0.5 deg)")


def test_the_network_size_is_the_given_one_else_the_engines_else_512():
    """`_image_size` (matcher_factory.py, audited whole here): the size given, else the
    engine's configured one, else 512, as a Python int (its `return int(image_size)` as
    `return None` or dropped survived every fast localizer test: a sift Localizer never reads
    it)."""
    from mast3r_ros.core.localizer.matcher_factory import _image_size

    assert _image_size(None, None) == 512
    assert _image_size(None, SimpleNamespace(image_size=224)) == 224
    got = _image_size(np.int64(384), None)
    assert got == 384 and type(got) is int


def test_the_warm_up_preloads_maps_of_up_to_64_keyframes():
    """warm.py's preload (audited here): a map of 64 keyframes gets every keyframe's matching
    data loaded, one of 65 none (PRELOAD_MAX_KEYFRAMES 64 -> 65 / 63 survived)."""
    from mast3r_ros.core.localizer.warm import preload_keyframes

    asked = []
    matcher = SimpleNamespace(preload=lambda ids: asked.append(list(ids)) or len(ids))
    assert preload_keyframes(matcher, 64) == 64 and asked == [list(range(64))]
    assert preload_keyframes(matcher, 65) == 0 and len(asked) == 1


@pytest.mark.parametrize("skew, silent", [(1.0, True), (1.1, False)])
def test_the_warm_up_calls_a_camera_silent_exactly_when_its_skew_check_is(caplog, skew, silent):
    """warm.camera_check_is_silent (audited here) is the skew check's own formula: a skew of
    1.0 moves a 640x480 camera's (fy 500, cy 239.5) pixels by 0.48 px, silent; 1.1 by 0.53 px,
    warned (its cy K[1, 2] read as fy K[1, 1] called the first not silent)."""
    from mast3r_ros.core.localizer.query_checks import _warn_ignored_skew
    from mast3r_ros.core.localizer.warm import camera_check_is_silent

    cam = CameraIntrinsics(640, 480, np.array([[500.0, skew, 319.5], [0, 500.0, 239.5],
                                               [0, 0, 1]]))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mast3r_ros.core.localizer"):
        _warn_ignored_skew(cam)
    assert camera_check_is_silent(cam) is silent
    assert (not caplog.records) is silent


@pytest.mark.parametrize("codebook, given", [("", None), ("words.pkl", "words.pkl")])
def test_asmk_retrieval_loads_the_configured_retriever(monkeypatch, codebook, given):
    """global_retrieval.py (its unsampled mutants, run here): without a retriever handed in,
    GlobalRetrieval loads retrieval.checkpoint's, with the codebook when one is configured
    (else None: the checkpoint's own) for the engine's encoder width and device (the loaded
    retriever not kept: an AttributeError; `cfg.codebook or None` -> `and` gave '' for none).
    The loader and the map are stand-ins: no checkpoint file is read."""
    from mast3r_ros.core.config import RetrievalConfig
    from mast3r_ros.core.localizer.global_retrieval import GlobalRetrieval
    from mast3r_ros.core.retrieval_model import AsmkRetriever

    loaded, asked = SimpleNamespace(identity="ret-id"), []
    monkeypatch.setattr(AsmkRetriever, "from_files",
                        lambda *a, **kw: asked.append((a, kw)) or loaded)
    # the configure check of the files (check_configured_retrieval, pinned in
    # test_check_params_parity) stands aside: no file exists here
    from mast3r_ros.core import retrieval_model
    monkeypatch.setattr(retrieval_model, "check_configured_retrieval",
                        lambda checkpoint, codebook: (checkpoint, codebook or None))
    asmk = SimpleNamespace(num_images=4, nbytes=1e6, device="cpu", to=lambda device: None)
    kf_map = SimpleNamespace(path="m", asmk_content_id=lambda *key: "",
                             load_asmk=lambda *key: asmk)
    engine = SimpleNamespace(device="cpu", identity="ckpt-id",
                             model=SimpleNamespace(spec=SimpleNamespace(enc_embed_dim=1024)),
                             info=SimpleNamespace(content_id="c-running"))
    cfg = RetrievalConfig(method="asmk", checkpoint="ret.pth", codebook=codebook)
    r = GlobalRetrieval(kf_map, SimpleNamespace(name="mast3r"), cfg, engine, 512)
    assert r.method == "asmk" and r.retriever is loaded and r.asmk is asmk
    assert asked == [(("ret.pth", given), {"enc_dim": 1024, "device": "cpu"})]
