"""Layout checks of a matplotlib figure: legends and labels that cover data, text too small to read.

Used twice: :func:`place_legend` puts a legend where it covers no data (trying the usual corners, then
outside the axes), and the tests run :func:`findings` (:func:`legend_overlaps`, :func:`text_overlaps`,
:func:`legend_text_collisions` and :func:`small_texts` after one draw of the figure) on every rendered
figure.

"Data" are the points of every visible line of an axes (markers and the straight segments between
them, sampled densely in display coordinates), so a legend that a curve passes under is found even
between two markers, and the top edges of histogram bars; filled bands (fill_between) are data too.
"""
from __future__ import annotations

import numpy as np

__all__ = ["MIN_TEXT_PT", "data_points", "legend_overlaps", "text_overlaps", "small_texts", "place_legend",
           "legend_text_collisions", "findings"]

#: Smallest font size (points, at the saved figure size) of any text of a figure.
MIN_TEXT_PT = 10.0

#: Legend locations tried by :func:`place_legend`, in order.
_LOCS = ("upper left", "upper right", "lower right", "lower left", "center right", "center left", "upper center",
         "lower center", "center")


def _renderer(fig):
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def data_points(ax, step_px: float = 2.0) -> np.ndarray:
    """Display coordinates (N, 2) of the visible lines of ``ax``: their vertices and points every
    ``step_px`` pixels along each straight segment (clipped to the axes box)."""
    pts = []
    box = ax.get_window_extent()
    from matplotlib.patches import Rectangle
    for patch in ax.patches:                       # histogram bars: their top edges
        if isinstance(patch, Rectangle) and patch.get_visible() and patch.get_height() > 0:
            x, y, w, h = patch.get_x(), patch.get_y(), patch.get_width(), patch.get_height()
            top = patch.get_transform().transform([(x, y + h), (x + w, y + h)])
            t = np.linspace(0.0, 1.0, 5)[:, None]
            pts.append(top[0] + t * (top[1] - top[0]))
    for line in ax.get_lines():
        if not line.get_visible():
            continue
        xy = np.asarray(line.get_xydata(), dtype=float)
        if xy.size == 0:
            continue
        d = line.get_transform().transform(xy)
        d = d[np.all(np.isfinite(d), axis=1)]
        if len(d) == 0:
            continue
        has_line = line.get_linestyle() not in ("None", "none", "", " ")
        if has_line and len(d) > 1:
            seg = np.diff(d, axis=0)
            n = np.maximum(1, np.ceil(np.hypot(seg[:, 0], seg[:, 1]) / step_px)).astype(int)
            for a, s, k in zip(d[:-1], seg, n):
                if not np.all(np.isfinite(s)):
                    continue
                if k > 5000:                       # a segment far outside the axes: sample its visible part
                    k = 5000
                t = np.linspace(0.0, 1.0, k + 1)[:, None]
                pts.append(a + t * s)
        pts.append(d)
    if not pts:
        return np.empty((0, 2))
    p = np.concatenate(pts)
    inside = (p[:, 0] >= box.x0) & (p[:, 0] <= box.x1) & (p[:, 1] >= box.y0) & (p[:, 1] <= box.y1)
    return p[inside]


def _covered(bbox, pts, pad: float = 1.0, ax=None) -> int:
    """Data points inside ``bbox``, plus (with ``ax``) points of a grid over ``bbox`` that lie inside a
    filled area of ``ax`` (bands drawn with fill_between)."""
    n = 0
    x0, y0, x1, y1 = bbox.x0 + pad, bbox.y0 + pad, bbox.x1 - pad, bbox.y1 - pad
    if len(pts):
        n = int(np.sum((pts[:, 0] > x0) & (pts[:, 0] < x1) & (pts[:, 1] > y0) & (pts[:, 1] < y1)))
    if ax is not None and x1 > x0 and y1 > y0:
        from matplotlib.collections import PolyCollection
        gx, gy = np.meshgrid(np.linspace(x0, x1, 12), np.linspace(y0, y1, 8))
        grid = np.column_stack([gx.ravel(), gy.ravel()])
        for coll in ax.collections:
            if not isinstance(coll, PolyCollection) or not coll.get_visible():
                continue
            trans = coll.get_transform()
            for path in coll.get_paths():
                n += int(np.sum(trans.transform_path(path).contains_points(grid)))
    return n


