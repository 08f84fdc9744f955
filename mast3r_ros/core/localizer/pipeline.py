"""Metric 6-DoF localization of a camera frame against a keyframe map.

Per frame (`Localizer.localize`):

1. **Candidates.** With a pose guess (the caller's ``prior``, else its tracking ``hint``) the
   ``max_keyframes`` keyframes nearest to it in position and viewing direction within
   ``prior_radius_m``; without one (lost, first frame, a stale hint: ``hint_max_age_s``,
   ``force_global``) global retrieval
   (`GlobalRetrieval`, ``retrieval.method``): the ``retrieval_top_k`` most similar keyframes by
   MASt3R's ASMK retrieval model, the pooled encoder tokens or the weight-free thumbnail, searched
   through the map's `RetrievalIndex` / ASMK inverted file (re-ranked by match count where the
   matcher can do that cheaply: sift), of which the best one and its pose-nearest companions are
   kept (`retrieval.pose_consistent_subset`).
2. **Matching** through a pair matcher (`matchers.base.PairMatcher`): ``mast3r``
   (`matchers.mast3r.Mast3rMatcher`) or the weight-free ``sift`` baseline
   (`matchers.sift.SiftMatcher`).
3. **Fusion and pose.** The 2-D/3-D matches of all candidate keyframes are pooled into one
   PnP-RANSAC with the query intrinsics, refined on the inliers, with a 6x6 covariance
   (`pnp.solve_pnp`).
4. **Gates.** Minimum inliers, inlier ratio, reprojection RMS, and -- against a ``prior`` passed by
   the caller -- maximum jump in translation and rotation. A doubtful pose becomes
   ``success=False`` with a reason; expected failures are results, never exceptions.

**Warm-up.** `Localizer.from_config` (``localizer.warmup``) runs the whole path once per
keyframe-batch size before the first live frame (`Localizer.warmup`), so lazy initialisation
(kernels, autotuning, allocator growth, first solver calls, lazy imports) is paid at start-up;
then it loads every keyframe's matching data of a small map into the matcher's cache and runs
the query-camera check for the map's camera (`localizer.warm`: what the first frame still paid).

The localizer keeps no state between frames. Tracking (which pose to offer as the next frame's
``hint``, when the camera counts as lost) is the caller's, e.g. `core.tracker.Tracker`. A ``hint``
only chooses candidates; it is *not* used for the jump gate -- only a ``prior`` (odometry) is
trusted for that, so one wrong pose cannot lock out correct ones. When matching against the
hint's candidates fails and no prior was given, the frame is retried once with global retrieval.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..config import (Config, CovarianceConfig, LocalizerConfig, RetrievalConfig, ScaleConfig,
                      check_config_section)
from ..devices import apply_cpu_threads
from ..errors import ClosedError, ConfigError, InputError, MapFormatError, Mast3rRosError
from ..geometry import undistort_pixels
from ..keyframes import KeyframeMap
from ..matchers.base import add_time, sift_alternative
from ..model.given_as import FLAGS, GivenAs, speaking
from ..pnp import MIN_POINTS, PnPResult, UncertaintyModel, check_seed, solve_pnp
from ..pose_uncertainty import position_sigma_m
from ..retrieval import nearest_to_prior, pose_consistent_subset
from ..types import CameraIntrinsics, Correspondences, Frame, LocalizationResult
from .focal_run_gate import RunFocalGate
from .distortion_run_gate import RunDistortionGate
from .principal_point_run_gate import RunPrincipalPointGate
from .global_retrieval import GlobalRetrieval
from .matcher_factory import _image_size, _make_matcher
from .query_camera import remember_camera, warn_camera_mismatch
from .query_checks import (_checked_frame, _checked_pose, _warn_distortion_mismatch,
                           _warn_ignored_skew, focal_gate, shared_keyframes)
from .results import _match_debug, _no_match_reason, _pooled, gate_reason, inlier_median_depth
from .upright import down_axis_reason, map_down_axis
from .warm import camera_check_is_silent, long_walks_warmed, preload_keyframes, warm_pnp

log = logging.getLogger(__name__)

# a query camera whose fx, fy, cx, cy differ by more than this fraction of fx from those of
# every map keyframe of the same image size is warned about (`Localizer._check_query_camera`)
CAMERA_MISMATCH_REL = 0.03


class Localizer:
    """Localizes frames against a `KeyframeMap` (see the module docstring for the pipeline).

    ``engine`` is a `Mast3rEngine`, required when ``config.matcher == 'mast3r'``; the localizer
    owns it from then on (`close`, or the end of a ``with Localizer(...) as loc:`` block, closes
    both). ``image_size`` is the network input size (512, 384 or 224, `model.preprocess.SIZES`);
    the map's cached encodings are looked up for it and the engine's checkpoint. None (the
    default): the size the engine was configured for (``engine.image_size``, set by
    `Mast3rEngine.from_config`: ``model.image_size``), else 512. ``recompute_encodings``: a map
    without them gets them computed (`Mast3rMatcher`) instead of a `MapFormatError`, and stored
    into the map folder when it is writable (a cache, so that the next start loads them; a
    read-only map keeps them in memory). ``seed`` seeds the matcher's random ``max_matches``
    subsets and the PnP-RANSAC draws. ``retrieval`` configures `GlobalRetrieval`; ``retriever``
    is an already loaded ASMK retriever (else it is loaded from ``retrieval.checkpoint`` when
    needed). ``device_cache_mb`` (``scale.device_cache_mb``, MiB) bounds the mast3r matcher's
    device-side cache of keyframe encodings. ``given`` (`given_as`): how the user gives the
    checkpoint, for the fix a refusal names (the commands' --checkpoint; the node's parameter).

    Calls from several threads are safe and run one at a time: `localize`, `warmup` and
    `close` hold the localizer's lock (the matcher's caches and random stream are shared;
    two frames at once corrupted the sift feature cache's byte count). A `close` waits for a
    frame in progress. Localizers on several threads (two cameras) may share one `KeyframeMap`:
    its image and encoding caches are locked.

    Raises `ConfigError` (``config`` not a `LocalizerConfig`, e.g. the whole `Config`; a field
    of ``config`` or ``retrieval`` made in Python of the wrong type, not one of its choices or
    below its parameter's minimum (`config.check_config_section`), e.g. an unknown matcher; an
    ``image_size`` not an int in SIZES or not the engine's configured size, a ``seed`` not an
    integer 0 <= seed < 2**64, 'mast3r' without an engine, ``points_source`` 'depth' on a map
    without depth), `CheckpointError` (a checkpoint without a descriptor head), `InputError`
    (``kf_map`` not a `KeyframeMap`, e.g. its path; the sift matcher on a map without depth) and
    `MapFormatError` (no encodings for this checkpoint and size with ``recompute_encodings``
    off, or a bad retrieval index file).
    """

    def __init__(self, kf_map: KeyframeMap, config: LocalizerConfig, engine: Any = None, *,
                 image_size: Optional[int] = None, recompute_encodings: bool = True, seed: int = 0,
                 retrieval: RetrievalConfig = RetrievalConfig(), retriever: Any = None,
                 device_cache_mb: float = ScaleConfig().device_cache_mb,
                 given: GivenAs = FLAGS):
        self._lock = threading.RLock()  # one frame at a time (see the class docstring)
        if not isinstance(kf_map, KeyframeMap):
            raise InputError(f"Localizer takes a KeyframeMap (KeyframeMap.load(path)), got "
                             f"{type(kf_map).__name__}")
        if not isinstance(config, LocalizerConfig):
            raise ConfigError(f"Localizer takes the LocalizerConfig (cfg.localizer of a Config), "
                              f"got {type(config).__name__}")
        check_config_section(config, LocalizerConfig, "Localizer: config")  # made in Python?
        check_config_section(retrieval, RetrievalConfig, "Localizer: retrieval")
        image_size = _image_size(image_size, engine)
        self._map = kf_map
        self.config = config
        self.engine = engine
        self.seed = check_seed(seed, "Localizer: seed")
        self.matcher = _make_matcher(kf_map, config, engine, image_size, recompute_encodings,
                                     self.seed, device_cache_mb, given)
        self._poses = kf_map.poses()
        self._down = map_down_axis(self._poses)  # None: the keyframes agree on no "down"
        self.retrieval = GlobalRetrieval(kf_map, self.matcher, retrieval, engine, image_size,
                                         retriever)
        self.warmup_report: Dict[str, Any] = {}  # filled by `warmup`
        self._map_cameras: Optional[np.ndarray] = None  # `KeyframeMap.cameras`, on first use
        self._map_distortions: Optional[list] = None  # `KeyframeMap.distortions`, on first use
        self._cameras_checked: List[Tuple[Tuple[int, int], np.ndarray, str, np.ndarray]] = []
        self._focal_run = RunFocalGate()  # the run's frames' focal fits (focal_run_gate.py: why)
        self._pp_run = RunPrincipalPointGate()  # their principal point fits, likewise
        self._dist_run = RunDistortionGate(  # their distortion fits, with the map's own
            (kf_map.manifest.get("consistency") or {}).get("distortion"))

    @classmethod
    def from_config(cls, cfg: Config, map_path: Optional[str] = None, *,
                    recompute_encodings: bool = True, given: GivenAs = FLAGS) -> Localizer:
        """Load the map (and the checkpoint when the matcher is 'mast3r') named by a config.

        ``cfg`` is the whole `Config` (``config_from_params``), ``map_path`` the map folder
        (None: ``cfg``'s ``map_path`` parameter, as the node reads it); ``given``: how the user
        gives the checkpoint (`given_as`; the node: `PARAMETERS`), for the refusals' fixes,
        the network loader's own included (`given_as.speaking`).
        Raises `ConfigError` (also for a ``cfg`` that is not a `Config`), `CheckpointError`,
        `MapFormatError` or `InputError` (the sift matcher on a map without depth; any of them
        also from the warm-up) with what to fix.
        """
        with speaking(given):
            return cls._from_config(cfg, map_path, recompute_encodings, given)

    @classmethod
    def _from_config(cls, cfg: Config, map_path: Optional[str], recompute_encodings: bool,
                     given: GivenAs) -> Localizer:
        if not isinstance(cfg, Config):
            raise ConfigError(f"Localizer.from_config takes the whole Config "
                              f"(config_from_params(...)), got {type(cfg).__name__}")
        if map_path is None:  # was a TypeError, though the config names the map
            map_path = cfg.node.map_path
            if not map_path:
                raise ConfigError("Localizer.from_config: no map: pass map_path, or set the "
                                  "'map_path' parameter of the config")
        apply_cpu_threads(cfg.model.cpu_threads)
        kf_map = KeyframeMap.load(map_path, lazy=True, checkpoint_as=given.checkpoint,
                                  encoding_cache_mb=cfg.scale.encoding_cache_mb)
        mismatch = map_frame_mismatch(cfg.node.map_frame, kf_map)
        if mismatch:
            log.warning("%s", mismatch)
        check = kf_map.manifest.get("consistency") or {}
        if check.get("forced"):  # build-map --force over a failed check: say it at every start
            log.warning("map %s failed its consistency check and was written with --force: %s; "
                        "poses localized against it can be wrong by that much (mast3r-ros "
                        "check-map %s)", map_path, check.get("message", "?"), map_path)
        engine = None
        if cfg.localizer.matcher == "mast3r":
            from ..model.engine import Mast3rEngine

            # the map's camera fixes the network shape warmed up (compiled) or built
            # (TensorRT): the live camera is normally the one that recorded the map
            cam = kf_map.keyframe(0).intrinsics if len(kf_map) else None
            try:
                engine = Mast3rEngine.from_config(
                    cfg.model, warmup_batches=(1, cfg.localizer.max_keyframes),
                    camera_size=(cam.width, cam.height) if cam is not None else None)
            except ConfigError as e:
                raise ConfigError(f"matcher 'mast3r': {e}{sift_alternative(kf_map)}") from None
        try:
            loc = cls(kf_map, cfg.localizer, engine, image_size=cfg.model.image_size,
                      recompute_encodings=recompute_encodings, retrieval=cfg.retrieval,
                      device_cache_mb=cfg.scale.device_cache_mb, given=given)
        except BaseException:
            if engine is not None:
                engine.close()
            raise
        if cfg.localizer.warmup:
            try:
                loc.warmup()
            except Mast3rRosError:
                # the map or its data is bad (a corrupt encoding chunk, a keyframe image): the
                # first frame would fail the same way, so say so now and once, not as a warning
                loc.close()
                raise
            except Exception as e:  # noqa: BLE001  an optimisation: never worth refusing to start
                log.warning("localizer warm-up failed (%s: %s); the first frames may be slow",
                            type(e).__name__, e)
            except BaseException:
                loc.close()
                raise
        return loc

    # -- warm-up ----------------------------------------------------------------------------
    def warmup_batches(self) -> List[int]:
        """The keyframe counts whose frames the warm-up runs: one per keyframe-batch size the
        live path can decode (``1..max_keyframes``, capped by the map size, grouped by the
        engine's padded batch: a compiled engine pads to its warmed sizes, an eager one runs
        each count as it is -- a new shape for cuDNN autotuning and the allocator)."""
        n = min(int(self.config.max_keyframes), len(self._map))
        pad = getattr(self.engine, "_padded_batch", None)
        seen: Dict[int, int] = {}
        for k in range(1, n + 1):
            seen.setdefault(int(pad(k)) if pad is not None else k, k)
        return sorted(seen.values())

    def warmup(self) -> Dict[str, Any]:
        """Run the whole per-frame path once per keyframe-batch size, so that no lazy
        initialisation lands on the first live frame: the map's first keyframe (its image and
        intrinsics) as a query through inference, global retrieval and re-ranking, matching
        against 1..max_keyframes keyframes (`warmup_batches`), pooling, PnP-RANSAC, refinement,
        covariance and the gates (with the matching replayed as CUDA graphs, also the matching
        alone of every other keyframe count: one graph per count; with the Triton search each
        matching also runs its all-rounds branch for long walks once); then one PnP on a fabricated
        well-posed problem (the keyframe's matches may be too few for RANSAC to run, e.g. with
        random weights) and one undistortion (OpenCV is imported lazily). The matcher's random
        stream is restored afterwards, so later results do not depend on whether it ran.
        Last, the one-time costs the first live frame paid still (`localizer.warm`): every
        keyframe's matching data of a small map loaded into the matcher's cache, and the map
        camera's query-camera check.

        Returns ``{"keyframe_batches": [...], "preloaded_keyframes": int, "seconds": float}``
        (also in ``warmup_report``).
        `from_config` calls it when ``localizer.warmup`` is set. Raises `ClosedError` after
        `close`.
        """
        with self._lock:
            return self._warmup()

    def _warmup(self) -> Dict[str, Any]:
        self._require_open()
        t0 = time.perf_counter()
        batches = self.warmup_batches()
        if not batches:
            self.warmup_report = {"keyframe_batches": [], "preloaded_keyframes": 0,
                                  "seconds": 0.0}
            return self.warmup_report
        kf = self._map.keyframes[0]
        frame = Frame(self._map.image(0), kf.intrinsics, 0)
        rng = getattr(self.matcher, "rng", None)
        rng_state = rng.bit_generator.state if rng is not None else None
        try:
            state = self.matcher.query_state(frame)
            self._candidates(frame, state, None)  # retrieval index, descriptors, re-ranking
            with long_walks_warmed(self.matcher):  # warm.py: why
                for k in batches:
                    timings: Dict[str, float] = {}
                    cand = list(range(k))
                    corrs = self.matcher.correspond(frame, state, cand, timings)
                    self._pose(frame, cand, corrs, kf.map_from_cam, timings, False)
                for k in self._matching_only_batches(batches):
                    self.matcher.correspond(frame, state, list(range(k)), {})
            warm_pnp(frame, max(batches), self.config, self.seed,
                     _uncertainty(self.config.covariance))
        finally:
            if rng_state is not None:
                rng.bit_generator.state = rng_state
        preloaded = preload_keyframes(self.matcher, len(self._map))  # warm.py: why
        if camera_check_is_silent(kf.intrinsics):
            self._check_query_camera(kf.intrinsics)
        self.warmup_report = {"keyframe_batches": batches, "preloaded_keyframes": preloaded,
                              "seconds": time.perf_counter() - t0}
        log.info("warmed up the localizer for keyframe batches %s (%d keyframes preloaded) in "
                 "%.2f s", batches, preloaded, self.warmup_report["seconds"])
        return self.warmup_report

    def _matching_only_batches(self, batches: Sequence[int]) -> List[int]:
        """Keyframe counts the warm-up matches without a PnP: with the matching replayed as
        CUDA graphs (`matchers.fixed_matching.uses_cuda_graphs`) one graph is captured per count,
        so every count ``1..max_keyframes`` the engine's padding groups away is run once too
        (the decode replays its padded graph; cheap). Empty otherwise."""
        cfg = getattr(self.matcher, "cfg", None)
        device = getattr(self.engine, "device", None)
        if cfg is None or device is None or not hasattr(cfg, "cuda_graph"):
            return []
        from ..matchers.fixed_matching import uses_cuda_graphs

        if not uses_cuda_graphs(cfg, device):
            return []
        n = min(int(self.config.max_keyframes), len(self._map))
        return [k for k in range(1, n + 1) if k not in batches]

    @property
    def keyframe_map(self) -> KeyframeMap:
        """The map frames are localized against (`KeyframeMap.keyframe` for a match's record)."""
        return self._map

    def close(self) -> None:
        """Release the matcher's caches and the network (CUDA memory is given back). Any later
        `localize` or `warmup` raises `ClosedError`; a second ``close()`` does nothing."""
        with self._lock:  # after a frame in progress on another thread
            self._closed = True
            self.matcher.close()
            if self.engine is not None:
                self.engine.close()
                self.engine = None

    def __enter__(self) -> Localizer:
        """``with Localizer(...) as loc:``: the localizer itself, `close`d when the block ends."""
        return self

    def __exit__(self, *exc: Any) -> bool:
        """`close`; returns False, so an exception raised in the block propagates."""
        self.close()
        return False

    def _require_open(self) -> None:
        if getattr(self, "_closed", False):
            raise ClosedError("this Localizer is closed (close() released its network and "
                              "caches): create a new one (Localizer.from_config)")

    def keyframe_poses(self) -> np.ndarray:
        """(K, 4, 4) ``map_from_cam`` of the map's keyframes (for visualisation)."""
        return self._poses.copy()

    # -- localization -----------------------------------------------------------------------
    def _check_query_camera(self, cam: CameraIntrinsics) -> None:
        """Warn once per query camera whose intrinsics differ from those of every map keyframe
        of the same image size by more than `CAMERA_MISMATCH_REL` (of fx): the same camera
        calibrated twice, one of them wrong. A fresh user's query camera.yaml with fx 525
        instead of 585 localized every frame, 24 cm off with a 13x overconfident covariance,
        without a word. Cameras of another size are not compared (another camera, or resized).
        The distortion is compared too (`query_checks._warn_distortion_mismatch`); a camera is
        checked once per K and D."""
        if not remember_camera(self._cameras_checked, cam):
            return
        _warn_ignored_skew(cam)
        if self._map_distortions is None:
            self._map_distortions = self._map.distortions()
        _warn_distortion_mismatch(cam, self._map_distortions)
        if self._map_cameras is None:
            self._map_cameras = self._map.cameras()
        warn_camera_mismatch(cam, self._map_cameras, CAMERA_MISMATCH_REL)

    def recall(self, result: LocalizationResult,
               camera: Optional[CameraIntrinsics] = None) -> None:
        """Take a recorded result's fits into the run gates as `localize` took them (a resumed
        run's, `localize_frames`): its next frames are judged on the evidence a run in one go
        had (a fresh Localizer's gates started empty: refused frames were published).
        ``camera``: the recorded frame's intrinsics, which restart the run gates' evidence as
        `localize` does (a new calibration whose frames gave no fit). The result is not
        changed."""
        with self._lock:
            self._focal_run.judge(result, self.config.gates.max_focal_error)
            on = self.config.gates.max_focal_error > 0  # the distortion's: distortion_run_gate
            self._dist_run.judge(self._pp_run.judge(result, on, camera), on, camera)

    def localize(self, frame: Frame, prior: Optional[np.ndarray] = None,
                 force_global: bool = False, *, hint: Optional[np.ndarray] = None,
                 with_matches: bool = False) -> LocalizationResult:
        """Localize one frame.

        ``prior`` and ``hint`` are 4x4 float64 ``map_from_cam``: camera optical frame
        (REP-103) -> ``keyframe_map.map_frame``, not a ``base_link`` pose. ``prior`` is a
        trusted guess (e.g. from odometry): it chooses the candidate keyframes and gates the
        jump. ``hint`` (e.g. the tracker's last success) only chooses candidates, and a frame
        that fails with them is retried with global retrieval; it is ignored when a prior is
        given. ``force_global`` ignores both for the choice of candidates. With
        ``with_matches`` the result carries the matches behind it (`MatchDebug`) whenever PnP
        ran.

        Raises `InputError` for a frame without intrinsics or whose fields fail `Frame`'s
        checks (they are checked again: a Frame's ``rgb`` may have been replaced after it was
        made), a malformed prior or hint, or an
        image the network cannot take (too small or elongated; not the TensorRT engine's
        network shape); `MapFormatError` when a file of a lazily loaded map (keyframe image,
        encoding chunk, retrieval descriptors) fails verification on its first use, saying
        so when the map was replaced on disk after it was loaded. (Malformed
        intrinsics are refused earlier, when the `CameraIntrinsics` is made.) Expected
        failures (no candidates, too few matches or inliers, a gate) are results with
        ``success=False`` and a ``reason``. `ClosedError` after `close`.
        """
        with self._lock:
            try:
                return self._localize(frame, prior, force_global, hint, with_matches)
            except MapFormatError as e:  # a lazy read: "corrupt" when the map was replaced
                raise self._map.replaced_error(e) from None

    def _localize(self, frame: Frame, prior: Optional[np.ndarray], force_global: bool,
                  hint: Optional[np.ndarray], with_matches: bool) -> LocalizationResult:
        t_start = time.perf_counter()
        self._require_open()
        frame = _checked_frame(frame)  # a Frame's fields may have been replaced since it was made
        prior = _checked_pose(prior, "prior")
        hint = _checked_pose(hint, "hint")
        self._check_query_camera(frame.intrinsics)
        timings: Dict[str, float] = {}
        t0 = time.perf_counter()
        state = self.matcher.query_state(frame)
        timings["inference"] = time.perf_counter() - t0
        guess = None if force_global else (prior if prior is not None else hint)
        result, tried = self._attempt(frame, state, guess, prior, timings, with_matches)
        if not result.success and guess is not None and prior is None:
            retry, cand = self._attempt(frame, state, None, None, timings, with_matches,
                                        skip=tried)
            result = retry if cand else result
        result = self._focal_run.judge(result, self.config.gates.max_focal_error)
        on = self.config.gates.max_focal_error > 0
        result = self._dist_run.judge(self._pp_run.judge(result, on, frame.intrinsics), on,
                                      frame.intrinsics)
        timings["total"] = time.perf_counter() - t_start
        result.timings_s = timings
        return result

    def _attempt(self, frame: Frame, state: Any, guess: Optional[np.ndarray],
                 prior: Optional[np.ndarray], timings: Dict[str, float], with_matches: bool,
                 skip: Sequence[int] = ()) -> Tuple[LocalizationResult, List[int]]:
        """Match against candidates and solve; with ``skip``, candidates equal to it are not
        tried again (returns an empty candidate list)."""
        t0 = time.perf_counter()
        cand = self._candidates(frame, state, guess)
        add_time(timings, "retrieval", time.perf_counter() - t0)
        if skip and set(cand) == set(skip):
            return LocalizationResult.failure(frame.stamp_ns, "no new candidates"), []
        if not cand:
            return LocalizationResult.failure(frame.stamp_ns, "no candidate keyframes"), cand
        corrs = self.matcher.correspond(frame, state, cand, timings)
        result = self._pose(frame, cand, corrs, prior, timings, with_matches)
        need = max(MIN_POINTS, self.config.gates.min_inliers)  # features a pose can pass with
        if not result.success and result.num_matches < need:
            result.reason = _no_match_reason(self.matcher, state, result.reason, need,
                                             result.num_matches >= MIN_POINTS)
        return result, cand

    def _candidates(self, frame: Frame, state: Any, guess: Optional[np.ndarray]) -> List[int]:
        c = self.config
        if guess is not None:
            cand = nearest_to_prior(self._poses, guess, c.max_keyframes, c.prior_radius_m)
            if cand:
                return cand
        order = self.retrieval.rank(frame, state, c.retrieval_top_k)
        rerank = getattr(self.matcher, "rerank", None)
        if rerank is not None:
            order = rerank(frame, state, order)
        return pose_consistent_subset(order, self._poses, c.max_keyframes)

    def _pose(self, frame: Frame, cand: Sequence[int], corrs: List[Correspondences],
              prior: Optional[np.ndarray], timings: Dict[str, float],
              with_matches: bool) -> LocalizationResult:
        X = _pooled([c.points3d for c in corrs], (0, 3))
        x = _pooled([c.points2d for c in corrs], (0, 2))
        # the matcher's undistorted pixels (MASt3R: a per-camera table, core/grid_undistort.py)
        # when every pair has them; else solve_pnp undistorts x
        xu = (_pooled([c.points2d_undistorted for c in corrs], (0, 2))
              if corrs and all(c.points2d_undistorted is not None for c in corrs) else None)
        p, cv = self.config.pnp, self.config.covariance
        # 3-D covariances (NaN: exact), each point's keyframe: covariance, distortion fit only
        S = _pooled([c.points3d_cov if c.points3d_cov is not None
                     else np.full((len(c), 3, 3), np.nan) for c in corrs], (0, 3, 3))
        groups = (np.concatenate([np.full(len(c), k, np.int64) for k, c in enumerate(corrs)])
                  if corrs else np.zeros(0, np.int64))
        centres = self._poses[list(cand)][:, :3, 3] if len(cand) else np.zeros((0, 3))
        model = _uncertainty(cv)
        t0 = time.perf_counter()
        res = solve_pnp(X, x, frame.intrinsics, backend=p.backend,
                        reproj_error_px=p.reproj_error_px, max_iterations=p.max_iterations,
                        confidence=p.confidence, refine=p.refine, seed=self.seed,
                        ransac_max_points=p.ransac_max_points,
                        points_cov=S, groups=groups, group_centres=centres, uncertainty=model,
                        x_undistorted=xu)
        add_time(timings, "pnp", time.perf_counter() - t0)
        depth = inlier_median_depth(res.map_from_cam, X[res.inliers]) if res.success else np.nan
        # the worst axis's 1 sigma, once a frame: the gates' and the result's (/diagnostics)
        sigma = (position_sigma_m(res.covariance)
                 if res.success and res.covariance is not None else None)
        kw: Dict[str, Any] = dict(
            num_matches=len(X), num_inliers=res.num_inliers,
            keyframe_ids=tuple(int(c.keyframe_id) for c in corrs),
            inlier_ratio=res.num_inliers / max(len(X), 1), reproj_rms_px=res.reproj_rms_px,
            matches=_match_debug(x, cand, corrs, res.inliers) if with_matches else None,
            scene_depth_m=depth, position_sigma_m=sigma)
        reason = (res.reason if not res.success else
                  self._gate(res, len(X), prior, X, depth=depth, sigma=sigma))
        if not reason and self.config.points_from_depth:
            # points from measured depth: their angles are the keyframe camera's, so the focal
            # length the inliers fit is the query's (a pointmap's is the network's guess); the
            t0 = time.perf_counter()  # check's time is the pnp stage's
            cam, xu = frame.intrinsics, res.points2d_undistorted  # None: a result made by hand
            xu = undistort_pixels(x, cam.K, cam.dist, cam.distortion_model) if xu is None else xu
            kfs = (shared_keyframes(cam, self._map_distortions or (), self._poses,
                                    self._map.keyframe_index, kw["keyframe_ids"], groups)
                   if self.config.gates.max_focal_error > 0 else None)  # gate off: no fits
            want = self._dist_run.wants_fit(cam)  # settled: one frame in FIT_STRIDE
            reason, kw["focal_fit"] = focal_gate(
                self.config.gates.max_focal_error, cam, res.map_from_cam, X, xu, res.inliers,
                p.reproj_error_px, kfs, want, None if want else self._dist_run.run_fit())
            add_time(timings, "pnp", time.perf_counter() - t0)
        if reason:
            return LocalizationResult.failure(frame.stamp_ns, reason, **kw)
        return LocalizationResult(True, frame.stamp_ns, res.map_from_cam, res.covariance, **kw)

    def _gate(self, res: PnPResult, n: int, prior: Optional[np.ndarray],
              X: Optional[np.ndarray] = None, *, depth: Optional[float] = None,
              sigma: Optional[float] = None) -> str:
        """The first gate ``res`` fails ("" if none): `results.gate_reason` of ``gates``."""
        return (gate_reason(self.config.gates, res, n, prior, X, depth=depth, sigma=sigma)
                or down_axis_reason(self.config.gates.max_down_axis_deg, self._down,
                                    res.map_from_cam))


def _uncertainty(cv: CovarianceConfig) -> UncertaintyModel:
    """The covariance model of ``covariance.*`` (the query pixel noise estimated per frame)."""
    return UncertaintyModel(None, cv.map_pose_sigma_m, float(np.radians(cv.map_pose_sigma_deg)),
                            view_angle_sigma_ratio=cv.view_angle_sigma_ratio,
                            model_selection_draws=cv.model_selection_draws,
                            model_selection_depth_band=cv.model_selection_depth_band)


def map_frame_mismatch(map_frame: str, kf_map: KeyframeMap) -> Optional[str]:
    """The warning for a configured ``map_frame`` other than the one ``kf_map`` was built in
    (its manifest's), None when they agree. Not refused: REP-105 leaves the map frame's name
    to the user, and poses are published in the configured frame; but a map built for another
    frame is more often a mix-up (another robot's map, a parameter file of another site)."""
    if map_frame == kf_map.map_frame:
        return None
    return (f"map_frame is '{map_frame}' but the map {kf_map.path} was built in "
            f"'{kf_map.map_frame}': its poses are published as '{map_frame}'; if that is not "
            f"meant, set map_frame: '{kf_map.map_frame}' or use the map built for "
            f"'{map_frame}'")
