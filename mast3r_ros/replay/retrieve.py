"""`mast3r-ros retrieve`: MASt3R's image retrieval (trainingfree head + ASMK) over a set of images.

Writes ``DIR/similarity.npy`` (N x N float64, row i = image i as query, column j = image j as
database item, in the given order, as the reference retriever computes it) and ``DIR/pairs.txt``
(``name_i name_j`` per line, names as given on the command line) for mapping / SfM tools.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from typing import List, Optional, Sequence, Tuple

import numpy as np

from ..core.errors import CheckpointError, InputError
from ..core.fileio import atomic_folder, check_output_folder, output_lock
from ..core.model.preprocess import SIZES, load_rgb
from ..core.pairing import check_seed, make_pairs, random_start
from ..core.recordings import image_glob_hint

log = logging.getLogger(__name__)


OUT_FILES = ("similarity.npy", "pairs.txt")


def _engine(checkpoint: str, device: str, size: int, cpu_threads: int = 0):
    from ..core.config import ModelConfig
    from ..core.model.engine import Mast3rEngine

    return Mast3rEngine.from_config(ModelConfig(checkpoint=checkpoint, device=device,
                                                precision="fp32", image_size=size,
                                                cpu_threads=cpu_threads))


def default_pairs(n: int) -> str:
    """The reference demo's default scene graph: retrieval-min(20, n)-min(n-1, 10)."""
    return f"retrieval-{min(20, n)}-{max(0, min(n - 1, 10))}"


def run_retrieve(images: Sequence[str], checkpoint: str, retrieval_checkpoint: str,
                 out_dir: str, *, codebook: Optional[str] = None, pairs: Optional[str] = None,
                 seed: Optional[int] = 0, device: str = "auto", symmetrize: bool = False,
                 overwrite: bool = False, size: int = 512, cpu_threads: int = 0
                 ) -> Tuple[np.ndarray, List[Tuple[int, int]]]:
    """Encode every image, score all against all, choose pairs, write the two files.

    ``device``: 'auto' (cuda when available, as the other commands' ``model.device``), 'cpu',
    'cuda', 'cuda:N'. ``size``: one of `SIZES`, the network input's long side in pixels (512,
    the reference's, or 384) or 224, a square centre crop of the short side scaled to 224
    (smaller is faster and ranks less reliably). Returns (similarity (N, N)
    float64, pairs as index tuples). Self-pairs (a key image drawn twice by the sampling) are
    not written. ``seed``: 0 <= seed < 2**32 (None: unseeded). ``cpu_threads``: the
    ``cpu_threads`` parameter (`apply_cpu_threads`; 0 keeps the defaults). ``out_dir`` is
    written whole or not at all; an existing one is refused unless ``overwrite``. Raises
    InputError / ConfigError / CheckpointError.
    """
    from ..core.model.engine import resolve_device

    if len(images) < 2:
        raise InputError(f"retrieve needs at least 2 images, got {len(images)}")
    if size not in SIZES:
        raise InputError(f"retrieve: size must be one of {list(SIZES)} (pixels, the network "
                         f"input's long side; 224: a square centre crop), got {size!r}")
    _check_repeats(images)
    check_seed(seed)
    check_output_folder(out_dir, overwrite, OUT_FILES, OUT_FILES)
    with output_lock(out_dir):  # a second writer of out_dir is refused before any encoding
        return _retrieve(images, checkpoint, retrieval_checkpoint, out_dir, codebook, pairs,
                         seed, str(resolve_device(device)), symmetrize, overwrite, size,
                         cpu_threads)


