"""Pin from mutation audit 06j on core/model/engine.py: `Mast3rEngine.from_checkpoint` given
warmup shapes and no batch sizes warms keyframe batch 1 (its documented default), the batch a
single-candidate frame runs."""

from __future__ import annotations

from mast3r_ros.core.model import engine as engine_mod


def test_from_checkpoint_warms_batch_one_by_default(tiny_ckpt, monkeypatch):
    calls = []
    monkeypatch.setattr(engine_mod.Mast3rEngine, "warmup",
                        lambda self, shapes, batches=(1,): calls.append((list(shapes),
                                                                         tuple(batches))))
    engine_mod.Mast3rEngine.from_checkpoint(tiny_ckpt, warmup=[(224, 224)]).close()
    assert calls == [([(224, 224)], (1,))]
