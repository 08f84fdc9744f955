"""The demo (``mast3r-ros demo``): render the synthetic room once per settings, map every other
frame, localize the frames in between.

Plain functions of a `Config`, no argparse (the CLI's ``cmd_demo`` calls `run_demo`): the scene
comes from `replay.synthetic`, the map from `replay.pipeline`, the run from
`replay.localize_run`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from typing import Any, Dict, Optional, Tuple

from ..core.config import Config
from ..core.durable import flush_before_publish, fsync_dir
from ..core.model.up_front import networks_up_front
from ..core.errors import InputError
from ..core.fileio import atomic_write_json, check_output_folder, output_lock
from ..core.pairing import check_seed
from .localize_run import RUN_FILES, RUN_OUTPUTS, run_localization
from .map_build import BuildOptions, check_build_files
from .pipeline import build_map, progress
from .synthetic import write_demo_sequences
from .tum import TumSequence

log = logging.getLogger(__name__)

DEMO_DATA_VERSION = 1  # bump when the rendered demo scene changes
# --width / --height at least: the SIFT demo (60 frames, seeds 0..4) localized 3-37 % of its
# frames at 64x48, 20-37 % at 72x54, 47-53 % at 80x60, 73-90 % at 88x66 and 97-100 % from
# 96x72 up; 128x96 is a margin above where it starts to work (100, 97, 100, 100 %)
MIN_WIDTH, MIN_HEIGHT = 128, 96
# --frames at least: the demo maps the even frames and localizes the odd ones between them,
# views 360/N degrees apart around the loop. With SIFT at 640x480, seeds 0..4: 4 frames (90
# degrees) localized no frame at any seed, 5 one frame at one seed, 6 some at three seeds
MIN_FRAMES = 5
MAX_SIDE = 4096  # --width / --height: the renderer holds several float64 images of this size
# what one rendered frame can take on disk, per pixel: its RGB PNG (3 bytes) and 16-bit depth
# PNG (2) uncompressed, which PNG's compression does not exceed; the textured scene compresses
# to about 2.1 bytes per pixel at 640x480 (0.65 MB a frame), 3.7 at 64x48 (file headers)
SCENE_BYTES_PER_PIXEL = 5
SCENE_BYTES_PER_FRAME = 2048  # the two files' headers and the index lines


def scene_bytes(frames: int, width: int, height: int) -> int:
    """Bytes the demo scene of ``frames`` ``width`` x ``height`` frames takes at most on disk
    (RGB and depth PNGs, uncompressed size; the map and run come on top)."""
    return frames * (width * height * SCENE_BYTES_PER_PIXEL + SCENE_BYTES_PER_FRAME)


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError  # unreachable


def check_scene_fits(out: str, frames: int, width: int, height: int) -> None:
    """`InputError` naming --frames when the scene to render would not fit the free space of
    the file system ``out`` is on (its nearest existing folder; `scene_bytes`, an upper
    bound: a scene that passes fits)."""
    where = os.path.abspath(out)
    while not os.path.isdir(where) and os.path.dirname(where) != where:
        where = os.path.dirname(where)
    try:
        free = shutil.disk_usage(where).free
    except OSError:  # no answer from the file system: the write says what is wrong
        return
    need = scene_bytes(frames, width, height)
    if need > free:
        raise InputError(
            f"--frames {frames}: the demo scene at {width}x{height} takes up to {_size(need)} "
            f"({_size(need / frames)} a frame), but the file system of --out {out} has "
            f"{_size(free)} free; render fewer --frames or smaller --width/--height, or choose "
            "an --out with more space")


def _stamp(frames: int, width: int, height: int, seed: int) -> Dict[str, int]:
    """The settings a rendered scene records in its done.json."""
    return {"frames": frames, "width": width, "height": height, "seed": seed,
            "version": DEMO_DATA_VERSION}


def _rendered(data: str, stamp: Dict[str, int]) -> bool:
    """True when ``data`` holds a complete scene rendered with ``stamp``'s settings."""
    try:
        with open(os.path.join(data, "done.json"), encoding="utf-8") as fh:
            return json.load(fh) == stamp
    except (OSError, ValueError):
        return False