def _retrieve(images: Sequence[str], checkpoint: str, retrieval_checkpoint: str, out_dir: str,
              codebook: Optional[str], pairs: Optional[str], seed: Optional[int], device: str,
              symmetrize: bool, overwrite: bool, size: int, cpu_threads: int = 0
              ) -> Tuple[np.ndarray, List[Tuple[int, int]]]:
    from ..core.retrieval_model import AsmkRetriever, check_retrieval_files, checkpoint_kind

    if checkpoint_kind(checkpoint) == "retrieval":  # before the codebook check, which then
        swapped = checkpoint_kind(retrieval_checkpoint) == "network"  # is no issue
        raise CheckpointError(
            f"{checkpoint} is a MASt3R retrieval checkpoint, not the network"
            + (f", and {retrieval_checkpoint} is the network: the two checkpoints are swapped; "
               f"pass it as --retrieval-checkpoint, and {retrieval_checkpoint} as --checkpoint"
               if swapped else ": pass it as --retrieval-checkpoint, and the MASt3R network "
               ".pth as --checkpoint"))
    codebook = check_retrieval_files(retrieval_checkpoint, codebook)
    engine = _engine(checkpoint, device, size, cpu_threads)
    retriever = AsmkRetriever.from_files(retrieval_checkpoint, codebook,
                                         enc_dim=engine.model.spec.enc_embed_dim, device=device)
    t0 = time.perf_counter()
    from .pipeline import progress

    db, queries = [], []
    for path in progress(images, len(images), "retrieve", unit="image"):
        enc = engine.encode(engine.prepare(load_rgb(path), size)).feats
        feats = retriever.local_features(enc)
        db.append(_aggregate(retriever, feats, query=False))
        queries.append(_aggregate(retriever, feats, query=True))
    from ..core.asmk import AsmkIndex

    index = AsmkIndex.build(db, retriever.codebook.num_words, retriever.codebook.dim,
                            retriever.identity)
    sim = index.query_many(queries)
    log.info("%d images encoded at %d and scored in %.2f s", len(images), size,
             time.perf_counter() - t0)
    strategy = pairs or default_pairs(len(images))
    start = random_start(len(images), seed) if strategy.startswith("retrieval") else 0
    chosen = [p for p in make_pairs(len(images), strategy, sim, start, symmetrize)
              if p[0] != p[1]]
    with atomic_folder(out_dir, overwrite, OUT_FILES, OUT_FILES, locked=True) as tmp:
        np.save(os.path.join(tmp, "similarity.npy"), sim)
        with open(os.path.join(tmp, "pairs.txt"), "w", encoding="utf-8") as fh:
            fh.write("".join(f"{images[i]} {images[j]}\n" for i, j in chosen))
    log.info("%s (first key image %d): %d pairs -> %s/pairs.txt, %s/similarity.npy", strategy,
             start, len(chosen), out_dir, out_dir)
    return sim, chosen


def _aggregate(retriever, feats: np.ndarray, query: bool):
    from ..core.asmk import aggregate_database, aggregate_query

    return (aggregate_query if query else aggregate_database)(feats, retriever.codebook)


def _check_repeats(images: Sequence[str]) -> None:
    """An image given twice (the same path, or one file by two paths: a link, '..') would be
    paired with itself, which gives a matcher nothing: refused, naming both arguments, as
    merge-maps refuses one map given as A and B."""
    first: dict = {}
    for n, p in enumerate(images, 1):
        try:
            st = os.stat(p)
            key: object = (st.st_dev, st.st_ino)
        except OSError:
            key = os.path.realpath(os.path.expanduser(p))
        if key in first:
            m, q = first[key]
            what = (f"image {p} is given twice (arguments {m} and {n})" if p == q else
                    f"images {q} (argument {m}) and {p} (argument {n}) are the same file")
            raise InputError(f"{what}: an image paired with itself gives a matcher "
                             "nothing; give each image once")
        first[key] = (n, p)


def _check_names(images: Sequence[str]) -> None:
    """pairs.txt holds each name as given, and its readers split a line at white space: a
    name with white space is refused, with the fix -- names relative to the folder below the
    last folder with white space when only folders have it, else renaming the file."""
    for p in images:
        if not any(c.isspace() for c in p):
            continue
        head, tail = os.path.split(p)
        what = (f"image path {p!r} contains white space, which pairs.txt ('name_i name_j' per "
                "line, the names as given) cannot hold")
        if any(c.isspace() for c in tail) or not tail:
            raise InputError(f"{what}; rename the file (or link it under a name without white "
                             "space)")
        parts = p.split(os.sep)
        last = max(i for i, part in enumerate(parts) if any(c.isspace() for c in part))
        folder, rel = os.sep.join(parts[:last + 1]), os.sep.join(parts[last + 1:])
        raise InputError(f"{what}; only its folders have white space: run retrieve from "
                         f"inside that folder and give names relative to it (cd '{folder}', "
                         f"then {rel})")


