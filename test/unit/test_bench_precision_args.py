"""bench/precision_fp16.py's arguments: --size 384 ran at 512x384 and reported it as asked
(only 224 and 512 exist there), --layers 0 or a word crashed with a traceback; all are refused
with one argparse line now."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "precision_fp16.py"


@pytest.mark.parametrize("args, want", [(["--size", "384"], "invalid choice: '384'"),
                                        (["--layers", "0"], "number of layers >= 1"),
                                        (["--layers", "x"], "number of layers >= 1")])
def test_bad_arguments_are_refused(args, want):
    r = subprocess.run([sys.executable, str(SCRIPT), "--tiny", "--variants", "now", *args],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 2, (r.stdout[-1000:], r.stderr[-2000:])
    assert want in r.stderr
