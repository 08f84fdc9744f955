"""check-map matches keyframes with OpenCV only: it imported torch (2-4 s a call on a loaded
2-core machine) through `core.devices`, for setting the cpu_threads it does not use in torch.
The same kind of pin as merge-maps' (test_merge_maps_no_torch.py)."""

from test_merge_maps_no_torch import run_fresh_python

_SCRIPT = r"""
import sys
from mast3r_ros.core.keyframes import MapWriter
from mast3r_ros.replay.synthetic import default_intrinsics, render_frames

frames = list(render_frames(40, default_intrinsics(160, 120), indices=range(0, 8, 2)))
with MapWriter(sys.argv[1] + "/m") as w:
    for f in frames:
        w.add_keyframe(f.rgb, f.intrinsics, f.map_from_cam, f.stamp_ns, f.depth_m)
    w.commit()
with open(sys.argv[1] + "/p.yaml", "w") as fh:
    fh.write("/**:\n  ros__parameters:\n    cpu_threads: 1\n")
assert "torch" not in sys.modules, "writing the map imported torch"
from mast3r_ros.replay.cli import main
for extra in ([], ["--params", sys.argv[1] + "/p.yaml"]):
    rc = main(["check-map", sys.argv[1] + "/m", "--log-level", "warning"] + extra)
    print("rc", rc, "torch imported:", "torch" in sys.modules)
"""


def test_check_map_does_not_import_torch(tmp_path):
    out = run_fresh_python(_SCRIPT, tmp_path)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("rc ")]
    assert lines == ["rc 0 torch imported: False"] * 2, out.stdout + out.stderr
