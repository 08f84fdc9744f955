"""`mast3r-ros export`: the encoder and the decoder+heads as ONNX, with a manifest."""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys

from ..core.config import LocalizerConfig, param_specs
from ..core.errors import CheckpointError, InputError
from ..core.fileio import check_output_folder, output_lock
from ..core.progress_output import progress_shown
from ..core.model.preprocess import SIZES

log = logging.getLogger(__name__)

# The decoder's keyframe batch is the localizer's max_keyframes (the TensorRT backend exports
# with it, `Mast3rEngine.from_config`): same default, same range as the parameter.
_MAX_KEYFRAMES = next(s for s in param_specs() if s.name == "max_keyframes")
KEYFRAME_BATCH_DEFAULT = LocalizerConfig().max_keyframes
KEYFRAME_BATCH_RANGE = (int(_MAX_KEYFRAMES.lo), int(_MAX_KEYFRAMES.hi))
# `core.model.export.EXPORTERS`, spelled out: that module imports torch, which the CLI's parser
# must not (`mast3r-ros --help` stays fast); test_export checks the two agree
EXPORTERS = ("auto", "dynamo", "torchscript")


def _camera_size(text: str):
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"camera size must be WIDTHxHEIGHT, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def add_parser(sub: argparse._SubParsersAction) -> None:
    from .cli_options import add_log_level

    p = sub.add_parser("export", help="export the network to ONNX (details: export --help)",
                       description="Write DIR/encoder.onnx (image -> encoding), DIR/decoder.onnx "
                                   "(K cached keyframe encodings + the query encoding -> "
                                   "pointmaps, confidences, descriptors) and DIR/manifest.json, "
                                   "for one fixed network size, for ONNX Runtime or your own "
                                   "deployment. The tensorrt backend needs no export: it "
                                   "exports and builds by itself, keeping the output "
                                   "exponentials in fp32, which trtexec --fp16 does not "
                                   "(docs/gpu.md).")
    # CKPT as the first argument (the issue's `export CKPT --out DIR`) or --checkpoint CKPT,
    # as every other command takes it; `checkpoint_of` checks that exactly one is given
    p.add_argument("ckpt", nargs="?", metavar="CKPT", help="MASt3R or DUSt3R checkpoint")
    p.add_argument("--checkpoint", metavar="CKPT", help="the same as CKPT")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="output folder (DIR above; written whole or not at all)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing output folder")
    p.add_argument("--size", type=int, default=512, choices=SIZES,
                   help="network image size: the image_size parameter (config/localize.yaml) "
                        "of the config the export will run with")
    p.add_argument("--keyframe-batch", type=int, default=KEYFRAME_BATCH_DEFAULT, metavar="K",
                   help="keyframes decoded per call: the localizer's max_keyframes, "
                        f"{KEYFRAME_BATCH_RANGE[0]}..{KEYFRAME_BATCH_RANGE[1]} (default "
                        f"{KEYFRAME_BATCH_DEFAULT}, as config/localize.yaml)")
    p.add_argument("--camera-size", type=_camera_size, default=(640, 480), metavar="WxH",
                   help="camera resolution that fixes the network shape (default 640x480: "
                        "512 -> 512x384)")
    p.add_argument("--exporter", default="auto", choices=EXPORTERS,
                   help="torch's ONNX exporter: 'dynamo' (opset 18, torch >= 2.6), "
                        "'torchscript' (opset 17, any torch 2.x: NVIDIA's Jetson wheels, "
                        "TensorRT 8.x), 'auto' (default): dynamo where this torch has it")
    add_log_level(p)
    p.set_defaults(func=_cmd_export)


def checkpoint_of(args: argparse.Namespace) -> tuple[str, str]:
    """(the checkpoint path, how it was passed, for the not-found hint) from CKPT or
    --checkpoint; InputError when neither, an empty one or two different ones are given (the
    same file spelled two ways, ``../w/tiny.pth`` and ``../w/./tiny.pth``, is one)."""
    for given, name in ((args.ckpt, "CKPT"), (args.checkpoint, "--checkpoint")):
        if given is not None and not given.strip():  # "$CKPT" with CKPT unset
            from .cli_options import empty_value

            raise empty_value(name, "the MASt3R checkpoint file", "export")
    if args.ckpt and args.checkpoint and not _same_file(args.ckpt, args.checkpoint):
        raise InputError(f"two checkpoints given, CKPT {args.ckpt} and --checkpoint "
                         f"{args.checkpoint}: pass one (mast3r-ros export CKPT --out DIR)")
    if args.ckpt:
        return args.ckpt, "as CKPT: mast3r-ros export CKPT --out DIR"
    if args.checkpoint:
        return args.checkpoint, "with --checkpoint CKPT"
    raise InputError("no checkpoint given: pass it as mast3r-ros export CKPT --out DIR "
                     "(or --checkpoint CKPT)")


