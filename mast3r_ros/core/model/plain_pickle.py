"""What a plain ``pickle.dump`` file handed over as a checkpoint is, for the error message (and
what a text file is: `describe_text_file`; a keyframe map folder: `describe_map_folder`).

``torch.save`` writes a zip archive; a file that is instead one whole pickle stream is not a
PyTorch checkpoint at all. The usual one is the ASMK codebook ``*_retrieval_codebook.pkl``
passed as a checkpoint, or any ``pickle.dump`` of plain data: neither is "possibly crafted",
and the message should say what the file is and where it goes. It is read with the codebook's
array-only unpickler (`asmk.unpickle`: numpy arrays and plain containers, nothing else is
resolved, nothing is run); a pickle naming any other global is left to the caller's refusal.
`archive_args` reads the ``args`` of a torch.save archive without its tensors (which kind of
checkpoint a file is, cheaply).
"""

from __future__ import annotations

import argparse
import collections
import os
import pickle
import re
import zipfile
from typing import Any, Optional

import torch

from ..text_files import image_kind
from .given_as import FLAGS, given_here, GivenAs


def _plain_contents(path: str):
    """(True, object) when ``path`` is one whole pickle of plain data (dicts, lists, numbers,
    strings, numpy arrays); (False, None) otherwise (a zip archive, a stream cut short or not a
    pickle, a pickle naming other globals, or a legacy torch.save file)."""
    from ..asmk.unpickle import _ArrayOnlyUnpickler

    if zipfile.is_zipfile(path):
        return False, None
    try:
        with open(path, "rb") as fh:
            obj = _ArrayOnlyUnpickler(fh).load()
    except Exception:  # noqa: BLE001 - refused, cut short or foreign: not plain data
        return False, None
    if isinstance(obj, int) and obj == getattr(torch.serialization, "MAGIC_NUMBER", None):
        return False, None  # the first record of a legacy (non-zip) torch.save file
    return True, obj


def _looks_like_codebook(obj) -> bool:
    return isinstance(obj, dict) and obj.get("type") == "Codebook" and isinstance(
        obj.get("state"), dict) and "centroids" in obj["state"]


def describe_plain_pickle(path: str, what: str, given: Optional[GivenAs] = None) -> Optional[str]:
    """The message for a ``what`` (e.g. 'checkpoint', 'retrieval checkpoint') file that is a
    plain pickle of harmless data, without the path; None when it is not one (then the caller's
    own wording applies: refusal, truncation). ``given``: how the user gives each file (the
    fix's words). Reads the file; runs nothing in it."""
    given = given_here(given)
    plain, obj = _plain_contents(path)
    if not plain:
        return None
    if _looks_like_codebook(obj):
        return (f"this is an ASMK codebook (a plain pickle), not a PyTorch {what}: pass it as "
                f"{given.codebook_as}, with the *_retrieval_trainingfree.pth as "
                f"{given.retrieval} and the MASt3R network .pth as {given.checkpoint}")
    return (f"a plain Python pickle (pickle.dump of a {type(obj).__name__}), not a PyTorch "
            f"{what} (torch.save writes a zip archive): give the {what} .pth file "
            f"({where_to_download(what)})")


RETRIEVAL_WAYS = FLAGS.retrieval_ways

# the user-docs section (page: 'heading') that gives a file's download, by what the file is
_DOWNLOAD_SECTIONS = {"retrieval checkpoint": "docs/pair_and_retrieve.md: 'Image retrieval'"}


def where_to_download(what: str) -> str:
    """The user-docs section a message about a ``what`` file names for its download: the
    retrieval head's is on docs/pair_and_retrieve.md, the network's in the README."""
    return _DOWNLOAD_SECTIONS.get(what, "README: 'Model weights'")