def demo_data(data: str, frames: int, width: int, height: int, seed: int) -> Tuple[str, str]:
    """Render the demo's map and query TUM folders under ``data`` once per (frames, size, seed)
    and reuse them afterwards; returns (map folder, query folder)."""
    stamp = _stamp(frames, width, height, seed)
    marker = os.path.join(data, "done.json")
    dirs = (os.path.join(data, "map"), os.path.join(data, "query"))
    if _rendered(data, stamp):
        log.info("reusing the synthetic scene rendered earlier in %s", data)
        return dirs
    # a data/ without done.json is the demo's only if it holds nothing but what the demo
    # writes there (a render stopped by an older version, which rendered in place)
    if os.path.isdir(data) and not os.path.exists(marker) and \
            not set(os.listdir(data)) <= {"map", "query"}:
        raise InputError(f"--overwrite: {data} is not a demo scene (no done.json); not "
                         "replacing it (choose another --out, or remove it yourself)")
    # rendered beside ``data`` and renamed when complete: a ``data`` folder is always a whole
    # scene with its done.json, which is how `run_demo` knows a folder for its own
    rendering = data + ".rendering"
    shutil.rmtree(rendering, ignore_errors=True)
    t0 = time.perf_counter()
    log.info("rendering the synthetic scene: %d frames at %dx%d", frames, width, height)
    try:  # a Ctrl-C, a full disk: no half-written scene is left under the demo's folder
        write_demo_sequences(rendering, frames, width, height, seed,  # a bar as build-map's
                             lambda it, n: progress(it, n, "rendering the demo scene",
                                                       unit="frame"))
        atomic_write_json(os.path.join(rendering, "done.json"), stamp)
        # the images' data on disk before the rename publishes them with done.json
        flush_before_publish(rendering, data)
    except BaseException:
        shutil.rmtree(rendering, ignore_errors=True)
        raise
    shutil.rmtree(data, ignore_errors=True)  # a scene of other settings (checked: the demo's)
    os.replace(rendering, data)
    fsync_dir(os.path.dirname(os.path.abspath(data)))  # the rename itself
    log.info("rendered the synthetic scene in %.1f s", time.perf_counter() - t0)
    return dirs


# What a demo folder holds: its scene (always with data/done.json), map and run, and what a
# stopped demo leaves (a scene being rendered, map.partial, run.partial, run.tmp-*). With
# --overwrite a folder holding anything else is not the demo's and is refused; each part is
# checked again by what replaces it (demo_data, MapWriter, run_localization).
DEMO_PARTS = ("data", "data.rendering", "map", "map.*", "run", "run.*")


# what --overwrite does to an existing demo folder (the refusal without it says so: "pass
# --overwrite to replace it" read as rendering the scene again)
OVERWRITE_DOES = ("replace only its map and run, reusing its rendered scene where --frames, "
                  "--width, --height and --seed match")


@networks_up_front()  # the network its checks load up front is its engine's (read once)
def run_demo(out: str, cfg: Config, frames: int, width: int, height: int, seed: int,
             overwrite: bool = False, params_warmup: Optional[bool] = None
             ) -> Tuple[str, str, Dict[str, Any]]:
    """Render the synthetic room, map every other frame, localize the frames in between.

    Returns (map path, run folder, metrics). ``seed``: 0 <= seed < 2**32 (InputError
    otherwise). A checkpoint that is missing, empty or text is refused (`CheckpointError`)
    before the scene is rendered. An existing ``out`` is refused (`InputError`) unless
    ``overwrite``; then its rendered scene is reused when it matches and its map and run are
    replaced (each atomically; the old run is removed once the new map is published, so a
    demo stopped while localizing leaves the new map and no run, not the old map's run beside
    it). Before any work, `InputError` for a scene to render that would not fit the free space
    of ``out``'s file system (`check_scene_fits`); a scene reused is not checked. The
    rendering holds one frame at a time (`write_demo_sequences`). ``params_warmup``: the
    parameter file's ``warmup``, which the run's config.yaml records (as localize's does, for
    the node) where ``cfg``'s is the offline choice; run.json records the run's."""
    check_seed(seed)
    if frames < MIN_FRAMES:  # an even split of fewer: views too far apart to localize any
        raise InputError(f"--frames must be >= {MIN_FRAMES}, got {frames}: every other frame is "
                         f"mapped and the ones between localized, and with fewer than "
                         f"{MIN_FRAMES} around the loop (90 degrees apart or more) none "
                         "localizes; the default is 60")
    if width < MIN_WIDTH or height < MIN_HEIGHT:  # smaller, SIFT localizes few frames or none
        # the floor was measured with SIFT; a mast3r demo keeps it, and is not told that its
        # SIFT fails ("--matcher mast3r --width 64" read "the demo's SIFT localizes few ...")
        why = ("the demo's SIFT localizes few of its frames"
               if cfg.localizer.matcher == "sift" else
               f"the sift matcher localizes few of the demo's frames, and the "
               f"{cfg.localizer.matcher} matcher's demo keeps that floor")
        raise InputError(f"the demo image must be at least {MIN_WIDTH}x{MIN_HEIGHT} pixels "
                         f"(--width, --height), got {width}x{height}: below that {why}")
    if width > MAX_SIDE or height > MAX_SIDE:  # 100000x100000 needed 74.5 GiB per depth image
        raise InputError(f"the demo image must be at most {MAX_SIDE}x{MAX_SIDE} pixels (--width, "
                         f"--height), got {width}x{height}")
    # the folder first: on a read-only file system (0 bytes free to us) the space check
    # said "has 1.0 MB free, render fewer --frames", not that nothing can be written there
    check_output_folder(out, overwrite, allowed=DEMO_PARTS, overwrite_does=OVERWRITE_DOES)
    if not _rendered(os.path.join(out, "data"), _stamp(frames, width, height, seed)):
        check_scene_fits(out, frames, width, height)  # a scene reused takes no new space
    # a missing, empty or text checkpoint (a Git LFS pointer) before the scene is rendered
    check_build_files(cfg, BuildOptions())
    made = not os.path.lexists(out)
    with output_lock(out):  # one demo per folder: a second is refused before it renders
        try:
            return _run_demo(out, cfg, frames, width, height, seed, params_warmup)
        except BaseException:
            # stopped before anything was kept (Ctrl-C while rendering): the folder this demo
            # made goes too, so that no empty folder is left behind
            if made:
                try:
                    os.rmdir(out)  # only when empty
                except OSError:
                    pass
            raise


