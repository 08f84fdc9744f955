"""The configuration schema: one frozen dataclass per section (`ModelConfig` ... `TrackingConfig`,
gathered in `Config`), every field declared once with `_f`: its default, description and valid
range, choices or pattern. `params` derives the ROS parameter names and validation from these
declarations.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional, Tuple

from ..image_stamp import IMAGE_STAMPS


def _f(default: Any, description: str, *, lo: Optional[float] = None, hi: Optional[float] = None,
       choices: Optional[Tuple[Any, ...]] = None,
       pattern: Optional[Tuple[str, str]] = None, fraction: bool = False,
       zero_or_at_least: Optional[Tuple[int, str]] = None) -> Any:
    """A config field; ``pattern``: (regular expression the whole string value must match, the
    valid values in words for the error); ``fraction``: the value is a fraction (0.05 is 5 %),
    which a range error says (a percentage typed as 5.0 is the likely mistake);
    ``zero_or_at_least``: (N, what 0 means): inside [lo, hi], 0 or at least N (a gap a ROS
    descriptor's range cannot say: it keeps [lo, hi], the description says the gap)."""
    meta = {"description": description, "lo": lo, "hi": hi, "choices": choices,
            "pattern": pattern, "fraction": fraction, "zero_or_at_least": zero_or_at_least}
    return dataclasses.field(default=default, metadata=meta)


# hint_max_age_s's range (seconds), said in its description from here
_HINT_AGE = (0.0, 3600.0)
# What `engine.resolve_device` is given: 'auto' or a CUDA/CPU torch device string.
DEVICE_PATTERN = (r"auto|cpu|cuda(:\d+)?", "auto, cpu, cuda or cuda:N (N a GPU index)")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The network: parameters without prefix (``checkpoint``, ``device``, ...). Direct
    construction is not validated; build it through `config_from_params` / `load_config_yaml`."""

    checkpoint: str = _f("", "MASt3R/DUSt3R checkpoint: official .pth, bare state dict, or a "
                             "Hugging Face folder (config.json + model.safetensors). Empty: no "
                             "network.")
    device: str = _f("auto", "Torch device: 'auto' (cuda when available), 'cpu', 'cuda' or "
                             "'cuda:N'.", pattern=DEVICE_PATTERN)
    precision: str = _f("fp16", "Autocast precision on CUDA; CPU always runs fp32.",
                        choices=("fp32", "fp16", "bf16"))
    image_size: int = _f(512, "Network input size: long edge for 512 and 384, square crop for "
                              "224.", choices=(512, 384, 224))
    compile: str = _f("none", "Captured inference for the fixed input size: 'none' (eager), "
                              "'default' (torch.compile) or 'reduce-overhead' (torch.compile with "
                              "CUDA graphs); compiled and warmed up when the engine is built.",
                      choices=("none", "default", "reduce-overhead"))
    backend: str = _f("torch", "Inference backend: 'torch', or 'tensorrt' (fp16 engines built "
                               "from the ONNX export on first use and cached on disk; needs the "
                               "tensorrt package and CUDA).", choices=("torch", "tensorrt"))
    engine_cache: str = _f("", "Folder of cached TensorRT engines; empty: "
                               "$XDG_CACHE_HOME/mast3r_ros/tensorrt, else "
                               "~/.cache/mast3r_ros/tensorrt.")
    cpu_threads: int = _f(0, "Threads of torch's and OpenCV's CPU work (the network and "
                             "matching on device 'cpu', SIFT, PnP); 0: the libraries' default, "
                             "one per core. Set it on a CPU shared with other nodes: busy "
                             "threads wait for each other. More than the cores the process may "
                             "run on is warned about when applied.", lo=0, hi=1024)


@dataclasses.dataclass(frozen=True)
class MatchingConfig:
    """MASt3R and SIFT matching: parameters ``matching.*``. Pixel counts are network-resolution
    pixels. Direct construction is not validated; build it through `config_from_params` /
    `load_config_yaml`."""

    subsample: int = _f(8, "Fast reciprocal matching: start every N network-resolution pixels "
                           "in the keyframe.",
                        lo=1, hi=64)
    max_iter: int = _f(10, "Fast reciprocal matching: maximum back-and-forth walks.", lo=1, hi=100)
    border_px: int = _f(3, "Drop matches within this many network-resolution pixels of either "
                           "image border.",
                        lo=0, hi=64)
    min_desc_conf: float = _f(1.001, "Drop matches whose min(desc_conf) is below this.",
                              lo=0.0, hi=1e6)
    min_pointmap_conf: float = _f(1.0, "Drop matches whose keyframe pointmap confidence "
                                       "(conf_1, always > 1) is below this; 1.0 keeps all.",
                                  lo=0.0, hi=1e6)
    max_matches: int = _f(5000, "Keep at most this many matches per keyframe (random subset).",
                          lo=10, hi=1000000)
    coarse_to_fine: bool = _f(False, "Refine matches on 512-px crops of full-resolution images.")
    nn_backend: str = _f("auto", "Fast reciprocal matching: nearest-neighbour search. 'auto': the "
                                 "fused Triton kernel on CUDA when Triton >= 3.0 is installed "
                                 "and passes a one-time self-test there, else 'torch' (tiled "
                                 "GEMM); 'triton' fails where it cannot run.",
                         choices=("auto", "torch", "triton"))
    cuda_graph: str = _f("auto", "Matching with the Triton search on CUDA: 'auto' replays the "
                                 "frame's whole matching (walks, filters, 3-D lookup) as one "
                                 "CUDA graph per keyframe count, captured at warm-up; 'off' "
                                 "runs it eagerly (same matches).",
                         choices=("auto", "off"))
    sift_ratio: float = _f(0.8, "SIFT baseline: Lowe ratio test threshold.", lo=0.1, hi=1.0)
    sift_max_features: int = _f(4000, "SIFT baseline: keypoints per image.", lo=100, hi=100000)


@dataclasses.dataclass(frozen=True)
class PnPConfig:
    """PnP-RANSAC and refinement (`core.pnp.solve_pnp`): parameters ``pnp.*``. Direct
    construction is not validated; build it through `config_from_params` / `load_config_yaml`."""

    backend: str = _f("auto", "PnP-RANSAC solver: poselib when installed ('auto'), else OpenCV "
                              "USAC_MAGSAC.", choices=("auto", "poselib", "opencv"))
    reproj_error_px: float = _f(5.0, "RANSAC inlier threshold in undistorted query-image "
                                     "pixels.",
                                lo=0.1, hi=100.0)
    max_iterations: int = _f(1000, "RANSAC iterations at most: 1000 find the pose with "
                                   "probability 0.9997 at 20 % inliers (1 - (1 - 0.2^3)^1000) "
                                   "and bound the time a hopeless frame costs.",
                             lo=10, hi=1000000)
    confidence: float = _f(0.9999, "RANSAC confidence.", lo=0.5, hi=0.999999)
    ransac_max_points: int = _f(512, "RANSAC hypothesises on a random subset of at most this "
                                     "many matches (0 = all); inliers, refinement and "
                                     "covariance use all of them. 0 or at least 4: 1 to 3 "
                                     "matches fail every frame (P3P needs 3, plus 1 to pick "
                                     "among its poses).", lo=0, hi=1000000,
                                zero_or_at_least=(4, "all"))
    refine: bool = _f(True, "Refine the pose on the inliers (Levenberg-Marquardt: damped "
                            "Gauss-Newton steps alternating with re-scoring, until the inlier "
                            "set is stable).")


@dataclasses.dataclass(frozen=True)
class GateConfig:
    """When a localized pose counts as a failure: parameters ``gates.*``. Direct construction
    is not validated; build it through `config_from_params` / `load_config_yaml`."""

    min_inliers: int = _f(30, "Fail frames with fewer PnP inliers.", lo=4, hi=100000)
    min_inlier_ratio: float = _f(0.15, "Fail frames with a lower inlier ratio.", lo=0.0, hi=1.0)
    max_reproj_rms_px: float = _f(4.0, "Fail frames whose inlier reprojection RMS is larger.",
                                  lo=0.01, hi=100.0)
    max_jump_m: float = _f(1.0, "Fail frames farther than this from the prior (0 disables).",
                           lo=0.0, hi=1000.0)
    max_jump_deg: float = _f(45.0, "Fail frames rotated more than this from the prior "
                                   "(0 disables).", lo=0.0, hi=180.0)
    max_position_sigma_m: float = _f(2.0, "Fail frames whose position uncertainty (1 sigma "
                                          "along the pose covariance's worst axis) is larger "
                                          "(0 disables; raise it for maps of far scenes, "
                                          "outdoors). The node gates the pose it publishes, "
                                          "base_frame's (the camera's sigma with the lever "
                                          "arm); the CLI, which has no base, gates the "
                                          "camera's.", lo=0.0, hi=1000.0)
    max_position_sigma_ratio: float = _f(
        0.5,
        "Fail frames whose position uncertainty (1 sigma along the worst axis, the camera's) "
        "is larger than this fraction of the inliers' median depth in the query camera (0 "
        "disables). Scale-free, unlike max_position_sigma_m. At 0.5 the 2-sigma region "
        "reaches the scene itself: the pose no longer says where the camera is relative to "
        "what it sees. A correctly matched frame's covariance stays below it: depth points (1 "
        "px, the map's 1 cm / 1 deg keyframe poses, 30 inliers over 3 keyframes) at most 0.10 "
        "at 0.3 m depth and 0.14 at 0.2 m (0.01-0.07 from 1 m on); MASt3R pointmap points at "
        "the confidence floor (1, sigma 20 % of their distance each) up to 0.46 with 30 "
        "inliers, 0.14 at confidence 3. Raise it for scenes under ~0.05 m or pointmap matches "
        "fewer than 30.",
        lo=0.0, hi=100.0)
    max_focal_error: float = _f(0.05, "Fail frames whose inliers fit a focal length off the "
                                      "camera's by more than this fraction, and by over 4 "
                                      "sigma (wrong intrinsics, a zoomed or cropped image: "
                                      "poses tens of cm off under a cm sigma); with 3-D points "
                                      "from depth only (sift, points_source depth); 0 "
                                      "disables.", lo=0.0, hi=10.0)
    max_down_axis_deg: float = _f(
        60.0,
        "Fail frames whose image-down axis (camera +y) is more than this many degrees from the "
        "map keyframes' common down direction: an upside-down or sideways image (a driver's "
        "flip or rotate setting, the camera mounted otherwise than when mapping), which SIFT "
        "localizes to a pose turned that much about the optical axis. Applies only when the "
        "keyframes agree on a down direction (their down axes' mean resultant length >= 0.8: a "
        "camera carried level, as on a robot); 0 disables (a camera that rolls, or one looking "
        "at the ceiling or floor, whose image turns with the robot).",
        lo=0.0, hi=180.0)


@dataclasses.dataclass(frozen=True)
class CovarianceConfig:
    """The pose covariance model (core/pnp package docstring, core/uncertainty.py), parameters
    ``covariance.*``. The depth
    and pointmap defaults come from the literature (cited per field); the keyframe pose error
    describes the map's trajectory and should be set for it: 1 cm / 1 deg is typical of RGB-D
    SLAM / KinectFusion trajectories (1-2 cm), and holds on the synthetic check (same error
    simulated) and on redkitchen (where 0.5 deg would cover only 86 % of rotation errors)."""

    keyframe_pixel_sigma_px: float = _f(1.0, "Keyframe keypoint noise of depth points, pixels "
                                             "(1 sigma per axis; the query's is estimated per "
                                             "frame from the residuals).", lo=0.0, hi=100.0)
    depth_sigma_k: float = _f(1.6e-3, "Depth noise sigma_z = k z^2 (1/m) of stored depth: "
                                      "Kinect-class sensors ~1.6e-3 (Khoshelham & Elberink "
                                      "2012).", lo=0.0, hi=1.0)
    pointmap_conf_alpha: float = _f(0.2, "MASt3R pointmap points: sigma = alpha * mean distance "
                                         "|p| of the pair's points to the keyframe camera / "
                                         "conf (the confidence-loss weight of training).",
                                    lo=0.0, hi=10.0)
    map_pose_sigma_m: float = _f(0.01, "Keyframe pose error of the map, metres (1 sigma per "
                                       "axis): the accuracy of the trajectory it was built "
                                       "with (RGB-D SLAM / KinectFusion: 1-2 cm).",
                                 lo=0.0, hi=10.0)
    map_pose_sigma_deg: float = _f(1.0, "Keyframe pose error of the map, degrees (1 sigma per "
                                        "axis).", lo=0.0, hi=90.0)
    view_angle_sigma_ratio: float = _f(0.0, "Pose error growing with the angle theta between "
                                            "the query's and its keyframes' rays to the inliers "
                                            "(mean, radians): a rotation of this many rad (1 "
                                            "sigma) per rad of theta about the axes across the "
                                            "line of sight, pivoting at the inliers' centroid "
                                            "(depth d), and a position sigma of ratio * theta * "
                                            "d in every direction. 0 disables.", lo=0.0, hi=1.0)
    model_selection_draws: int = _f(32, "Bootstrap re-runs of RANSAC and the refinement on the "
                                       "frame's matches resampled by 40 px image cells, on the "
                                       "frames whose inliers span a narrow depth band "
                                       "(model_selection_depth_band); the covariance's "
                                       "pixel-noise part becomes, direction by direction, the "
                                       "larger of itself and the spread of the poses they find "
                                       "about the published one, scaled up for the few draws "
                                       "(the uncertainty of which matches RANSAC took as "
                                       "inliers). Each draw costs about as much as the frame's "
                                       "own RANSAC and refinement. Fewer draws make the "
                                       "sigma depend more on the draws' random seed "
                                       "(redkitchen, median frame: 2.0x between seeds with "
                                       "8, 1.6x with 32). 0 disables.", lo=0, hi=256)
    model_selection_depth_band: float = _f(0.125, "The model_selection_draws run only on frames "
                                                  "whose inliers' depths z span (z90 - z10) / "
                                                  "(z90 + z10) below this: a narrow band, where "
                                                  "a turn and a sideways shift of the camera "
                                                  "look alike. 1 runs them on every frame, 0 on "
                                                  "none.", lo=0.0, hi=1.0)


@dataclasses.dataclass(frozen=True)
class LocalizerConfig:
    """The `Localizer`: parameters without prefix (``matcher``, ``max_keyframes``, ...) and its
    sections ``matching.*``, ``pnp.*``, ``gates.*``, ``covariance.*``. Direct construction is not
    validated; build it through `config_from_params` / `load_config_yaml`."""

    matcher: str = _f("mast3r", "Matcher: 'mast3r' (needs a checkpoint) or the weight-free "
                                "'sift' baseline.", choices=("mast3r", "sift"))
    max_keyframes: int = _f(2, "Keyframes matched per frame.", lo=1, hi=32)
    retrieval_top_k: int = _f(5, "Global retrieval: candidates ranked before the final choice.",
                              lo=1, hi=100)
    prior_radius_m: float = _f(3.0, "While tracking, candidate keyframes lie within this radius "
                                    "of the prior.", lo=0.0, hi=1000.0)
    points_source: str = _f("pointmap", "3-D points from MASt3R's predicted metric pointmap or "
                                        "from the keyframe's stored depth.",
                            choices=("pointmap", "depth"))
    max_scale_error: float = _f(0.25, "With depth points: fail if the robust pointmap/depth scale "
                                      "differs from 1 by more than this.", lo=0.0, hi=10.0)
    lost_after_failures: int = _f(3, "Tracking is lost (global retrieval, no prior) after this "
                                     "many consecutive failed frames.", lo=1, hi=1000)
    hint_max_age_s: float = _f(1.0, "While tracking, the last good pose chooses the candidate "
                                    "keyframes only while it is at most this old (seconds of "
                                    "image stamps); an older one (a stride, a slow frame rate, "
                                    "an outage) gives way to global retrieval. "
                                    f"{_HINT_AGE[0]:g} to {_HINT_AGE[1]:g} s; 0: any age.",
                               lo=_HINT_AGE[0], hi=_HINT_AGE[1])
    warmup: bool = _f(True, "At start-up run the whole per-frame path (inference, matching, "
                            "PnP, covariance, retrieval) once per keyframe-batch size, so the "
                            "first live frame is not the slow one.")
    matching: MatchingConfig = dataclasses.field(default_factory=MatchingConfig)
    pnp: PnPConfig = dataclasses.field(default_factory=PnPConfig)
    gates: GateConfig = dataclasses.field(default_factory=GateConfig)
    covariance: CovarianceConfig = dataclasses.field(default_factory=CovarianceConfig)

    @property
    def points_from_depth(self) -> bool:
        """The 3-D points come from keyframe depth (the sift matcher, or points_source
        'depth'), not from MASt3R's predicted pointmaps."""
        return self.matcher == "sift" or self.points_source == "depth"


@dataclasses.dataclass(frozen=True)
class MapBuildConfig:
    """Keyframe selection of ``build-map``: parameters ``map_build.*``. Direct construction is
    not validated; build it through `config_from_params` / `load_config_yaml`."""

    min_translation_m: float = _f(0.3, "New keyframe after this much travel.", lo=0.0, hi=100.0)
    min_rotation_deg: float = _f(20.0, "New keyframe after this much rotation.", lo=0.0, hi=180.0)


# Map check defaults, measured (core/map_check/) on real Kinect v1 data (7-Scenes redkitchen,
# map and query halves, 11 and 12 keyframes, evaluation only) and on the synthetic cases:
#   depth residual per pair: real median 0.8 %, worst 2.0 %; wrong unit / pose mistakes 8-30 %
#   depth agreeing (5 % tolerance): real median 89 %, worst 75 %; mistakes 0-20 %
#   match reprojection: real median 16-21 px, worst 29 px at 640 px wide (4.5 %: the dataset's
#   colour camera is not the depth camera's f = 585, with f = 525 it is 7 px); synthetic clean
#   0.8 px at 320; x10 depth 25-75 px at 320, pose mistakes 80-170 px at 240.
# So: residual <= 5 % (2.5x the worst real pair), agreeing >= 50 %, reprojection <= 8 % of the
# image width (51 px at 640, 1.8x the worst real pair). A 10 cm / 5 deg pose jump is caught.


@dataclasses.dataclass(frozen=True)
class MapCheckConfig:
    """The pose/depth consistency check of ``build-map`` (`core.map_check`): parameters
    ``map_check.*``. Direct construction is not validated; build it through
    `config_from_params` / `load_config_yaml`."""

    enabled: bool = _f(True, "build-map: check that neighbouring keyframes' poses and depth agree "
                             "before writing the map (refused when they do not, unless --force).")
    neighbours: int = _f(2, "Compare each keyframe with the next N keyframes in recording order.",
                         lo=1, hi=10)
    work_width: int = _f(320, "Images are downsampled to at most this width (px) for the check.",
                         lo=64, hi=4096)
    depth_stride_px: int = _f(6, "Depth check: every N-th working pixel is reprojected.",
                              lo=1, hi=64)
    depth_tolerance: float = _f(0.05, "Depth check: a point agrees when its predicted depth is "
                                      "within this fraction of the neighbour's depth.",
                                lo=0.001, hi=1.0, fraction=True)
    max_depth_residual: float = _f(0.05, "A pair disagrees when the median relative depth "
                                         "residual is larger (a fraction: 0.05 is 5 %).",
                                   lo=0.001, hi=1.0, fraction=True)
    min_depth_agree: float = _f(0.5, "A pair disagrees when a smaller fraction of its depth "
                                     "points agrees.", lo=0.0, hi=1.0, fraction=True)
    min_depth_points: int = _f(200, "Depth check: fewer overlapping points leave it unjudged.",
                               lo=1, hi=1000000)
    max_features: int = _f(500, "Match check: ORB features per image (SIFT's too, where ORB "
                                  "has too few matches).", lo=50, hi=100000)
    ratio: float = _f(0.8, "Match check: Lowe ratio test threshold.", lo=0.1, hi=1.0)
    min_matches: int = _f(20, "Match check: fewer verified matches with depth leave it unjudged.",
                          lo=8, hi=100000)
    sift_fallback: bool = _f(True, "Match check: match SIFT features where ORB leaves fewer than "
                                   "min_matches (low texture); false: ORB only, those pairs judged "
                                   "by depth alone (faster on large maps).")
    max_reproj_frac: float = _f(0.08, "A pair disagrees when its matches' median reprojection "
                                      "error is larger than this fraction of the image width.",
                                lo=0.001, hi=1.0, fraction=True)


@dataclasses.dataclass(frozen=True)
class PoseAtStampConfig:
    """The one rule for "the pose at this image stamp" in the offline tools (ground truth,
    --trajectory, --groundtruth, tf in bags); see `mast3r_ros.core.trajectory`. Parameters
    ``pose_at_stamp.*``. Checked when made (`ConfigError` naming the parameter): it is made in
    Python for the readers."""

    tolerance_s: float = _f(0.02, "Pose at an image stamp (ground truth, trajectory files, tf in "
                                  "bags): else the nearest sample within this many seconds.",
                            lo=0.0, hi=10.0)
    max_gap_s: float = _f(0.1, "Pose at an image stamp: interpolated (linear, slerp) between two "
                               "samples at most this many seconds apart (a tf edge: or 2.5x its "
                               "own median sample spacing, one lost message, when longer).",
                          lo=0.0, hi=3600.0)

    def __post_init__(self) -> None:
        # made in Python and handed to the readers (TumSequence, BagSequence) and the replay
        # tools directly: NaN, inf, text or a bool got past or failed deep inside (float NaN
        # to integer); checked as `check_config_section` checks a section (type, finite,
        # minimum), with a ConfigError naming the parameter
        from .params import validate_param  # params imports this module
        for f in dataclasses.fields(self):
            value = validate_param(f"pose_at_stamp.{f.name}", getattr(self, f.name),
                                   "PoseAtStampConfig", check_max=False)
            object.__setattr__(self, f.name, value)  # np.float32(0.1) -> 0.1, 1 -> 1.0


@dataclasses.dataclass(frozen=True)
class ScaleConfig:
    """Large maps (issue 11): retrieval index, lazily read encodings, parallel map building.
    Parameters ``scale.*``."""

    index_type: str = _f("ivf", "Approximate retrieval index used from approx_threshold "
                                "keyframes on (FAISS; exact numpy search without faiss).",
                         choices=("ivf", "hnsw"))
    approx_threshold: int = _f(20000, "Keyframes from which retrieval uses the approximate "
                                      "index; below it, exact inner product.", lo=1, hi=10 ** 9)
    nprobe: int = _f(16, "IVF index: inverted lists searched per query.", lo=1, hi=65536)
    hnsw_m: int = _f(32, "HNSW index: graph degree.", lo=4, hi=256)
    ef_search: int = _f(128, "HNSW index: candidates explored per query.", lo=8, hi=65536)
    rerank_factor: int = _f(4, "Approximate index: re-score this many times top-k candidates "
                               "exactly.", lo=1, hi=1000)
    encoding_cache_mb: float = _f(1024.0, "Host-side LRU cache of keyframe encodings (MiB; "
                                          "the sift matcher: of its keyframe features).",
                                  lo=0.0, hi=1e7)
    device_cache_mb: float = _f(256.0, "Device-side LRU cache of the candidate keyframes' "
                                       "encodings (MiB; 0 copies them to the device every "
                                       "frame). float16 as stored: 1.5 MiB per keyframe at 512 "
                                       "with ViT-L, so 256 MiB holds 170.", lo=0.0, hi=1e7)
    chunk_size: int = _f(4, "Keyframes per encoding file written by build-map (a file's "
                            "checksum is verified on its first use: small files, small stalls).",
                         lo=1, hi=100000)


@dataclasses.dataclass(frozen=True)
class RetrievalConfig:
    """Which global retrieval finds candidate keyframes when there is no pose guess (issue 12).
    Parameters ``retrieval.*``."""

    method: str = _f("auto", "Retrieval when lost or without a prior: 'asmk' (MASt3R's retrieval "
                             "model, needs retrieval.checkpoint and a map built with it), "
                             "'pooled' (mean encoder token), 'thumbnail' (weight-free); 'auto' = "
                             "asmk when possible, else the matcher's own (mast3r: pooled, sift: "
                             "thumbnail).", choices=("auto", "asmk", "pooled", "thumbnail"))
    checkpoint: str = _f("", "MASt3R retrieval checkpoint (*_retrieval_trainingfree.pth); empty: "
                             "no ASMK retrieval.")
    codebook: str = _f("", "ASMK codebook (*_retrieval_codebook.pkl); empty: beside the "
                           "retrieval checkpoint, named as the reference does.")
    device: str = _f("auto", "Where the map's ASMK inverted file is scored: 'auto' = the "
                             "engine's device (on a GPU it is copied there, ~3.9 GB at 1e5 "
                             "keyframes), 'cpu' = kept in host RAM and scored there (a Jetson's "
                             "shared memory; 30-70 ms at 1e5). The retrieval head and codebook "
                             "stay on the engine's device.", choices=("auto", "cpu"))


@dataclasses.dataclass(frozen=True)
class NodeConfig:
    """The ROS node's map, frames, TF and image subscription: parameters without prefix.
    Direct construction is not validated; build it through `config_from_params` /
    `load_config_yaml`."""

    map_path: str = _f("", "Keyframe map folder written by `mast3r-ros build-map`.")
    map_frame: str = _f("map", "Global frame of the keyframe map.")
    odom_frame: str = _f("odom", "Odometry frame; empty publishes map->base_frame directly.")
    base_frame: str = _f("base_link", "Robot base frame whose pose is published.")
    publish_tf: bool = _f(True, "Broadcast map->odom (or map->base_frame) on TF.")
    two_d_mode: bool = _f(False, "Publish the pose and TF in the plane, as AMCL does: x, y and "
                                 "yaw of base_frame in map_frame with z, roll and pitch zero "
                                 "(ground robots on a 2-D Nav2 map); the covariance keeps its x, "
                                 "y and yaw entries. Localization itself stays 6-DoF.")
    transform_tolerance: float = _f(0.1, "Future-date the TF by this many seconds (as AMCL): a "
                                         "lookup at time t reads the map->odom broadcast about "
                                         "this long before t, so each correction reaches TF "
                                         "users this late; keep it just above 1 / "
                                         "tf_publish_rate (0.1-0.2 s), not AMCL's 1.0.",
                                    lo=0.0, hi=10.0)
    tf_publish_rate: float = _f(20.0, "Re-broadcast the last TF at this rate (Hz).",
                                lo=0.1, hi=1000.0)
    tf_timeout_s: float = _f(0.1, "Wait this long for TF at the image stamp (a frame's two "
                                  "lookups in all).", lo=0.0, hi=5.0)
    image_transport: str = _f("raw", "Subscribe to sensor_msgs/Image ('raw' on image), "
                                     "CompressedImage ('compressed', image/compressed) or video "
                                     "decoded with PyAV: ffmpeg_image_transport's FFMPEGPacket "
                                     "('ffmpeg', image/ffmpeg), Foxglove's CompressedVideo "
                                     "('foxglove', image/foxglove).",
                              choices=("raw", "compressed", "ffmpeg", "foxglove"))
    image_reliability: str = _f("best_effort", "QoS reliability of the image subscription "
                                               "(CameraInfo: always best effort).",
                                choices=("best_effort", "reliable"))
    image_rectified: bool = _f(False, "The image topic is rectified (image_proc's image_rect, "
                                      "image_rect_color): its intrinsics are the CameraInfo's "
                                      "P with no distortion, not K and D (monocular "
                                      "rectification only).")
    image_stamp: str = _f("header", "Each image's time: 'header' = its header.stamp; "
                                    "'receive' = when it arrived (the node clock's now in the "
                                    "image callback; a bag: its receive time), for a camera "
                                    "stamping with its own clock. Receive time adds the "
                                    "transport latency to each image's time.",
                          choices=IMAGE_STAMPS)
    max_image_age_s: float = _f(1.0, "Drop images older than this when processing starts, "
                                     "and refuse images stamped further ahead of the node "
                                     "clock (0 disables both).", lo=0.0, hi=60.0)
    max_image_pixels: int = _f(8294400, "Refuse images with more pixels than this (width x "
                                        "height), before decoding; the default is 4K UHD.",
                               lo=4096, hi=100000000)
    publish_debug_image: bool = _f(False, "Publish ~/matches, a picture of the matches.")
    bond_heartbeat_period: float = _f(0.1, "Nav2 bond: heartbeat period in seconds on the "
                                           "'bond' topic (Nav2's value); 0 disables the bond.",
                                      lo=0.0, hi=10.0)
    autostart: bool = _f(False, "Configure, then activate, the node itself once it spins (as "
                                "Nav2's lifecycle_manager autostart does for its nodes); leave "
                                "false when a lifecycle manager or `ros2 lifecycle set` drives "
                                "it. Read when the node starts. localize.launch.py sets it from "
                                "its own autostart argument (default true) whatever this file "
                                "says: under a lifecycle manager launch it with "
                                "autostart:=false.")


@dataclasses.dataclass(frozen=True)
class TrackingConfig:
    """The node's odometry gate and confirmation of relocalized poses (see docs/ros_node.md);
    parameters without prefix.

    Tolerance of a pose against the last published one carried by odometry:
    ``translation_m + drift * distance + translation_m_per_s * elapsed`` (and the same for
    rotation, in degrees).
    """

    confirm_frames: int = _f(2, "A pose found by global retrieval (lost, start-up, ~/relocalize) "
                                "is published once this many consecutive frames agree under "
                                "odometry.", lo=1, hi=100)
    confirm_jump_m: float = _f(1.0, "Without odometry vouching (no odom_frame, or the gate "
                                    "off), a pose farther than this from the last published one "
                                    "also waits for confirm_frames (0 disables).", lo=0.0,
                               hi=1000.0)
    confirm_jump_deg: float = _f(45.0, "Same, for a pose rotated more than this (degrees; 0 "
                                       "disables).", lo=0.0, hi=180.0)
    odom_gate_translation_m: float = _f(0.10, "Odometry gate: translation tolerance of a pose "
                                              "against the last published one carried by "
                                              "odometry (0 disables the gate).", lo=0.0, hi=100.0)
    odom_gate_rotation_deg: float = _f(3.0, "Odometry gate: rotation tolerance (degrees).",
                                       lo=0.0, hi=180.0)
    odom_gate_drift: float = _f(0.05, "Odometry gate: tolerance added per metre (and per degree) "
                                      "of odometry motion since the last published pose.",
                                lo=0.0, hi=1.0)
    odom_gate_translation_m_per_s: float = _f(0.05, "Odometry gate: translation tolerance added "
                                                    "per second since the last published pose.",
                                              lo=0.0, hi=10.0)
    odom_gate_rotation_deg_per_s: float = _f(1.0, "Odometry gate: rotation tolerance added per "
                                                  "second (degrees).", lo=0.0, hi=180.0)
    odom_gate_max_translation_m: float = _f(0.30, "Odometry no longer vouches for a pose once "
                                                  "the translation tolerance exceeds this; the "
                                                  "pose then needs confirm_frames.",
                                            lo=0.0, hi=100.0)
    odom_gate_max_rotation_deg: float = _f(10.0, "Same, for the rotation tolerance (degrees).",
                                           lo=0.0, hi=180.0)


@dataclasses.dataclass(frozen=True)
class Config:
    """Every section; the ROS parameter name of a field is its section prefix plus its name
    (`param_specs`). Direct construction is not validated; build it through
    `config_from_params` / `load_config_yaml`."""

    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    localizer: LocalizerConfig = dataclasses.field(default_factory=LocalizerConfig)
    map_build: MapBuildConfig = dataclasses.field(default_factory=MapBuildConfig)
    pose_at_stamp: PoseAtStampConfig = dataclasses.field(default_factory=PoseAtStampConfig)
    map_check: MapCheckConfig = dataclasses.field(default_factory=MapCheckConfig)
    scale: ScaleConfig = dataclasses.field(default_factory=ScaleConfig)
    retrieval: RetrievalConfig = dataclasses.field(default_factory=RetrievalConfig)
    node: NodeConfig = dataclasses.field(default_factory=NodeConfig)
    tracking: TrackingConfig = dataclasses.field(default_factory=TrackingConfig)
