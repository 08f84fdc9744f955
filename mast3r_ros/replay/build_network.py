"""build-map's network, loaded before the recording is read (minutes for a bag), after the
cheap checks and the Ray connect and once the recording is found: `prepare_build` is the
command's order of them."""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
from typing import Callable, Optional

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


def check_camera_size(cfg: Config, source: str, camera_info: Optional[str]) -> None:
    """`InputError` when a build that encodes (the mast3r matcher with a checkpoint) is of a
    camera whose image the network cannot take at ``cfg.model.image_size``
    (`preprocess.plan_resize`: under 16 px on its short side, over 4:1), where the calibration
    tells its size before the recording is read: ``camera_info`` (--camera-info), else a TUM
    folder's own camera.yaml. Said as the keyframe check says it, naming the calibration file
    for the keyframe's stamp, before the network is loaded (was after: seconds, the 2.7 GB
    file). A bag's CameraInfo is in the bag: its images are checked at the first keyframe
    (`map_build.network_takes`). A calibration file that cannot be read is left to the
    reader, which says why in its own words."""
    if cfg.localizer.matcher != "mast3r" or not cfg.model.checkpoint:
        return
    path = camera_info or (os.path.join(source, "camera.yaml") if os.path.isdir(source) else "")
    if not path or not os.path.isfile(path):
        return
    from ..core.image_codec import load_camera_info_yaml
    from ..core.model.preprocess import plan_resize

    try:
        cam = load_camera_info_yaml(path)
    except (Mast3rRosError, OSError, ValueError):
        return
    try:
        plan_resize(int(cam.width), int(cam.height), cfg.model.image_size)
    except InputError as e:
        raise InputError(f"the recording's camera ({path}): {e}") from None


def prepare_build(cfg: Config, opts: BuildOptions, source: str = "",
                  camera_info: Optional[str] = None) -> Callable[[], None]:
    """Everything build-map refuses before it opens the recording ``source`` (its path),
    cheapest first: the files (`check_build_files`: a missing or cut-short checkpoint, a device
    this machine lacks, the retrieval files), a camera the network cannot take where its
    calibration file tells (`check_camera_size`: ``camera_info``, or the folder's camera.yaml)
    and the Ray connect for ``opts.ray_address`` (`connect_build_workers`: a wrong address or
    token in one line). Returns the network's load (`load_build_network`: gigabytes, seconds),
    for the source's ``before_index``: once the recording is found and known for one (a
    mistyped SOURCE is said at once, not after the network was read), before it is read.
    Raises what the checks raise."""
    check_build_files(cfg, opts, network=False)
    check_camera_size(cfg, source, camera_info)
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