def legend_overlaps(fig, renderer=None) -> list[tuple[str, int]]:
    """``(axes title, number of data points under the legend)`` for every legend covering data (the
    axes' legends, extra legends added as artists, and figure legends against the data of every axes).
    ``renderer``: that of the figure drawn as it is now (see :func:`findings`); None draws it."""
    from matplotlib.legend import Legend
    r = _renderer(fig) if renderer is None else renderer
    out = []
    every = [data_points(ax) for ax in fig.axes]
    for ax, pts in zip(fig.axes, every):
        legends = [ax.get_legend()] + [a for a in ax.artists if isinstance(a, Legend)]
        for leg in legends:
            if leg is None or not leg.get_visible():
                continue
            n = _covered(leg.get_window_extent(r), pts, ax=ax)
            if n:
                out.append((ax.get_title() or ax.get_ylabel(), n))
    for leg in fig.legends:                        # figure legends must clear the data of every axes
        n = sum(_covered(leg.get_window_extent(r), pts, ax=ax) for ax, pts in zip(fig.axes, every))
        if n:
            out.append(("figure legend", n))
    return out


def text_overlaps(fig, renderer=None) -> list[tuple[str, int]]:
    """``(text, number of data points under it)`` for every text drawn inside an axes (annotations,
    ``ax.text``) that covers data of that axes.  ``renderer`` as in :func:`legend_overlaps`."""
    r = _renderer(fig) if renderer is None else renderer
    out = []
    for ax in fig.axes:
        pts = data_points(ax)
        for t in ax.texts:
            if not t.get_visible() or not t.get_text().strip():
                continue
            n = _covered(t.get_window_extent(r), pts)
            if n:
                out.append((t.get_text(), n))
    return out


def legend_text_collisions(fig, renderer=None) -> list[str]:
    """Texts written on the figure (notes, the suptitle) that a legend box runs into.  ``renderer`` as in
    :func:`legend_overlaps`."""
    from matplotlib.legend import Legend
    r = _renderer(fig) if renderer is None else renderer
    legends = list(fig.legends)
    for ax in fig.axes:
        legends += [ax.get_legend()] + [a for a in ax.artists if isinstance(a, Legend)]
    boxes = [leg.get_window_extent(r) for leg in legends if leg is not None and leg.get_visible()]
    texts = [t for t in fig.texts if t.get_visible() and t.get_text().strip()]
    if getattr(fig, "_suptitle", None) is not None:
        texts.append(fig._suptitle)
    return [t.get_text() for t in texts if any(b.overlaps(t.get_window_extent(r)) for b in boxes)]


def small_texts(fig, min_pt: float = MIN_TEXT_PT, renderer=None) -> list[tuple[str, float]]:
    """``(text, size in points)`` of every visible, non-empty text smaller than ``min_pt``.  ``renderer``
    as in :func:`legend_overlaps`."""
    from matplotlib.text import Text
    if renderer is None:
        _renderer(fig)
    out = []
    for t in fig.findobj(Text):
        if t.get_visible() and t.get_text().strip() and t.get_fontsize() < min_pt - 1e-9:
            out.append((t.get_text(), float(t.get_fontsize())))
    return out


def findings(fig, min_pt: float = MIN_TEXT_PT) -> dict:
    """Every layout check of ``fig`` after one draw (the checks only read the drawn extents, and a draw
    is most of their cost): ``{"legend_over_data": legend_overlaps, "text_over_data": text_overlaps,
    "legend_over_notes": legend_text_collisions, "small_text": small_texts(min_pt)}``, each the
    list its function returns (empty when the layout is clean)."""
    r = _renderer(fig)
    return {"legend_over_data": legend_overlaps(fig, r), "text_over_data": text_overlaps(fig, r),
            "legend_over_notes": legend_text_collisions(fig, r), "small_text": small_texts(fig, min_pt, r)}


def place_legend(ax, *, locs=_LOCS, outside: str = "right", headroom: int = 0, **kwargs):
    """A legend of ``ax`` at the first location of ``locs`` where it covers no data; if there is none,
    and ``headroom`` > 0, the (linear) y axis is extended upwards by a quarter of its range (at most
    ``headroom`` times) to make room and the locations are tried again; else the legend goes outside the
    axes (``outside="right"``: to its right; ``"below"``: under the x label)."""
    fig = ax.figure
    ylim = ax.get_ylim()
    for attempt in range(headroom + 1):
        if attempt:
            lo, hi = ax.get_ylim()
            ax.set_ylim(lo, hi + 0.25 * (hi - lo))
        r = _renderer(fig)                         # one draw; a legend's box is placed lazily from it
        pts = data_points(ax)
        for loc in locs:
            leg = ax.legend(loc=loc, **kwargs)
            if not _covered(leg.get_window_extent(r), pts, ax=ax):
                return leg
        if ax.get_yscale() != "linear":
            break
    ax.set_ylim(*ylim)                             # no room inside: the legend goes outside
    if outside == "below":
        return ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), **kwargs)
    return ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), **kwargs)
