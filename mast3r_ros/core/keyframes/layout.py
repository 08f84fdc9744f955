"""The on-disk layout shared by the map writer and loader: names, records, checksums, arrays.

See the package docstring (`mast3r_ros.core.keyframes`) for the folder layout and the manifest.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
from typing import Any, Dict, List, Mapping, Optional

import numpy as np

from ..types import CameraIntrinsics

FORMAT_NAME = "mast3r_ros.keyframe_map"
FORMAT_VERSION = 3          # what the writer writes
READ_VERSIONS = (1, 2, 3)   # what the loader reads
MANIFEST = "manifest.json"
THUMBNAIL_INDEX = "retrieval/thumbnail"  # v2+: RetrievalIndex folder of the thumbnail descriptors


@dataclasses.dataclass
class Keyframe:
    """One keyframe's metadata; pixels are read on demand through `KeyframeMap`.

    ``id`` the manifest's stable id; ``stamp_ns`` the image stamp, integer nanoseconds;
    ``map_from_cam`` 4x4 float64, camera optical frame -> the map's ``map_frame``;
    ``image_file`` / ``depth_file`` paths relative to the map folder (``depth_file`` None: no
    depth); ``depth_scale`` raw depth-PNG units per metre (0 = no depth).
    """

    id: int
    stamp_ns: int
    intrinsics: CameraIntrinsics
    map_from_cam: np.ndarray
    image_file: str
    depth_file: Optional[str] = None
    depth_scale: float = 0.0


@dataclasses.dataclass
class EncodingSet:
    """Cached encoder output of every keyframe for one (checkpoint identity, image size).

    ``per_keyframe[i]`` is the ``Encoding.to_numpy()`` dict of keyframe i (map-list order),
    ``to_orig`` (K, 3, 3) float64 network-pixel -> original-pixel homographies, ``global_desc``
    (K, C) float32 unit-norm pooled descriptors; ``content_id`` (str) the full-content id of
    the weights, "" when the map predates it.
    """

    identity: str
    image_size: int
    per_keyframe: List[Dict[str, np.ndarray]]
    to_orig: np.ndarray
    global_desc: np.ndarray
    # the full-content id of the weights that encoded them (`content_id.content_identity`);
    # "": not recorded (a map built before it was, or an engine without one)
    content_id: str = ""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    bio = io.BytesIO()
    np.savez(bio, **arrays)
    return bio.getvalue()


def content_field(content_id: str) -> Dict[str, str]:
    """The manifest field of an encodings entry that records the full-content id of the weights
    that encoded them (``{"content_id": ...}``; none for "": unknown)."""
    return {"content_id": str(content_id)} if content_id else {}


def encoding_file(identity: str, image_size: int) -> str:
    """v1: the one ``.npz`` of an (identity, size)."""
    return f"encodings/{hashlib.sha1(identity.encode()).hexdigest()[:16]}_{int(image_size)}.npz"


def encoding_folder(identity: str, image_size: int) -> str:
    """v2/v3: the encoding-store folder of an (identity, size); its pooled-descriptor
    `RetrievalIndex` is the ``pooled`` folder inside it."""
    return f"encodings/{hashlib.sha1(identity.encode()).hexdigest()[:16]}_{int(image_size)}"


def asmk_file(retrieval_identity: str, encoder_identity: str, image_size: int) -> str:
    """v2/v3: the ASMK inverted file of a retrieval model applied to one encoder's output."""
    key = f"{retrieval_identity}|{encoder_identity}|{int(image_size)}"
    return f"retrieval/asmk_{hashlib.sha1(key.encode()).hexdigest()[:16]}.npz"


def intrinsics_to_json(c: CameraIntrinsics) -> Dict[str, Any]:
    return {"width": int(c.width), "height": int(c.height),
            "K": [float(v) for v in c.K.reshape(-1)], "dist": [float(v) for v in c.dist],
            "distortion_model": c.distortion_model}


def encodings_to_arrays(enc: EncodingSet) -> Dict[str, np.ndarray]:
    arrays: Dict[str, np.ndarray] = {
        "identity": np.array(enc.identity), "image_size": np.array(int(enc.image_size)),
        "to_orig": np.asarray(enc.to_orig, dtype=np.float64),
        "global": np.asarray(enc.global_desc, dtype=np.float32),
        "num_keyframes": np.array(len(enc.per_keyframe)),
    }
    for i, d in enumerate(enc.per_keyframe):
        for k, v in d.items():
            arrays[f"k{i}__{k}"] = np.asarray(v)
    return arrays
