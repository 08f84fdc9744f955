"""The encodings, encoding stores, ASMK inverted files and retrieval indexes a `MapWriter` adds to
the map it builds: format v1 (one npz per encoding set) and v2/v3 (an `EncodingStore` of chunks,
its chunk table -- binary in v3 -- and the `RetrievalIndex` of its pooled descriptors).
`WriterEncodings` is a part of `MapWriter` (writer.py), as `MapEncodings` is of `KeyframeMap`."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..encoding_store import DEFAULT_CHUNK_SIZE, EncodingStoreWriter, StoreTable
from ..errors import InputError
from ..retrieval_index import RetrievalIndex
from .layout import (
    EncodingSet,
    asmk_file,
    encoding_file,
    encoding_folder,
    content_field,
    encodings_to_arrays,
    npz_bytes,
    sha256_hex,
)
from .table import CHUNK_TABLE, chunk_table_json, write_chunk_table


class WriterEncodings:
    """`MapWriter`'s cached encodings, encoding stores, ASMK files and retrieval indexes (uses its
    build folder, file table, records and state)."""

    def add_encodings(self, enc: EncodingSet, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        """Store cached encoder outputs (one per keyframe added, in order)."""
        self._require_open("add encodings")
        if len(enc.per_keyframe) != len(self.records):
            raise InputError(f"{len(enc.per_keyframe)} encodings for {len(self.records)} keyframes")
        if self.version == 1:
            rel = encoding_file(enc.identity, enc.image_size)
            self._put(rel, npz_bytes(encodings_to_arrays(enc)))
            self.encodings.append({"identity": enc.identity, "image_size": int(enc.image_size),
                                   "file": rel, **content_field(enc.content_id)})
            return
        # no fsync per chunk: `commit` flushes the map's files together
        w = EncodingStoreWriter(self.encoding_dir(enc.identity, enc.image_size), chunk_size,
                                durable=False)
        for d, to_orig, glob in zip(enc.per_keyframe, enc.to_orig, enc.global_desc):
            w.append({**d, "to_orig": np.asarray(to_orig, np.float64),
                      "global": np.asarray(glob, np.float32)})
        self.add_encoding_store(enc.identity, enc.image_size, w.close(),
                                np.asarray(enc.global_desc, np.float32), enc.content_id)

    def encoding_dir(self, identity: str, image_size: int) -> str:
        """v2/v3: the absolute store folder of (identity, size) inside the build folder (parallel
        builds stage their shards there)."""
        self._require_open("add an encoding store")
        full = os.path.join(self.tmp, encoding_folder(identity, image_size))
        os.makedirs(full, exist_ok=True)
        return full

    def add_encoding_store(self, identity: str, image_size: int, table: StoreTable,
                           global_desc: np.ndarray, content_id: str = "") -> None:
        """v2/v3: register a store written into `encoding_dir` (chunk files in ``table``) and
        index its pooled descriptors ``global_desc`` (K, C) float32 unit-norm; ``content_id``:
        the full-content id of the weights that encoded them (recorded when not "")."""
        self._require_open("add an encoding store")
        if self.version < 2:
            raise InputError("encoding stores need map format version 2 or later")
        if table.num_keyframes != len(self.records):
            raise InputError(f"{table.num_keyframes} encodings for {len(self.records)} keyframes")
        rel = encoding_folder(identity, image_size)
        if self.version >= 3:  # chunk sizes and checksums in the store's binary chunk table
            self.files[f"{rel}/{CHUNK_TABLE}"] = write_chunk_table(
                os.path.join(self.tmp, rel), table)
            table_json = chunk_table_json(table)
        else:
            for name, meta in table.files.items():
                self.files[f"{rel}/{name}"] = dict(meta)
            table_json = table.to_json()
        self.store_tables[(identity, int(image_size))] = table
        pooled = f"{rel}/pooled"
        self._save_index(pooled, global_desc)
        self.encodings = [e for e in self.encodings
                          if (e["identity"], e["image_size"]) != (identity, int(image_size))]
        self.encodings.append({"identity": identity, "image_size": int(image_size),
                               "store": rel, "table": table_json, "pooled_index": pooled,
                               **content_field(content_id)})

    def add_asmk(self, index: Any, encoder_identity: str, image_size: int) -> None:
        """v2/v3: store an ASMK inverted file (`core.asmk.AsmkIndex`, one image per keyframe in
        map order) of the retrieval model ``index.identity`` applied to the encoder output of
        ``encoder_identity`` at ``image_size`` (the full-content id of the map's encodings of that
        key, when recorded, is recorded with it: ``encoder_content_id``)."""
        self._require_open("add an ASMK index")
        if self.version < 2:
            raise InputError("ASMK indexes need map format version 2 or later")
        if index.num_images != len(self.records):
            raise InputError(f"ASMK index of {index.num_images} images for "
                             f"{len(self.records)} keyframes")
        rel = asmk_file(index.identity, encoder_identity, image_size)
        full = os.path.join(self.tmp, rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        index.save(full)
        with open(full, "rb") as fh:
            data = fh.read()
        self.files[rel] = {"sha256": sha256_hex(data), "bytes": len(data)}
        # the weights of the encodings it was built on: those the map holds for that key
        content = next((e.get("content_id", "") for e in self.encodings
                        if (e["identity"], e["image_size"]) == (encoder_identity,
                                                                int(image_size))), "")
        self.asmk.append({"identity": index.identity, "encoder_identity": encoder_identity,
                          "image_size": int(image_size), "file": rel,
                          **({"encoder_content_id": content} if content else {})})

    def _save_index(self, rel: str, descs: np.ndarray) -> None:
        files = RetrievalIndex.build(descs, self.index_params).save(os.path.join(self.tmp, rel))
        for name, meta in files.items():
            self.files[f"{rel}/{name}"] = dict(meta)
