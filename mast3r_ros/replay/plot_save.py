"""Writing a figure as a picture with one draw.

``savefig(bbox_inches="tight")`` draws a figure twice: once (without painting) to measure the
tight box around every artist, once more to paint inside it; the layout of the ticks, labels and
legends is most of the work, and done twice. For a PNG, `figure_bytes` instead paints the figure
once, measures the same tight box on that draw and crops the painted pixels to it (padded by
``savefig.pad_inches`` like savefig): the same picture, labels, legends and border, for 20-30 %
less time (bench/bench_plot_speed.py; the measuring draw paints nothing and matplotlib caches
text layout, so it was not half of the work). Where an artist reaches past the figure (so one
draw cut it), and for the other formats (pdf, svg, jpg, ...), it is savefig's two draws.

The figures are `matplotlib.figure.Figure` objects on their own Agg canvas (`new_figure`), not
pyplot's: nothing is registered in pyplot's global list of open figures (a figure left open
there on an error stayed in memory for the life of the process). A PNG is deflated at
`PNG_COMPRESS_LEVEL` (zlib's fastest): the same pixels as at PIL's default level 6 for ~30 %
less encoding time and a ~15 % larger file (docs/bench/plot_cost_cpu_2026-12-09b).
"""

from __future__ import annotations

import io
from typing import Any, Optional, Tuple

import numpy as np

DPI = 110
# zlib level of a PNG (lossless at every level): 1 deflates a plot in ~10 ms, 6 in ~14 ms
PNG_COMPRESS_LEVEL = 1


def new_figure(figsize: Tuple[float, float], nrows: int = 1, ncols: int = 1,
               **subplots_kw: Any) -> Tuple[Any, Any]:
    """(figure, axes): a `matplotlib.figure.Figure` of ``figsize`` inches on an Agg canvas (no
    display, no pyplot) and its ``nrows`` x ``ncols`` axes as ``Figure.subplots`` returns them
    (one Axes, or an array of them); ``subplots_kw``: sharex, gridspec_kw, ... The figure is
    freed with its last reference: nothing to close."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, **subplots_kw)


def figure_bytes(fig: Any, fmt: str, dpi: int = DPI) -> bytes:
    """The figure ``fig`` as ``fmt`` file bytes at ``dpi``, cropped to the tight box around
    its artists (what ``savefig(bbox_inches="tight")`` writes)."""
    data = _png_one_draw(fig, dpi) if fmt == "png" else None
    if data is None:
        buf = io.BytesIO()
        extra = {"pil_kwargs": {"compress_level": PNG_COMPRESS_LEVEL}} if fmt == "png" else {}
        fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight", **extra)
        data = buf.getvalue()
        if fmt in ("jpg", "jpeg"):
            data = _jpeg_marked(data)
    return data


# a JPEG comment (COM) segment: marker FF FE, its length (2 bytes, big-endian, itself included)
_JPEG_MARK = b"\xff\xfe" + (2 + len(b"Matplotlib")).to_bytes(2, "big") + b"Matplotlib"


def _jpeg_marked(data: bytes) -> bytes:
    """``data`` (a JPEG) with a ``Matplotlib`` comment segment after its start-of-image marker
    (and after the JFIF APP0 segment, which JFIF wants first): matplotlib writes no mark in a
    JPEG, and `report_files` looks for one before --plot replaces a file (never a photo).
    Written here, not through Pillow's ``comment`` save option, which Pillow before 9.4
    (Ubuntu 22.04 / Humble's 9.0) ignores. JPEG (ITU-T T.81, B.2.4.5): a COM segment may come
    before the frame; decoders skip it."""
    if not data.startswith(b"\xff\xd8") or b"matplotlib" in data[:4096].lower():
        return data
    at = 2
    if data[2:4] == b"\xff\xe0" and len(data) >= 6:  # APP0 (JFIF): its length counts itself
        at = 4 + int.from_bytes(data[4:6], "big")
    return data[:at] + _JPEG_MARK + data[at:]


def _png_one_draw(fig: Any, dpi: int) -> Optional[bytes]:
    """PNG bytes of ``fig`` painted once and cropped to its padded tight box; None where that
    cannot stand for savefig's (a canvas other than Agg's, a see-through face, savefig colours
    set in the rc, or an
    artist reaching past the figure, which one draw would have cut)."""
    import matplotlib as mpl
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import to_rgba
    from matplotlib.image import imsave

    canvas = fig.canvas
    face = to_rgba(fig.get_facecolor())
    rc = mpl.rcParams
    if (not isinstance(canvas, FigureCanvasAgg) or face[3] != 1.0 or rc["savefig.transparent"]
            or any(rc[f"savefig.{k}"] != "auto" for k in ("facecolor", "edgecolor"))):
        return None
    fig.set_dpi(dpi)
    canvas.draw()
    tight = fig.get_tightbbox(canvas.get_renderer())  # inches, measured on this draw
    full = np.asarray(canvas.buffer_rgba())
    height, width = full.shape[:2]
    x0, y0, x1, y1 = (v * dpi for v in tight.extents)
    slack = 1.0  # pixel: rounding of text extents
    if x0 < -slack or y0 < -slack or x1 > width + slack or y1 > height + slack:
        return None
    pad = rc["savefig.pad_inches"] * dpi
    x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
    # savefig's canvas for the box: int() of its size; its top-left corner on this canvas
    w, h = int(x1 - x0), int(y1 - y0)
    c0, r0 = int(round(x0)), int(round(height - y0 - h))
    out = np.empty((h, w, 4), dtype=np.uint8)
    out[...] = np.round(np.asarray(face) * 255).astype(np.uint8)  # the padding past the edge
    rs, cs = max(r0, 0), max(c0, 0)
    re, ce = min(r0 + h, height), min(c0 + w, width)
    if re > rs and ce > cs:
        out[rs - r0:re - r0, cs - c0:ce - c0] = full[rs:re, cs:ce]
    buf = io.BytesIO()
    # as FigureCanvasAgg.print_png writes it (the same metadata and dpi), deflated faster
    imsave(buf, out, format="png", origin="upper", dpi=dpi,
           pil_kwargs={"compress_level": PNG_COMPRESS_LEVEL})
    return buf.getvalue()
