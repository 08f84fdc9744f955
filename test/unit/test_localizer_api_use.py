"""The localizer as a Python library user drives it: a Frame reused for each new image, a
localizer shared by two threads, a prior given the wrong way. Small synthetic scene, sift."""

import copy
import threading

import numpy as np
import pytest

from mast3r_ros.core.config import GateConfig, LocalizerConfig, PnPConfig, RetrievalConfig
from mast3r_ros.core.errors import ClosedError, ConfigError, InputError, MapFormatError
from mast3r_ros.core.geometry import make_pose
from mast3r_ros.core.keyframes import KeyframeMap, write_map
from mast3r_ros.core.localizer import Localizer
from mast3r_ros.core.localizer.query_checks import _checked_pose
from mast3r_ros.core.types import Frame
from mast3r_ros.replay.synthetic import default_intrinsics

CAM = default_intrinsics(64, 48)


@pytest.fixture(scope="module")
def map_path(tmp_path_factory):
    rng = np.random.default_rng(0)
    kfs = [(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8), CAM,
            make_pose(np.eye(3), [0.1 * i, 0.0, 0.0]), 10 * i, np.full((48, 64), 2.0, np.float32))
           for i in range(3)]
    return write_map(str(tmp_path_factory.mktemp("api") / "map"), kfs)


def _frame():
    rng = np.random.default_rng(1)
    return Frame(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8), CAM, 5)


def test_a_frame_whose_fields_were_replaced_after_it_was_made_is_checked_again(map_path):
    """Frame and CameraIntrinsics check their fields when made only; a Frame reused for the
    next image (``frame.rgb = new``) was localized unchecked: a half-size image with the
    full-size K (a real kitchen frame) gave a pose 2.9 m off with success=True."""
    loc = Localizer(KeyframeMap.load(map_path), LocalizerConfig(matcher="sift"))
    f = _frame()
    f.rgb = np.ascontiguousarray(f.rgb[::2, ::2])  # 32x24, intrinsics for 64x48
    with pytest.raises(InputError, match="image is 32x24 but its intrinsics are for 64x48"):
        loc.localize(f)
    f = _frame()
    f.rgb = f.rgb.astype(np.float32)
    with pytest.raises(InputError, match=r"Frame.rgb must be \(H, W, 3\) uint8"):
        loc.localize(f)
    f = _frame()
    f.intrinsics = "K"
    with pytest.raises(InputError, match="Frame.intrinsics must be a CameraIntrinsics"):
        loc.localize(f)
    f = _frame()
    f.intrinsics = copy.copy(CAM)
    f.intrinsics.K = CAM.K.T  # transposed after the CameraIntrinsics was made
    with pytest.raises(InputError, match="looks transposed"):
        loc.localize(f)
    f = _frame()
    f.stamp_ns = 1.5  # seconds
    with pytest.raises(InputError, match="stamp_ns must be an integer number of nanoseconds"):
        loc.localize(f)
    ok = _frame()
    assert loc.localize(ok).stamp_ns == 5 and ok.intrinsics is CAM  # the caller's is untouched


def test_prior_errors_say_what_is_wrong():
    with pytest.raises(InputError, match=r"got shape \(3, 4\); append the row \[0, 0, 0, 1\]"):
        _checked_pose(np.eye(4)[:3], "prior")
    nan = np.eye(4)
    nan[0, 3] = np.nan
    with pytest.raises(InputError, match=r"not finite: nan at \[0, 3\]"):
        _checked_pose(nan, "prior")
    with pytest.raises(InputError, match="not rigid: .*determinant -1"):
        _checked_pose(np.diag([1.0, 1.0, -1.0, 1.0]), "hint")
    # localize(frame, True) meant force_global: it was a ValueError/'shape ()' before
    with pytest.raises(InputError, match="pass force_global=True by name"):
        _checked_pose(True, "prior")
    with pytest.raises(InputError, match="prior must be a finite 4x4 rigid transform"):
        _checked_pose("global", "prior")  # ValueError: could not convert string to float
    with pytest.raises(InputError, match="got object"):
        _checked_pose(object(), "hint")


