"""build-map's network, loaded before the recording is read (minutes for a bag) and after the
cheap checks and the Ray connect: `prepare_build` is the command's order of them."""

from __future__ import annotations

import logging

from ..core.config import Config
from ..core.errors import CheckpointError
from ..core.model import up_front
from .map_build import NO_ENCODINGS, BuildOptions, check_build_files, connect_build_workers

log = logging.getLogger("mast3r_ros.replay.map_build")  # the build's lines, as before


def load_build_network(cfg: Config, opts: BuildOptions) -> None:
    """The build's network loaded now, when it encodes (mast3r matcher, a checkpoint, backend
    'torch': `loaded_networks.configured_up_front`): weights that fit no architecture, a file
    that is no model or a bare DUSt3R state dict are refused with `CheckpointError` here, not
    after the recording was read; the network is kept for the build's engine (the file read
    once). Nothing is loaded for sift or no checkpoint; the mast3r matcher with no checkpoint
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


def prepare_build(cfg: Config, opts: BuildOptions) -> None:
    """Everything build-map refuses before it reads the recording, cheapest first: the files
    (`check_build_files`: a missing or cut-short checkpoint, a device this machine lacks, the
    retrieval files), the Ray connect for ``opts.ray_address`` (`connect_build_workers`: a
    wrong address or token in one line), then the network (`load_build_network`: gigabytes,
    seconds). Raises what they raise."""
    check_build_files(cfg, opts, network=False)
    connect_build_workers(cfg, opts)
    load_build_network(cfg, opts)
