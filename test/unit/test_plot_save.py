"""Pictures written with one draw (`plot_save`): the picture savefig(bbox_inches="tight") wrote,
labels, legends and border included, nothing cut; a PNG costs one draw of the figure, not two."""

from __future__ import annotations

import io

import numpy as np
import pytest
from robot_poses import camera_along_yaw

from mast3r_ros.replay import plot_save, plots


def _report():
    from mast3r_ros.core.map_check.report import ConsistencyReport, KeyframeFigures

    kf = [KeyframeFigures(i, str(i), 0.01 * (i % 4), 0.9, 3.0 + i, [], i != 3)
          for i in range(8)]
    return ConsistencyReport("inconsistent", kf, [], "", cause="depth_scale", thresholds={
        "max_depth_residual": 0.05, "min_depth_agree": 0.6, "max_reproj_px": 12.8})


def _draw(kind: str, path: str) -> None:
    """One of the pictures a run (trajectory, errors, calibration) or a map check
    (keyframes with the consistency panel) writes, of small made-up data (what is checked is
    how the figure becomes a file, not the data)."""
    rng = np.random.default_rng(0)
    n = 40
    gt = np.cumsum(rng.normal(size=(n, 3)) * 0.05, axis=0)
    est = gt + rng.normal(size=(n, 3)) * 0.01
    est[::7] = np.nan
    kf = np.stack([camera_along_yaw(x, y, yaw) for x, y, yaw in rng.normal(size=(6, 3))])
    if kind == "trajectory":
        plots.plot_trajectory(path, est, gt, keyframe_poses=kf)
    elif kind == "errors":
        plots.plot_errors(path, np.arange(n) / 10.0, np.abs(rng.normal(size=(n, 2))) * 0.03,
                          np.isfinite(est).all(axis=1))
    elif kind == "calibration":
        plots.plot_calibration(path, rng.chisquare(3, size=(n, 3)))
    else:
        kf8 = np.stack([camera_along_yaw(i, 0.1 * i, 0.0) for i in range(8)])
        plots.plot_keyframes(path, kf8, consistency=_report(),
                             skipped=np.array([[2.5, 0.25, 0.0]]),
                             skipped_at=np.array([2.5]))


def _image(data: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float64)


def _savefig_tight(kind: str) -> bytes:
    """What `plots._save` wrote before: savefig's two draws, bbox_inches='tight'."""
    got = []
    orig = plots._save
    plots._save = lambda fig, path: got.append(fig)
    try:
        _draw(kind, "unused.png")
    finally:
        plots._save = orig
    buf = io.BytesIO()
    got[0].savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


@pytest.fixture
def draws(monkeypatch):
    """Counts the draws of every figure."""
    from matplotlib.figure import Figure

    count = []
    draw = Figure.draw

    def counted(self, renderer):
        count.append(self)
        return draw(self, renderer)

    monkeypatch.setattr(Figure, "draw", counted)
    return count


KINDS = ["trajectory", "errors", "calibration", "keyframes_check"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_png_is_the_picture_savefig_tight_wrote_drawn_once(tmp_path, draws, kind):
    # 'localize --out' wrote its pictures with savefig(bbox_inches="tight"): two draws each,
    # 0.23 s a picture; now one draw, cropped to the same box: the same size, the same
    # labels, legend and margin (a legend or label cut off, or a box shifted, shows as a
    # size or pixel difference below)
    path = str(tmp_path / f"{kind}.png")
    _draw(kind, path)
    assert len(draws) == 1, f"{kind}: {len(draws)} draws for one PNG"
    new = _image(open(path, "rb").read())
    old = _image(_savefig_tight(kind))
    assert abs(new.shape[0] - old.shape[0]) <= 1 and abs(new.shape[1] - old.shape[1]) <= 1, \
        (kind, new.shape, old.shape)
    h, w = min(new.shape[0], old.shape[0]), min(new.shape[1], old.shape[1])
    # 8x8 blocks: a sub-pixel shift of the anti-aliased edges averages out, a missing or
    # moved label does not
    blocks = [im[:h // 8 * 8, :w // 8 * 8].reshape(h // 8, 8, w // 8, 8, 3).mean(axis=(1, 3))
              for im in (new, old)]
    assert np.abs(blocks[0] - blocks[1]).max() < 40, (kind, np.abs(blocks[0] - blocks[1]).max())
    # the white margin savefig padded the picture with, on every side: nothing touches the edge
    edge = np.concatenate([new[:5].reshape(-1, 3), new[-5:].reshape(-1, 3),
                           new[:, :5].reshape(-1, 3), new[:, -5:].reshape(-1, 3)])
    assert (edge == 255).all(), f"{kind}: something is drawn at the picture's edge"


def test_an_artist_past_the_figure_is_kept(tmp_path):
    # one draw paints only the figure: a note below it (like the calibration legend, which
    # hung 0.6 in below its figure) would be cut; such a figure is written with savefig's
    # two draws, which widen the picture to it
    fig, ax = plot_save.new_figure((3, 2))
    ax.plot([0, 1], [0, 1])
    fig.text(0.5, -0.4, "a note far below the figure", ha="center")
    path = str(tmp_path / "below.png")
    plots._save(fig, path)
    im = _image(open(path, "rb").read())
    assert im.shape[0] > 1.3 * 2 * 110, im.shape  # taller than the 2 in figure
    low = im[int(0.85 * im.shape[0]):]
    assert (low < 128).any(), "the note below the figure was cut"


def test_other_formats_are_written_by_savefig(tmp_path, draws):
    fig, ax = plot_save.new_figure((3, 2))
    ax.plot([0, 1], [0, 1], label="a line")
    ax.legend()
    data = plot_save.figure_bytes(fig, "svg")
    assert data.lstrip().startswith(b"<?xml") and b"<svg" in data
    assert len(draws) == 2  # savefig's measuring draw and its drawing one


def _zlib_level(png: bytes) -> int:
    """FLEVEL of the PNG's zlib stream (RFC 1950): 0 fastest (level 1), 1 fast (2-5), 2 default
    (6), 3 maximum (7-9)."""
    at = png.index(b"IDAT") + 4
    assert png[at] & 0x0F == 8, "not deflate"
    return png[at + 1] >> 6


@pytest.mark.parametrize("kind", ["trajectory", "keyframes_check"])
def test_a_plot_is_no_pyplot_figure_and_its_png_is_deflated_fastest(tmp_path, monkeypatch,
                                                                    kind):
    # of a 6-frame localize run's 0.7 CPU s of pictures, deflating each PNG at PIL's default
    # level 6 took ~14 ms of its ~100 ms; level 1 ~10 ms for a ~15 % larger file, the same
    # pixels. The figures were pyplot's: registered in its global list until closed (left
    # there on an error)
    managers = []  # pyplot's manager of the figure being written (None: no pyplot figure)
    real = plot_save.figure_bytes
    monkeypatch.setattr(plot_save, "figure_bytes", lambda fig, fmt, **k: (
        managers.append(fig.canvas.manager), real(fig, fmt, **k))[1])
    path = str(tmp_path / f"{kind}.png")
    _draw(kind, path)
    assert managers == [None], "a pyplot figure"
    data = open(path, "rb").read()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and _zlib_level(data) == 0, _zlib_level(data)
    assert _image(data).shape[0] > 300
