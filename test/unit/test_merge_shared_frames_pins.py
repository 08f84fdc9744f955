"""Pin from the mutation audit docs/bench/mutation_cpu_2026-12-06w: merge-maps measures where
two maps overlap (`map_merge._check_overlap`) only when B shares no frame with A or shares
frames at other poses; a B holding copies of A's frames at A's poses already shows one frame,
and is merged without that measurement (it was skipped before the shared-frames change too)."""

from __future__ import annotations

from test_merge_overlap import CAM, room  # noqa: F401 - the module's fixture

from mast3r_ros.core.keyframes import write_map
from mast3r_ros.core.map_check import overlap
from mast3r_ros.replay import map_build
from mast3r_ros.replay.synthetic import render_frames


def test_copies_at_a_s_poses_skip_the_overlap_measurement(room, tmp_path, monkeypatch):  # noqa: F811
    d, a, frames = room
    a_frames = list(render_frames(16, CAM, seed=0))[0::2]
    same = write_map(str(d / "pins_shared_same"),
                     [(f.rgb, CAM, f.map_from_cam, f.stamp_ns, f.depth_m)
                      for f in a_frames[:2] + frames])

    def measured(*args, **kwargs):
        raise AssertionError("check_across ran for a B sharing A's frames at A's poses")

    monkeypatch.setattr(overlap, "check_across", measured)
    assert map_build.merge_maps(a, same, str(tmp_path / "merged")) == 16
