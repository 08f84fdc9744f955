"""Pin from the mutation audit docs/bench/mutation_cpu_2026-12-06w: the note that an index was
written without faiss is said from the approximate index's threshold on, that count included
(the build's own rule: `len >= approx_threshold` is approximate where faiss is)."""

from __future__ import annotations

import logging

import pytest

from test_retrieval_index import _descs

from mast3r_ros.core import retrieval_index as ri
from mast3r_ros.core.retrieval_index import IndexParams, RetrievalIndex


def test_an_exact_index_of_exactly_the_threshold_written_without_faiss_is_said(
        tmp_path, monkeypatch, caplog):
    pytest.importorskip("faiss")
    db = _descs(1000)
    assert RetrievalIndex.build(db, IndexParams(approx_threshold=1000)).kind != "exact"
    monkeypatch.setattr(ri, "faiss_available", lambda: False)
    RetrievalIndex.build(db, IndexParams(approx_threshold=1000)).save(str(tmp_path / "a"))
    monkeypatch.undo()
    with caplog.at_level(logging.INFO, logger=ri.__name__):
        back = RetrievalIndex.load(str(tmp_path / "a"))
    assert back.kind == "exact"
    assert [r for r in caplog.records if "written without faiss" in r.message], caplog.text