def add_parser(sub: argparse._SubParsersAction,
               parents: Sequence[argparse.ArgumentParser]) -> None:
    """``parents``: the configuration options (--params, --namespace, --checkpoint, --device,
    --log-level) the other commands that run the network take."""
    p = sub.add_parser(
        "retrieve", parents=list(parents),
        help="rank images with MASt3R's retrieval model (ASMK) and choose pairs",
        description="MASt3R image retrieval: the trainingfree head on the encoder tokens and "
                    "the ASMK codebook. Writes DIR/similarity.npy (N x N float64, row = query "
                    "image, column = database image) and DIR/pairs.txt ('name_i name_j'). "
                    "checkpoint, device, image_size, retrieval.checkpoint and "
                    "retrieval.codebook come from --params (defaults: config/localize.yaml) "
                    "and the options below.")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="two or more images")
    p.add_argument("--retrieval-checkpoint", metavar="R",
                   help="*_retrieval_trainingfree.pth (NAVER's retrieval add-on) (default: "
                        "retrieval.checkpoint of --params; required)")
    p.add_argument("--codebook", default=None,
                   help="*_retrieval_codebook.pkl (default: retrieval.codebook of --params when "
                        "--retrieval-checkpoint is not given, else beside R, named as the "
                        "reference does)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (DIR above)")
    p.add_argument("--pairs", default=None,
                   help="retrieval-NA-K | swin-W[-noncyclic] | logwin-W[-noncyclic] | oneref-R "
                        "| complete (default: the demo's retrieval-min(20,N)-min(N-1,10))")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the random first key image of retrieval-NA-K, 0 to 2**32 - 1 "
                        "(numpy legacy RNG, as the reference draws it)")
    p.add_argument("--symmetrize", action="store_true",
                   help="also write every pair reversed (the reference's pairwise inference); "
                        "without it, retrieval-NA-K may give a pair both ways already, as the "
                        "reference's pair set does")
    p.add_argument("--size", type=int, choices=SIZES,
                   help="network input size in pixels: 512 or 384 the long side, 224 a "
                        "224x224 centre crop (the short side scaled to 224); 512 as the "
                        "reference's retrieval, smaller is faster on a CPU and ranks less "
                        "reliably (default: --params' image_size, else 512)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing output folder")
    p.set_defaults(func=_cmd_retrieve)


def _settings(args: argparse.Namespace) -> Tuple[str, str, int, str, Optional[str], int]:
    """(checkpoint, device, size, retrieval checkpoint, codebook, cpu_threads) of --params
    with the options applied, as build-map takes them: a --params codebook only with its
    retrieval checkpoint.
    InputError for a network or retrieval checkpoint given nowhere."""
    from .cli_options import load_config

    cfg = load_config(args)  # --checkpoint, --device, --size over --params, validated
    if not cfg.model.checkpoint:
        raise InputError("retrieve runs the network: pass --checkpoint CKPT (the MASt3R "
                         "network), or set 'checkpoint' in --params")
    rc, codebook = args.retrieval_checkpoint, args.codebook
    if not rc:
        rc, codebook = cfg.retrieval.checkpoint, codebook or cfg.retrieval.codebook or None
    if not rc:
        raise InputError("retrieve needs the retrieval model: pass --retrieval-checkpoint "
                         "R (*_retrieval_trainingfree.pth), or set retrieval.checkpoint in "
                         "--params")
    return (cfg.model.checkpoint, cfg.model.device, cfg.model.image_size, rc, codebook,
            cfg.model.cpu_threads)


def _cmd_retrieve(args: argparse.Namespace) -> int:
    checkpoint, device, size, retrieval_checkpoint, codebook, threads = _settings(args)
    _check_names(args.images)
    check_seed(args.seed)
    check_output_folder(args.out, args.overwrite, OUT_FILES, OUT_FILES)
    n = len(args.images)
    make_pairs(n, args.pairs or default_pairs(n), np.zeros((n, n)))  # reject a bad --pairs early
    for path in args.images:
        if os.path.isdir(path):
            raise InputError(f"{path} is a folder, not an image file: give the image files (a "
                             f"shell glob such as {image_glob_hint(path)} expands to them)")
        if not os.path.isfile(path):
            # imported here: the image_codec package imports OpenCV, which --help must not load
            from ..core.image_codec.files import image_not_found

            raise InputError(image_not_found(path))
    sim, chosen = run_retrieve(args.images, checkpoint, retrieval_checkpoint,
                               args.out, codebook=codebook, pairs=args.pairs,
                               seed=args.seed, device=device, symmetrize=args.symmetrize,
                               overwrite=args.overwrite, size=size, cpu_threads=threads)
    sys.stdout.write(summary_line(args.out, sim.shape, len(chosen)))
    return 0


def summary_line(out: str, shape: Tuple[int, ...], num_pairs: int) -> str:
    """retrieve's last line: the similarity's shape and the number of pairs written."""
    return (f"retrieve {out}: similarity {shape[0]}x{shape[1]}, {num_pairs} "
            f"pair{'s' * (num_pairs != 1)} -> pairs.txt, similarity.npy\n")
