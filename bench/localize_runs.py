"""What the wrong-intrinsics benches share (bench_principal_point, bench_wrong_k): a TUM
folder's camera.yaml with its K and P changed, a sift localize run with its output silenced,
and the result JSON written whole or not at all."""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any, Dict, Optional

import yaml

from mast3r_ros.replay.cli import main as cli_main


def camera_yaml(src: str, scale: float, dcx: float = 0.0, dcy: float = 0.0) -> str:
    """``src``'s camera.yaml with fx, fy (K and P) times ``scale``, cx + ``dcx``, cy + ``dcy``
    (pixels)."""
    with open(os.path.join(src, "camera.yaml"), encoding="utf-8") as f:
        d = yaml.safe_load(f)
    for key, f_at, c_at in (("camera_matrix", (0, 4), (2, 5)),
                            ("projection_matrix", (0, 5), (2, 6))):
        for i in f_at:
            d[key]["data"][i] = float(d[key]["data"][i]) * scale
        d[key]["data"][c_at[0]] = float(d[key]["data"][c_at[0]]) + dcx
        d[key]["data"][c_at[1]] = float(d[key]["data"][c_at[1]]) + dcy
    return yaml.safe_dump(d, sort_keys=False)


def localize_quietly(query: str, map_dir: str, out: str, camera: Optional[str],
                     *extra: str) -> None:
    """`mast3r-ros localize` of ``query`` against ``map_dir`` into ``out`` (sift, --overwrite,
    ``extra`` options, ``camera`` as --camera-info where given), its output silenced;
    SystemExit when it exits non-zero."""
    args = ["localize", query, "--map", map_dir, "--out", out, "--matcher", "sift",
            "--overwrite", *extra, "--log-level", "error"]
    if camera:
        args += ["--camera-info", camera]
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null), \
            contextlib.redirect_stderr(null):
        rc = cli_main(args)
    if rc != 0:
        raise SystemExit(f"localize {out} exited {rc}")


def write_result(path: Optional[str], result: Dict[str, Any]) -> None:
    """``result`` as JSON (indent 1) to ``path`` (None: not written), its folders made, through
    a temporary file beside it (a bench cut short leaves the previous result)."""
    if not path:
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)
    os.replace(tmp, path)