def test_a_localizer_shared_by_two_threads_runs_one_frame_at_a_time(map_path, monkeypatch):
    """Two threads localizing with one sift localizer computed the same keyframe's features
    at once and both counted them: the cache's byte count doubled while it held one copy (a
    real kitchen map: 4.3 MB counted, 2.4 MB held; with a small cache it then held nothing).
    The localizer now serializes its calls; a close waits for the frame in progress."""
    loc = Localizer(KeyframeMap.load(map_path), LocalizerConfig(matcher="sift"))
    inside, overlap = [0], []
    real = loc.matcher.correspond

    def slow(*a, **kw):
        inside[0] += 1
        overlap.append(inside[0])
        threading.Event().wait(0.05)
        try:
            return real(*a, **kw)
        finally:
            inside[0] -= 1

    monkeypatch.setattr(loc.matcher, "correspond", slow)
    gate = threading.Barrier(3)
    errors = []

    def run():
        gate.wait()
        try:
            for _ in range(3):
                loc.localize(_frame(), force_global=True)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and max(overlap) == 1
    cache = loc.matcher._cache
    assert loc.matcher.cached_bytes == sum(v.nbytes for v in cache.values())
    # a close from another thread waits for the frame in progress (it used to release the
    # matcher, and a mast3r engine's weights, under it)
    entered, results = threading.Event(), []
    monkeypatch.setattr(loc.matcher, "correspond",
                        lambda *a, **kw: (entered.set(), threading.Event().wait(0.2),
                                          real(*a, **kw))[2])
    # whether the frame had finished when close released the matcher (the thread appends its
    # result only after localize let go of the lock, so `results` alone could not tell: it
    # raced close's return, and failed once in CI)
    frame_done, done_at_close = [], []
    real_inner, real_close = loc._localize, loc.matcher.close

    def inner(*a, **kw):
        r = real_inner(*a, **kw)
        frame_done.append(True)
        return r

    def matcher_close():
        done_at_close.append(bool(frame_done))
        real_close()

    monkeypatch.setattr(loc, "_localize", inner)
    monkeypatch.setattr(loc.matcher, "close", matcher_close)
    t = threading.Thread(target=lambda: results.append(loc.localize(_frame(),
                                                                    force_global=True)))
    t.start()
    assert entered.wait(30)
    loc.close()
    t.join(30)
    assert done_at_close == [True] and len(results) == 1 and not t.is_alive()
    with pytest.raises(ClosedError):
        loc.localize(_frame())


def test_a_map_rebuilt_in_place_under_a_running_localizer_is_named_as_such(tmp_path):
    """A map rebuilt at its path (build-map --overwrite) while a localizer held it lazily read
    as 'map file corrupt (checksum mismatch) ...; rebuild the map' -- of the map just rebuilt."""
    rng = np.random.default_rng(2)
    kfs = [(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8), CAM,
            make_pose(np.eye(3), [0.1 * i, 0.0, 0.0]), i, np.full((48, 64), 2.0, np.float32))
           for i in range(3)]
    path = write_map(str(tmp_path / "map"), kfs)
    loc = Localizer(KeyframeMap.load(path, lazy=True), LocalizerConfig(matcher="sift"))
    write_map(path, kfs[::-1], overwrite=True)
    with pytest.raises(MapFormatError, match="was replaced after this localizer opened it .*"
                       "restart the localizer"):
        loc.localize(_frame())
    # a file damaged under an unchanged manifest is still called corrupt
    loc = Localizer(KeyframeMap.load(path, lazy=True), LocalizerConfig(matcher="sift"))
    with open(f"{path}/keyframes/000000.png", "r+b") as fh:
        fh.seek(60)
        fh.write(b"\0" * 8)
    with pytest.raises(MapFormatError, match=r"^map file corrupt \(checksum mismatch\)"):
        loc.localize(_frame(), hint=make_pose(np.eye(3), [0.0, 0.0, 0.0]))


@pytest.mark.parametrize("kw, words", [
    (dict(max_keyframes=0), r"'max_keyframes' must be in \[1, 32\], got 0"),  # matched all
    (dict(max_keyframes=2.5), "'max_keyframes' must be int, got float 2.5"),  # TypeError deep
    (dict(matcher="sfit"), r"'matcher' must be one of \['mast3r', 'sift'\]"),
    (dict(prior_radius_m=-1.0), "'prior_radius_m' must be in"),
    (dict(gates={"min_inliers": 5}), "'gates' must be a GateConfig .*got dict"),  # AttributeError
    (dict(gates=GateConfig(min_inliers="5")), "'gates.min_inliers' must be int, got str"),
    (dict(pnp=PnPConfig(reproj_error_px=0)), r"'pnp.reproj_error_px' must be in \[0.1"),
])
def test_a_localizer_config_made_in_python_is_checked_as_parameters_are(map_path, kw, words):
    """LocalizerConfig(...) checks nothing when made; config_from_params does. Each of these
    was taken: max_keyframes=0 matched every keyframe in reach, 2.5 raised a TypeError from a
    slice, a dict for gates an AttributeError."""
    kf_map = KeyframeMap.load(map_path)
    with pytest.raises(ConfigError, match=f"^Localizer: config: .*{words}"):
        Localizer(kf_map, LocalizerConfig(**{"matcher": "sift", **kw}))
    with pytest.raises(ConfigError, match="^Localizer: retrieval: parameter 'retrieval.method'"):
        Localizer(kf_map, LocalizerConfig(matcher="sift"),
                  retrieval=RetrievalConfig(method="asmk2"))
    # only a parameter file's upper sanity bounds are not applied: 1e6 m is "no radius"
    Localizer(kf_map, LocalizerConfig(matcher="sift", prior_radius_m=1e6)).close()
