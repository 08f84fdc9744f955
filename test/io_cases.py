"""Build a field case's inputs (``shared/cases/<case>/make_inputs.py``) in a test's tmp folder.

Tests that use it skip cleanly when ``shared/`` is absent; each such test has a self-contained
twin that builds equivalent small inputs itself.
"""

from __future__ import annotations

from pathlib import Path


def make_case_inputs(case: str, out_dir: Path, timeout_s: float = 300.0) -> Path:
    """The case's make_inputs.py output in ``out_dir`` (`case_inputs.make_case`: run once per
    test run in this process, copied for each test; ``timeout_s`` is kept for its callers and
    unused). It was a subprocess per call: a fresh interpreter re-imported numpy, cv2, rosbags
    and mast3r_ros each time, and test_image_codec built cases test_field_cases builds too."""
    from case_inputs import make_case

    return make_case(case, Path(out_dir))
