"""build-map's network, loaded before the recording is read (minutes for a bag), after the
cheap checks and the Ray connect and once the recording is found: `prepare_build` is the
command's order of them."""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
from typing import Callable, Optional, Tuple

from ..core.config import Config, ModelConfig
from ..core.errors import CheckpointError, InputError, Mast3rRosError
from ..core.model import up_front
from .map_build import NO_ENCODINGS, BuildOptions, check_build_files, connect_build_workers

log = logging.getLogger("mast3r_ros.replay.map_build")  # the build's lines, as before


def load_build_network(cfg: Config, opts: BuildOptions) -> None:
    """The build's network loaded now, when it encodes (mast3r matcher, a checkpoint:
    `loaded_networks.configured_up_front`; backend 'tensorrt': its engine cache checked too,
    and nothing read when the cache has seen the file): weights that fit no architecture, a
    file that is no model or a bare DUSt3R state dict are refused with `CheckpointError` here,
    not after the recording was read; the network is kept for the build's engine (the file
    read once). Nothing is loaded for sift or no checkpoint; the mast3r matcher with no checkpoint
    is warned about here (`NO_ENCODINGS`, once per command: `up_front.first_time`), before the
    recording is read, not after every frame was."""
    if cfg.localizer.matcher != "mast3r":
        return
    if not cfg.model.checkpoint:
        if up_front.first_time("no encodings"):
            log.warning(NO_ENCODINGS)
        return
    from ..core.model.checkpoint_arch import no_descriptors_for_map
    from ..core.model.loaded_networks import configured_up_front

    info = configured_up_front(cfg.model, device_here=not opts.ray_address)
    if info is not None and not info.spec.has_descriptors:  # a bare DUSt3R state dict
        raise CheckpointError(no_descriptors_for_map(cfg.model.checkpoint))


def check_camera_size(cfg: Config, source: str, camera_info: Optional[str],
                      topics: Tuple[Optional[str], Optional[str]] = (None, None)) -> None:
    """`InputError` when a build that encodes (the mast3r matcher with a checkpoint) is of a
    camera whose image the network cannot take at ``cfg.model.image_size``
    (`preprocess.plan_resize`: under 16 px on its short side, over 4:1), where its size is
    known before the recording is read: ``camera_info`` (--camera-info), else a TUM folder's
    own camera.yaml, else a bag's first CameraInfo on the topic its reader takes
    (`rosbag.first_camera.first_camera_size`; ``topics``: --camera-info-topic and
    --image-topic as given, None when not). Said as the keyframe check says it, naming the
    calibration (the file, or the bag's topic), before the network is loaded (was after:
    seconds, the 2.7 GB file; for a bag, after the indexing pass too). A bag whose CameraInfo
    is not cheap or not plain to read has its images checked at the first keyframe
    (`map_build.network_takes`). A calibration that cannot be read is left to the reader,
    which says why in its own words."""
    if cfg.localizer.matcher != "mast3r" or not cfg.model.checkpoint:
        return
    size = _calibration_size(source, camera_info, topics)
    if size is None:
        return
    from ..core.model.preprocess import plan_resize

    width, height, what = size
    try:
        plan_resize(width, height, cfg.model.image_size)
    except InputError as e:
        raise InputError(f"the recording's camera ({what}): {e}") from None


def _calibration_size(source: str, camera_info: Optional[str],
                      topics: Tuple[Optional[str], Optional[str]]
                      ) -> Optional[Tuple[int, int, str]]:
    """(width, height, what names it) of `check_camera_size`'s calibration, None without one."""
    path = camera_info or (os.path.join(source, "camera.yaml") if os.path.isdir(source) else "")
    if path and os.path.isfile(path):
        from ..core.image_codec import load_camera_info_yaml

        try:
            cam = load_camera_info_yaml(path)
        except (Mast3rRosError, OSError, ValueError):
            return None
        return int(cam.width), int(cam.height), path
    if camera_info or not _is_bag(source):
        return None
    try:  # rosbags: a pip-only requirement, asked for when the bag is opened
        from .rosbag.first_camera import first_camera_size
    except (ImportError, Mast3rRosError):
        return None
    return first_camera_size(source, *topics)


def _is_bag(source: str) -> bool:
    """A rosbag2 folder (metadata.yaml), an .mcap, .db3 or ROS 1 .bag file."""
    if os.path.isdir(source):
        return os.path.isfile(os.path.join(source, "metadata.yaml"))
    from ..core.recordings import BAG_STORAGE_SUFFIXES

    return os.path.isfile(source) and source.lower().endswith(BAG_STORAGE_SUFFIXES + (".bag",))


def prepare_build(cfg: Config, opts: BuildOptions, source: str = "",
                  camera_info: Optional[str] = None,
                  topics: Tuple[Optional[str], Optional[str]] = (None, None)
                  ) -> Callable[[], None]:
    """Everything build-map refuses before it opens the recording ``source`` (its path),
    cheapest first: the files (`check_build_files`: a missing or cut-short checkpoint, a device
    this machine lacks, the retrieval files), a camera the network cannot take where its
    calibration tells (`check_camera_size`: ``camera_info``, the folder's camera.yaml, or a
    bag's first CameraInfo on ``topics``: --camera-info-topic, --image-topic) and the Ray
    connect for ``opts.ray_address`` (`connect_build_workers`: a wrong address or token in one
    line). Returns the network's load (`load_build_network`: gigabytes, seconds), for the
    source's ``before_index``: once the recording is found and known for one (a mistyped
    SOURCE is said at once, not after the network was read), before it is read. Raises what
    the checks raise."""
    check_build_files(cfg, opts, network=False)
    check_camera_size(cfg, source, camera_info, topics)
    connect_build_workers(cfg, opts)
    return functools.partial(load_build_network, cfg, opts)


def head_model(cfg: Config, opts: BuildOptions) -> ModelConfig:
    """The `ModelConfig` of the engine build-map makes on this machine for the checkpoint's
    identity and content id (`map_build.encode_map_keyframes`): ``cfg.model``, except with
    ``opts.ray_address`` and a device this machine lacks (``--device cuda`` on a head without
    CUDA, which `check_build_files` lets through: the Ray workers resolve it on their own
    machines): then the host's, fp32, backend 'torch', not compiled (both ids are the file's and its
    weights', the same on any device). That engine asked for the workers' device and refused
    the build once its recording was read and its keyframes chosen and checked."""
    if not opts.ray_address:
        return cfg.model
    from ..core.devices import resolve_device
    from ..core.errors import ConfigError

    try:
        resolve_device(cfg.model.device)
    except ConfigError:
        return dataclasses.replace(cfg.model, device="cpu", backend="torch", compile="none",
                                   precision="fp32")
    return cfg.model
