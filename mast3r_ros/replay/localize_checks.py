"""What `mast3r-ros localize` refuses before a frame is read: the frame options and the map
and checkpoint files (`check_before_indexing`, run before a rosbag2 is indexed). Split from
`localize_run`, which re-exports both names."""

from __future__ import annotations

from typing import Optional

from ..core.config import ModelConfig
from ..core.errors import ConfigError, InputError
from ..core.keyframes import KeyframeMap


def check_frame_options(stride: int, max_frames: int) -> None:
    """`InputError` for a ``stride`` below 1 or a negative ``max_frames``, in the CLI's words."""
    if stride < 1:
        raise InputError(f"--stride must be >= 1 (every Nth frame), got {stride}")
    if max_frames < 0:
        raise InputError(f"--max-frames must be >= 0 (0: all frames), got {max_frames}")


def check_before_indexing(map_path: str, stride: int = 1, max_frames: int = 0,
                          checkpoint: str = "", needs_checkpoint: bool = False,
                          model: Optional[ModelConfig] = None) -> None:
    """What `run_localization` refuses first, checked where a rosbag2 source is about to be
    indexed (`SourceOptions.before_index`: every message read, seconds to minutes) rather than
    after: ``stride`` and ``max_frames`` (`check_frame_options`), then a ``map_path`` that is no
    map folder or an incomplete one (`KeyframeMap.check_folder`: missing, a file, a recording, a
    folder without a readable manifest, a map copied only in part: a file it lists missing,
    empty or not its recorded size; ``os.stat`` only), in the words of the map's own open.
    Then ``checkpoint`` (the mast3r matcher's, '' for none) exists and is no empty, text or
    cut-short file (`require_checkpoint`, as build-map checks its own). Raises `InputError`,
    `MapFormatError` or `CheckpointError`; the full open checks the rest (checksums, on first
    use of each file). ``needs_checkpoint`` (the mast3r matcher) with no ``checkpoint``:
    `ConfigError` in the engine's words (was said after a bag's indexing pass). ``model`` (the
    run's `ModelConfig`, with ``checkpoint``): a map camera the network cannot take at its
    ``image_size`` is refused (`check_map_camera_size`), then its network is loaded now
    (`configured_up_front`),
    so weights of another architecture or a file that is no model are refused before the
    recording is read (were after it), and handed to the localizer's engine (read once)."""
    check_frame_options(stride, max_frames)
    KeyframeMap.check_folder(map_path)
    if needs_checkpoint and not checkpoint:
        from ..core.matchers.base import NO_CHECKPOINT, sift_alternative

        raise ConfigError(f"matcher 'mast3r': {NO_CHECKPOINT}"
                          f"{sift_alternative(KeyframeMap.load(map_path))}")
    if checkpoint:
        from ..core.model.checkpoint import require_checkpoint, resolve_checkpoint

        require_checkpoint(resolve_checkpoint(checkpoint))
    if checkpoint and model is not None:  # no model, or weights of another architecture:
        check_map_camera_size(map_path, model.image_size)  # before the network is loaded
        from ..core.model.loaded_networks import configured_up_front  # said before the read

        configured_up_front(model)  # the localizer's engine takes this network


def check_map_camera_size(map_path: str, image_size: int) -> None:
    """`InputError`, in the engine's words (`preprocess.plan_resize`: 'image WxH is too
    elongated for the network ...', under 16 px on its short side), when the map's camera (its
    first keyframe's intrinsics, the camera `Localizer.from_config` shapes the network for) is
    an image the network cannot take at ``image_size`` (512, 384 or 224). Before, it was said
    once the network had been loaded (seconds; the 2.7 GB file), now before (the map's tables
    only: no image or encoding read). A map without keyframes: nothing to check."""
    from ..core.model.preprocess import plan_resize

    kf_map = KeyframeMap.load(map_path, lazy=True)
    if len(kf_map):
        cam = kf_map.keyframe(0).intrinsics
        plan_resize(int(cam.width), int(cam.height), int(image_size))
