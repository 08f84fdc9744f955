"""metrics.json's ``consistent`` beside a healthy camera's verdict: the frames of redkitchen's
right camera scatter 3x their own sigmas (focal chi2/dof 9.3, principal point 11.5 / 9.0), so
``consistent`` is false next to ``fx_off: false`` and the table's 'not off'. The file says what
that means (``consistent_note``) and the table row says the same."""

from mast3r_ros.core.focal_evidence import FocalFit, RunFocalEvidence
from mast3r_ros.core.principal_point_evidence import (PrincipalPointFit,
                                                      RunPrincipalPointEvidence)
from mast3r_ros.replay.metrics_table import (_camera_focal_row,
                                             _camera_principal_point_row)

# a right camera (scale 1, offset 0) whose frames scatter 3x the sigmas they claim
_WOBBLE = [0.03, -0.03, 0.02, -0.02, 0.01, -0.01, 0.03, -0.03]


def _run():
    focal, pp = RunFocalEvidence(0.05), RunPrincipalPointEvidence()
    for w in _WOBBLE:
        fit = FocalFit(1.0 + w, 0.007, 585.0,
                       principal_point=PrincipalPointFit(30 * w, -30 * w, 0.3, 0.3, 320.0, 240.0))
        focal.add(fit)
        pp.add(fit)
    return focal.report(), pp.report()


def test_a_healthy_camera_whose_frames_scatter_says_consistent_false_is_no_verdict():
    cf, cp = _run()
    assert cf["consistent"] is False and cf["fx_off"] is False and cf["chi2_per_dof"] > 3
    note = cf["consistent_note"]
    assert "scatter" in note and "x their own sigmas" in note
    assert "not a verdict on the camera: 'fx_off' is" in note
    for axis in ("cx", "cy"):
        assert cp[axis]["consistent"] is False and cp[axis]["off"] is False
        assert "not a verdict on the camera: 'off' is" in cp[axis]["consistent_note"]
    # the table tells the same story: not off, and the frames scatter more than they say
    row = _camera_focal_row({**cf, "frames_passed": 8})
    assert "not off by more than" in row and "frames scatter" in row and "sigma widened" in row
    row = _camera_principal_point_row(cp)
    assert "not off by more than" in row and "cx frames scatter" in row
    assert "cy frames scatter" in row


def test_consistent_frames_and_untested_ones_say_so():
    from mast3r_ros.core.run_evidence import consistent_note

    assert consistent_note(True, 0.8, "off").startswith("the frames scatter as their own sigmas")
    assert consistent_note(None, None, "off") is None
    focal = RunFocalEvidence(0.05)
    focal.add(FocalFit(1.0, 0.01, 585.0))
    assert focal.report()["consistent_note"] is None  # one frame: no test
