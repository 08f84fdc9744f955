"""merge-maps reads and writes map files only: it imported torch (2-4 s of an 8 s merge of two
300-keyframe maps on a loaded 2-core machine) for its progress bars alone, through
`replay.pipeline`'s import of `core.devices`."""

import os
import subprocess
import sys

_SCRIPT = r"""
import sys
from mast3r_ros.core.keyframes import MapWriter
from mast3r_ros.replay.synthetic import default_intrinsics, render_frames

assert "torch" not in sys.modules
frames = list(render_frames(40, default_intrinsics(160, 120), indices=range(0, 8, 2)))
for name, offset in (("a", 0), ("b", 10**12)):
    with MapWriter(sys.argv[1] + "/" + name) as w:
        for f in frames:
            w.add_keyframe(f.rgb, f.intrinsics, f.map_from_cam, f.stamp_ns + offset, f.depth_m)
        w.commit()
assert "torch" not in sys.modules, "writing the maps imported torch"
from mast3r_ros.replay.cli import main
rc = main(["merge-maps", sys.argv[1] + "/a", sys.argv[1] + "/b", "--out", sys.argv[1] + "/c",
           "--log-level", "warning"])
print("rc", rc, "torch imported:", "torch" in sys.modules)
"""


def run_fresh_python(script, tmp_path):
    """``script`` run by a fresh interpreter (nothing imported yet) with ``tmp_path`` as its
    argument and this checkout first on its path; the completed process, exit 0 asserted."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))]
        + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True,
                         text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    return out


def test_merge_maps_does_not_import_torch(tmp_path):
    out = run_fresh_python(_SCRIPT, tmp_path)
    assert "rc 0 torch imported: False" in out.stdout, out.stdout + out.stderr
    assert os.path.isfile(tmp_path / "c" / "manifest.json")