def describe_map_folder(folder: str, retrieval: bool = False, given: Optional[GivenAs] = None
                        ) -> Optional[str]:
    """The message for a keyframe map folder given as a checkpoint, naming the checkpoint its
    build_config.yaml records (or that it was built without one); None for any other folder.
    ``retrieval``: given as the retrieval checkpoint (`_describe_retrieval`, its fix in the
    words of ``given``)."""
    given = given_here(given)
    from ..map_nesting import is_keyframe_map

    if not is_keyframe_map(folder):
        return None
    if retrieval:
        return _describe_retrieval(folder, given.retrieval_ways)
    head = (f"{folder} is a keyframe map, not a checkpoint; pass the MASt3R .pth (or Hugging "
            "Face folder)")
    built, matcher, _ = _map_build_settings(folder)
    if built:
        return f"{head} it was built with: {built} (as its build_config.yaml records)"
    if matcher == "sift":
        return f"{head}; the map was built with the SIFT matcher, without the network"
    return f"{head} it was built with"


def _describe_retrieval(folder: str, ways: str) -> str:
    """A keyframe map given as the retrieval checkpoint: the one it was built with when it
    holds an ASMK index (its manifest's ``asmk``) and its build_config.yaml records it, else
    whether it was built with one at all; ``ways``: how the user gives it."""
    from ..map_nesting import read_manifest

    head = f"{folder} is a keyframe map, not a retrieval checkpoint"
    try:
        indexed = bool(read_manifest(folder).get("asmk"))
    except (OSError, ValueError, AttributeError):
        indexed = False
    recorded = _map_build_settings(folder)[2]
    if indexed and recorded:
        return (f"{head}; it was built with {recorded} (as its build_config.yaml records): "
                f"pass that file ({ways})")
    if indexed:
        return (f"{head}; pass the *_retrieval_trainingfree.pth it was built with (its "
                f"build_config.yaml does not record it; {ways})")
    return (f"{head}, and it was built without one (it holds no ASMK index): pass the "
            f"*_retrieval_trainingfree.pth file itself ({ways})")


def _map_build_settings(folder: str):
    """(checkpoint, matcher, retrieval checkpoint) of a map's build_config.yaml (the last node
    block that sets each, as ROS merges blocks in file order); Nones when it cannot be read."""
    import os

    import yaml

    built = matcher = retrieval = None
    try:
        with open(os.path.join(folder, "build_config.yaml"), encoding="utf-8-sig") as fh:
            doc = yaml.safe_load(fh)
        for block in doc.values():
            params = block.get("ros__parameters") if isinstance(block, dict) else None
            if isinstance(params, dict):
                built = params.get("checkpoint", built)
                matcher = params.get("matcher", matcher)
                nested = params.get("retrieval")
                retrieval = params.get("retrieval.checkpoint", nested.get(
                    "checkpoint", retrieval) if isinstance(nested, dict) else retrieval)
    except Exception:  # noqa: BLE001 - no file, not YAML, another layout: nothing to name
        return None, None, None
    return tuple(v if isinstance(v, str) and v else None for v in (built, matcher, retrieval))


# A download that fetched a stand-in rather than the file: Git LFS's pointer (a clone without
# `git lfs`, a "raw" link) or a web page (an error, login or redirect page saved as the .pth).
LFS_POINTER = b"version https://git-lfs.github.com/spec/"
_HTML_STARTS = (b"<!doctype html", b"<html")


def describe_text_file(path: str, what: str, other_text: Optional[str] = None) -> Optional[str]:
    """The message for a ``what`` file that is text, without the path; None when it is not
    text (a checkpoint, zip or pickle, always holds bytes outside it). A Git LFS pointer or an
    HTML page is a failed download (fetch the real file); other text (rgb.txt, a YAML) is the
    wrong file given: ``other_text`` says what to give instead (default: the .pth)."""
    from .checkpoint import _size_text

    with open(path, "rb") as fh:
        data = fh.read(4096)
    bare = data.removeprefix(b"\xef\xbb\xbf").lstrip()
    if bare.startswith(LFS_POINTER):
        size = re.search(rb"^size (\d+)\s*$", data, re.MULTILINE)
        real = f" ({_size_text(int(size.group(1)))})" if size else ""
        return (f"this is a Git LFS pointer, a small text file standing in for the {what}"
                f"{real}: the download fetched the pointer, not the file; fetch the real file "
                "(`git lfs pull` in the clone it came from) or download it again")
    if bare[:20].lower().startswith(_HTML_STARTS):
        first = bare.decode("utf-8", "replace").splitlines()[0][:60]
        return (f"this is an HTML page (it begins {first!r}), not a {what}: the download "
                "failed and saved a web page (an error, login or redirect page) in its place; "
                "download the file again")
    first = _text_first_line(data)
    if first is None:
        return None
    if other_text is None:
        other_text = "not a torch.save checkpoint; give the checkpoint file (.pth) itself"
    return f"this is a text file (it begins {first!r}), {other_text}"


