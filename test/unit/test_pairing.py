"""Pairing strategies: every record of the retrieval_tiny fixture, and malformed strings."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.pairing import (farthest_point_sampling, make_pairs, random_start,
                                     retrieval_pairs)


@pytest.fixture(scope="module")
def rt(ref_fixtures):
    d = ref_fixtures / "retrieval_tiny"
    if not (d / "outputs.npz").is_file():
        pytest.skip("retrieval_tiny fixture missing")
    with np.load(d / "outputs.npz") as z:
        out = {k: z[k] for k in z.files}
    return out, json.loads((d / "meta.json").read_text())


def _rows(a):
    return sorted(tuple(int(v) for v in r) for r in np.asarray(a).reshape(-1, 2))


def test_fps_pairs_and_keys_equal_reference(rt):
    out, meta = rt
    sim = out["sim"].astype(np.float64)
    assert len(meta["pairs"]) == 31
    for rec in meta["pairs"]:
        tag = rec["tag"]
        pairs, keys = retrieval_pairs(sim, rec["Na"], rec["k"], rec["start"] or 0)
        assert sorted(pairs) == _rows(out[f"{tag}_pairs"]), tag
        assert keys == out[f"{tag}_keys"].tolist(), tag
        assert len(pairs) == rec["n_pairs"]


def test_seed_draws_the_reference_start(rt):
    out, _ = rt
    for s, seed in enumerate(out["start_seed"].tolist()):
        assert random_start(6, seed) == s


def test_farthest_point_sampling_with_threshold(rt):
    out, _ = rt
    dist = 1.0 - out["sim"].astype(np.float64)
    for s in range(6):
        for thr in (95, 90):
            keys, d = farthest_point_sampling(dist, s, None, thr / 100)
            assert keys == out[f"fpsamp_thr{thr}_s{s}_idx"].tolist()
            np.testing.assert_allclose(d, out[f"fpsamp_thr{thr}_s{s}_dist"], atol=1e-6)


@pytest.mark.parametrize("strategy,record", [
    ("complete", "graph_complete"), ("swin-2", "graph_swin_2"),
    ("swin-2-noncyclic", "graph_swin_2_noncyclic"), ("logwin-2", "graph_logwin_2"),
    ("logwin-2-noncyclic", "graph_logwin_2_noncyclic"), ("oneref-2", "graph_oneref_2"),
    ("retrieval-6-5", "graph_retrieval_6_5_s0"), ("retrieval-3-2", "graph_retrieval_3_2_s0")])
def test_scene_graphs_equal_reference(rt, strategy, record):
    out, _ = rt
    pairs = make_pairs(6, strategy, out["sim"].astype(np.float64), start=0, symmetrize=True)
    assert _rows(pairs) == _rows(out[record])


def test_malformed_strategies():
    sim = np.eye(4)
    for bad in ("retrieval-20-1-10-1", "retrieval-3", "swin-x", "nope", "oneref-9",
                "swin-2-cyclic", "complete-3"):
        with pytest.raises(InputError):
            make_pairs(4, bad, sim)
    with pytest.raises(InputError, match="similarity"):
        make_pairs(4, "retrieval-2-1", None)
    assert make_pairs(4, "swin") == make_pairs(4, "swin-3")