def _run_demo(out: str, cfg: Config, frames: int, width: int, height: int, seed: int,
              params_warmup: Optional[bool] = None) -> Tuple[str, str, Dict[str, Any]]:
    run = os.path.join(out, "run")
    check_output_folder(run, True, RUN_FILES, RUN_OUTPUTS)  # refused before the map is built
    map_dir, query_dir = demo_data(os.path.join(out, "data"), frames, width, height, seed)
    map_path = os.path.join(out, "map")  # as given, like the run folder
    # Both steps build their engine from the same cfg.model (checkpoint, device, precision,
    # image size, compile, backend); they differ only in what the engine is warmed up (and, on
    # TensorRT, built) for: the build for a 4:3 camera and one keyframe per decode, the
    # localizer for the map's camera and up to max_keyframes. So the network is loaded once
    # and shared (`one_checkpoint_load`), and each step still builds its own engine over it,
    # warmed for its own shapes (the build's engine, warmed for another camera shape, would
    # compile again on the first query of a non-4:3 --width/--height). TensorRT reads the
    # checkpoint only to build engines missing from its cache: not shared here.
    from ..core.model.engine import one_checkpoint_load

    with one_checkpoint_load():
        return _build_and_localize(cfg, map_dir, query_dir, map_path, run, params_warmup)


def _build_and_localize(cfg: Config, map_dir: str, query_dir: str, map_path: str,
                        run: str, params_warmup: Optional[bool] = None
                        ) -> Tuple[str, str, Dict[str, Any]]:
    rule = cfg.pose_at_stamp
    # a demo map is small: an interrupted one is started over (the demo has no --resume), so
    # a build kept (a full disk after encoding) is said to go with the rerun, and how to free
    # its space before it (the line said only 'rerun the demo with --overwrite')
    build_map(TumSequence(map_dir, pose_at_stamp=rule), map_path, cfg, overwrite=True,
              build=BuildOptions(restart=True),
              resume_hint=f"rerun the demo with --overwrite: it reuses the scene and builds the "
                          f"map from the start, deleting any {map_path}.partial (delete it "
                          "first to free its space)")
    if os.path.isdir(run) and not os.path.islink(run):
        # the old run localized against the map just replaced: a demo stopped from here on
        # leaves the new map and no run, never the new map beside the old map's run
        shutil.rmtree(run)
        log.info("removed %s (localized against the replaced map)", run)
    query = TumSequence(query_dir, pose_at_stamp=rule, read_depth=False)  # query depth: unused
    # a stopped demo's run.partial localized against the map just replaced: started over
    # run.json's selection names what was localized, as localize's names its SOURCE: the
    # rendered query frames (it read "source": "")
    metrics = run_localization(query, map_path, run, cfg, overwrite=True, restart=True,
                               resume_hint="rerun the demo with --overwrite (the scene is "
                                           "reused, the run starts over)", source_path=query_dir,
                               params_warmup=params_warmup)
    return map_path, run, metrics