def refuse_empty_or_text(path: str, what: str = "checkpoint",
                         given: Optional[GivenAs] = None) -> None:
    """`CheckpointError`, worded as `checkpoint.read_torch_archive` words it, for a ``what``
    file that is empty or text (`describe_text_file`: a Git LFS pointer, a saved web page, a
    YAML), found from its first 4 KB, or a zip archive (torch.save's) cut short, found from its
    end (an interrupted download), or a file in no format the loader reads
    (`file_format.format_problem`: random bytes, a zip archive of other files): for the callers
    that check a checkpoint before minutes of other work (`checkpoint.require_checkpoint`, the
    retrieval checkpoint's check, check-params), which found only a missing file; a model in
    another format (`describe_model_format`: TorchScript, ONNX, TensorRT, NumPy) too. A folder
    (a Hugging Face checkpoint) is left to the caller. ``given``: the fix's words."""
    given = given_here(given)
    from ..errors import CheckpointError

    if not os.path.isfile(path):
        return
    if os.path.getsize(path) == 0:
        raise CheckpointError(f"{path}: cannot read the {what} (empty file, 0 bytes); the file "
                              "is truncated or not a checkpoint: download or copy it again")
    text = describe_text_file(path, what)
    if text is None:  # a TorchScript module, an ONNX model, a TensorRT engine, a .npz
        text = describe_model_format(path, what, given)
    if text is not None:
        raise CheckpointError(f"{path}: cannot read the {what}: {text}")
    from .file_format import format_problem

    # torch.save's archive with its end cut off, random bytes, a zip of other files
    found = format_problem(path)
    if found:
        from .checkpoint import _size_text

        raise CheckpointError(f"{path}: cannot read the {what} ({_size_text(os.path.getsize(path))}"
                              f", {found}); the file is truncated or not a checkpoint: download "
                              "or copy it again")


def _from_the_pth(given: GivenAs) -> str:
    """The fix for a network in another format: the .pth it was made from."""
    return (f"{given.checkpoint_ways} takes the PyTorch checkpoint (.pth, or a Hugging Face "
            "folder) it was made from")


def describe_model_format(path: str, what: str = "checkpoint", given: Optional[GivenAs] = None
                          ) -> Optional[str]:
    """The message for a ``what`` file that is a model in another format than a checkpoint,
    without the path: a TorchScript module (``torch.jit.save``: a zip archive holding code/), a
    NumPy .npy / .npz file, an ONNX model (``export``'s .onnx) or a TensorRT engine (.engine,
    .plan, .trt: the `tensorrt` backend builds and caches its own), or an image file (JPEG,
    PNG, TIFF, BMP, GIF, WebP by its signature: arguments swapped); None for anything else.
    torch's own words for these ("Unsupported operand 8", "Cannot use weights_only=True with
    TorchScript archives") end in "download or copy it again", which does not help.
    ``given``: how the user gives the network checkpoint (the fix's words)."""
    given = given_here(given)
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
        names = zipfile.ZipFile(path).namelist() if zipfile.is_zipfile(path) else []
    except (OSError, zipfile.BadZipFile):
        return None
    image = image_kind(head)
    if image is not None:  # the arguments swapped: `pair a.png --checkpoint b.png model.pth`
        return (f"this is {image} image, not a PyTorch {what}: an image given where the {what} "
                f"goes (arguments swapped?); give the {what} .pth file ({where_to_download(what)})")
    ext = os.path.splitext(path)[1].lower()
    if any("/code/" in n or n.startswith("code/") or n.endswith("/constants.pkl")
           for n in names):
        kind = "a TorchScript module (torch.jit.save / torch.jit.trace: a compiled program)"
    elif head.startswith(b"\x93NUMPY") or (names and all(n.endswith(".npy") for n in names)):
        kind = "a NumPy array file (.npy / .npz)"
    elif ext == ".onnx":
        kind = "an ONNX model (what `mast3r-ros export` writes)"
    elif ext in (".engine", ".plan", ".trt"):
        kind = ("a TensorRT engine (the 'tensorrt' backend builds its engines from the "
                "checkpoint and caches them itself)")
    else:
        return None
    fix = _from_the_pth(given) if what == "checkpoint" else f"give the {what} .pth file"
    return f"this is {kind}, not a PyTorch {what}; {fix} ({where_to_download(what)})"