def refuse_retrieval_checkpoint(path: str) -> None:
    """Raises CheckpointError when ``path`` is the retrieval head's checkpoint (from its
    ``args`` alone, tensors not read): export takes the network; the generic loader's hint
    ("pass it as --retrieval-checkpoint") names an option export does not have."""
    from ..core.retrieval_model import checkpoint_kind

    if checkpoint_kind(path) == "retrieval":
        raise CheckpointError(
            f"{path} is a MASt3R retrieval checkpoint (the retrieval head), not the network: "
            "export takes the MASt3R network checkpoint (the .pth the other commands take as "
            "--checkpoint); the retrieval head is not exported")


def _same_file(a: str, b: str) -> bool:
    """Whether two paths name one file: `os.path.samefile` when both exist (hard links too),
    else their resolved forms (`os.path.realpath`, '~' expanded as the loader does)."""
    a, b = os.path.expanduser(a), os.path.expanduser(b)
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _cmd_export(args: argparse.Namespace) -> int:
    from ..core.model.checkpoint import resolve_checkpoint
    from ..core.model.export import DECODER_FILE, ENCODER_FILE, MANIFEST, check_export_target

    checkpoint, passed_as = checkpoint_of(args)
    refuse_retrieval_checkpoint(resolve_checkpoint(checkpoint))
    lo, hi = KEYFRAME_BATCH_RANGE
    if not lo <= args.keyframe_batch <= hi:
        raise InputError(f"--keyframe-batch must be in {lo}..{hi} (the range of the localizer's "
                         f"max_keyframes), got {args.keyframe_batch}: pass the max_keyframes of "
                         "the config the export will run with")
    check_output_folder(args.out, args.overwrite, (MANIFEST, ENCODER_FILE, DECODER_FILE))
    if args.overwrite:  # a keyframe map has a manifest.json too: only an export is replaced
        check_export_target(os.path.abspath(args.out))
    with output_lock(args.out):  # one export per --out: a second is refused before any work
        check_output_folder(args.out, args.overwrite, (MANIFEST, ENCODER_FILE, DECODER_FILE))
        return _export_locked(args, checkpoint, passed_as)


def _export_locked(args: argparse.Namespace, checkpoint: str, passed_as: str) -> int:
    from ..core.model.checkpoint import load_checkpoint, resolve_checkpoint
    from ..core.model.engine import network_shape
    from ..core.model.export import export_onnx, require_onnx

    require_onnx(args.exporter)  # before a 2.7 GB checkpoint is read for nothing
    w, h = args.camera_size
    zero = " and ".join(side for side, v in (("width", w), ("height", h)) if v == 0)
    if zero:  # else the network shape's "image must be non-empty", which said neither
        raise InputError(f"--camera-size {w}x{h}: the {zero} {'are' if w == h else 'is'} 0; "
                         "give the camera's resolution in pixels, WIDTHxHEIGHT (e.g. 640x480)")
    try:  # a bad --camera-size, also before the checkpoint is read
        shape = network_shape(args.size, args.camera_size)
    except InputError as e:
        raise InputError(f"--camera-size {w}x{h}: {e}") from None
    # the ONNX exporter's own passes log every rewritten initializer at INFO (~1 400 lines for
    # the tiny network): keep third-party exporter chatter at WARNING unless asked for debug
    if args.log_level != "debug":
        for name in ("onnx_ir", "onnxscript", "torch.onnx", "onnx"):
            logging.getLogger(name).setLevel(logging.WARNING)
    path = resolve_checkpoint(checkpoint)
    if os.path.exists(path):  # ViT-L's is 2.7 GB; a missing one is the error's one line
        log.info("reading the checkpoint %s...", path)
    model, info = load_checkpoint(path, device="cpu", passed_as=passed_as)
    res = export_onnx(model, args.out, size=args.size, net_shape=shape,
                      keyframe_batch=args.keyframe_batch, info=info, exporter=args.exporter,
                      progress=progress_shown())  # a line on a terminal, as build-map's bars
    sys.stdout.write(f"export {res.out_dir}: network {shape[1]}x{shape[0]}, keyframe batch "
                     f"{args.keyframe_batch}, {res.manifest['exporter']} exporter (opset "
                     f"{res.manifest['opset']}) -> encoder.onnx, decoder.onnx, manifest.json\n")
    return 0
