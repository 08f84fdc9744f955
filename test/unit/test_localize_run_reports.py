"""What a localize run reports: the progress bar's total, metrics.json's shape with and without
ground truth, the latency statistics of a one-frame run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mast3r_ros.replay import localize_run
from mast3r_ros.replay.cli import main


def _localize(folder, sift_map: str, run: Path, *extra: str) -> dict:
    assert main(["localize", str(folder), "--map", sift_map, "--out", str(run), "--matcher",
                 "sift", "--log-level", "warning", *extra]) == 0
    return json.loads((run / "metrics.json").read_text())


def test_the_progress_bar_knows_how_many_frames_come(tum, sift_map, tmp_path, monkeypatch):
    totals = []
    real = localize_run.progress

    def spy(it, total, desc, *more, unit=None):
        totals.append(total)
        return real(it, total, desc, *more, unit=unit)

    monkeypatch.setattr(localize_run, "progress", spy)
    for i, extra in enumerate((["--stride", "3", "--max-frames", "2"], ["--stride", "5"], [])):
        run = tmp_path / f"run{i}"
        _localize(tum[1], sift_map, run, *extra)
        with open(run / "results.jsonl", encoding="utf-8") as fh:
            assert totals[-1] == sum(1 for _ in fh)  # the bar's total is the frames localized
    assert totals[0] == 2 and len(set(totals)) == 3


def test_metrics_json_has_the_same_keys_without_ground_truth(tum, sift_map, tmp_path):
    folder = tmp_path / "query"
    shutil.copytree(tum[1], folder)
    (folder / "groundtruth.txt").unlink()
    m = _localize(folder, sift_map, tmp_path / "run", "--max-frames", "3")
    with_gt = _localize(tum[1], sift_map, tmp_path / "run_gt", "--max-frames", "3")
    assert set(m) == set(with_gt)
    assert set(m["recall"]) == set(with_gt["recall"]) and set(m["recall"].values()) == {None}
    assert m["gross_errors"] is None and m["covariance"]["evaluated"] == 0
    # the sigma the node would publish needs no ground truth: the same frames, the same medians
    assert m["localized"] and m["covariance"]["position_sigma_m_median"] is not None
    for key in ("position_sigma_m_median", "rotation_sigma_deg_median"):
        assert m["covariance"][key] == pytest.approx(with_gt["covariance"][key]), key


@pytest.mark.parametrize("older_run", [True, False, "empty folder"])
def test_a_stopped_run_says_whether_an_older_run_is_still_there(tmp_path, caplog, older_run):
    """'OUT was not written (nor replaced)' after `demo --overwrite` had removed the older run
    with its map: 'not replaced' only when an older run is there, unchanged."""
    from mast3r_ros.replay.localize_run import _keep_partial

    out, tmp = tmp_path / "run", tmp_path / ".run-tmp"
    tmp.mkdir()
    (tmp / "results.jsonl").write_text('{"frame": 0}\n{"frame": 1}\n')
    if older_run:
        out.mkdir()
    if older_run is True:
        (out / "results.jsonl").write_text('{"frame": 0}\n')
    with caplog.at_level("ERROR"):
        _keep_partial(str(tmp), str(out))
    (msg,) = [r.getMessage() for r in caplog.records]
    said = ("was not replaced (the older run is as it was)" if older_run is True
            else "was not written;")
    assert f"run stopped after 2 frames: {out} {said}" in msg, msg
    assert (tmp_path / "run.partial" / "results.jsonl").is_file()



def test_a_run_stopped_after_one_frame_says_frame(tmp_path, caplog):
    from mast3r_ros.replay.localize_run import _keep_partial

    tmp = tmp_path / ".run-tmp"
    tmp.mkdir()
    (tmp / "results.jsonl").write_text('{"frame": 0}\n')
    with caplog.at_level("ERROR"):
        _keep_partial(str(tmp), str(tmp_path / "run"))
    (msg,) = [r.getMessage() for r in caplog.records]
    assert msg.startswith("run stopped after 1 frame: "), msg


@pytest.mark.parametrize("poselib", [True, False])
def test_a_run_without_poselib_says_which_ransac_ran(tum, sift_map, tmp_path, monkeypatch,
                                                      capsys, poselib):
    """The new user's run with `.[opencv]` only read p90 6.2 cm where the README says 3.7 cm
    (poselib's), and nothing said that OpenCV's RANSAC had run: config.yaml records 'auto'.
    The run now says so at INFO, naming the extra to install; with poselib it says nothing."""
    from mast3r_ros.core.pnp import ransac

    if not poselib:
        monkeypatch.setattr(ransac, "_poselib", None)
    elif ransac._poselib is None:
        pytest.skip("poselib is not installed")
    assert main(["localize", str(tum[1]), "--map", sift_map, "--out", str(tmp_path / "run"),
                 "--matcher", "sift", "--max-frames", "2", "--log-level", "info"]) == 0
    said = [line for line in capsys.readouterr().err.splitlines() if "PnP-RANSAC" in line]
    if poselib:
        assert said == []
    else:
        assert said == ["[INFO] mast3r_ros.replay.localize_run: PnP-RANSAC: OpenCV's USAC_MAGSAC "
                        "(pnp.backend 'auto': poselib is not installed; `pip install poselib`, "
                        "the 'poselib' extra, for poselib's)"]