def describe_export_folder(folder: str, given: Optional[GivenAs] = None) -> Optional[str]:
    """The message for an ONNX export folder (`mast3r-ros export`'s encoder.onnx, decoder.onnx)
    given as a checkpoint, as `describe_model_format` says of one .onnx file; None for a folder
    holding no .onnx file. ``given``: the fix's words."""
    given = given_here(given)
    try:
        if not any(n.lower().endswith(".onnx") for n in os.listdir(folder)):
            return None
    except OSError:
        return None
    return (f"{folder} is an ONNX export folder (what `mast3r-ros export` writes), not a "
            f"PyTorch checkpoint; {_from_the_pth(given)} ({where_to_download('')})")


def _text_first_line(data: bytes) -> Optional[str]:
    """The first line (at most 60 characters) of ``data``, the head of a file, when it is UTF-8
    text holding a line break and no control characters but tabs and line ends; else None."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:  # may also be a multi-byte character cut at the head's end
        try:
            text = data[:-3].decode("utf-8") if len(data) == 4096 else ""
        except UnicodeDecodeError:
            return None
    text = text[1:] if text.startswith("\ufeff") else text  # a byte order mark
    if "\n" not in text or any(not c.isprintable() and c not in "\t\r\n" for c in text):
        return None
    return text.splitlines()[0][:60]


class _ArgsOnlyUnpickler(pickle.Unpickler):
    """Reads a torch.save archive's ``data.pkl`` without its tensors: storages are not loaded
    (persistent ids give None), tensor rebuilds give None, ``argparse.Namespace`` and plain
    containers are built, and any other global is refused. Nothing in the file is run."""

    _STUB = {("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_parameter"),
             ("torch._utils", "_rebuild_parameter_with_state")}

    def find_class(self, module, name):
        if (module, name) == ("argparse", "Namespace"):
            return argparse.Namespace
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) in self._STUB or (module == "torch" and name.endswith("Storage")):
            return lambda *a, **k: None
        raise pickle.UnpicklingError(f"global '{module}.{name}' is not read")

    def persistent_load(self, pid):
        return None


def archive_args(path: str) -> Any:
    """The ``args`` entry of a ``torch.save`` zip archive holding ``{'model', 'args'}``, read
    from its ``data.pkl`` alone (the tensors are not read: cheap for a 2 GB network file);
    None for anything else, an unreadable file included."""
    obj = archive_top(path)
    return obj.get("args") if isinstance(obj, dict) else None


def archive_top(path: str) -> Any:
    """The object a ``torch.save`` zip archive holds, read from its ``data.pkl`` alone, each
    tensor None (`_ArgsOnlyUnpickler`: cheap, nothing run); None for an unreadable file, one
    of other globals, or no torch.save archive."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
            if len(names) != 1:
                return None
            with zf.open(names[0]) as fh:
                obj = _ArgsOnlyUnpickler(fh).load()
    except Exception:  # noqa: BLE001 - not an archive, or not one we read: no answer
        return None
    return obj
