"""Where things are in a session's image: spines and tracings in pixels, and run targets.

The web viewer shows each session's image with one map unit per full-resolution pixel
(row 0 at the top, column 0 at the left). Annotation tables give ``x``, ``y`` in µm and
``z`` as a slice index; these helpers convert to pixels with the session's voxel size and
work out where a viewer should go to show a run (an object followed across sessions),
including sessions where the object is absent: there the place is found on that session's
tracing, on the same map segment, at the same distance from the segment's pivot point
(``pDist``) as in the nearest session where the object is present.

Every function takes the map (or a tracing) first, options after, and never modifies it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .io.text import Tracing
from .model import Map

__all__ = [
    "COPIED",
    "ON_TRACING",
    "PRESENT",
    "UNKNOWN",
    "RunTargets",
    "point_at_pdist",
    "run_targets",
    "spine_pixels",
    "tracing_pixels",
    "um_per_pixel",
]

#: How a run target was found: the object itself, a point on the tracing at the same
#: pDist, the object's position copied from the nearest session, or not at all.
PRESENT, ON_TRACING, COPIED, UNKNOWN = 1, 2, 3, 0


def um_per_pixel(m: Map, session: int) -> tuple[float, float]:
    """µm per pixel in x (columns) and y (rows) of a session; 1.0 where the header has none.

    Parameters
    ----------
    m : Map
    session : int

    Returns
    -------
    dx, dy : float

    Examples
    --------
    >>> from pymapmanager import load_map
    >>> from pymapmanager.synthetic import generate_map
    >>> m = load_map(generate_map("nav", sessions=2, shape=(4, 512, 512), images=False))
    >>> um_per_pixel(m, 0)
    (0.12, 0.12)
    """
    dx, dy, _ = m.session(session).voxel
    ok = [v if (isinstance(v, float) and math.isfinite(v) and v > 0) else 1.0 for v in (dx, dy)]
    return ok[0], ok[1]


def spine_pixels(m: Map, session: int) -> np.ndarray:
    """Every annotation of a session as pixel positions.

    Parameters
    ----------
    m : Map
    session : int

    Returns
    -------
    ndarray, shape (rows, 3)
        ``column (x px), row (y px), z (slice)`` per db2 row, in row order (NaN where the
        table has no value).

    Examples
    --------
    >>> from pymapmanager import load_map
    >>> from pymapmanager.synthetic import generate_map
    >>> m = load_map(generate_map("nav2", sessions=2, shape=(4, 64, 64), images=False))
    >>> px = spine_pixels(m, 0)
    >>> px.shape == (len(m.table(0)), 3), bool(np.allclose(px[:, 0] * um_per_pixel(m, 0)[0], m.column(0, "x")))
    (True, True)
    """
    dx, dy = um_per_pixel(m, session)
    x = np.asarray(m.column(session, "x"), dtype=float)
    y = np.asarray(m.column(session, "y"), dtype=float)
    z = np.asarray(m.column(session, "z"), dtype=float)
    return np.column_stack([x / dx, y / dy, z])


def tracing_pixels(tracing: Tracing, dx: float, dy: float) -> dict[int, np.ndarray]:
    """A tracing's segments as pixel polylines.

    Parameters
    ----------
    tracing : Tracing
    dx, dy : float
        µm per pixel in x and y.

    Returns
    -------
    dict of int to ndarray, shape (points, 4)
        Segment ID -> ``x px, y px, z slice, pDist µm`` per point in file order (pDist NaN
        when the file has no pDist column).
    """
    d = tracing.points.data
    ids = np.asarray(d["ID"], dtype=float)
    pd_col = d.get("pDist")
    pdist = np.asarray(pd_col, dtype=float) if pd_col is not None and pd_col.dtype != object else np.full(ids.shape, np.nan)
    x = np.asarray(d["x"], dtype=float) / dx
    y = np.asarray(d["y"], dtype=float) / dy
    z = np.asarray(d["z"], dtype=float)
    out: dict[int, np.ndarray] = {}
    for sid in tracing.segment_ids():
        sel = ids == sid
        out[int(sid)] = np.column_stack([x[sel], y[sel], z[sel], pdist[sel]])
    return out


def _along(points: np.ndarray) -> np.ndarray:
    """Cumulative 2D distance along a polyline (same units as its coordinates)."""
    if len(points) == 0:
        return np.empty(0)
    steps = np.sqrt((np.diff(points[:, :2], axis=0) ** 2).sum(axis=1))
    return np.concatenate([[0.0], np.cumsum(steps)])


def point_at_pdist(segment: np.ndarray, pdist: float) -> tuple[float, float, float] | None:
    """The point of a traced segment at a distance from its pivot.

    Parameters
    ----------
    segment : ndarray, shape (points, 4)
        ``x, y, z, pDist`` per point (one value of :func:`tracing_pixels`).
    pdist : float
        Distance from the pivot (µm, signed).

    Returns
    -------
    (x, y, z) or None
        Linearly interpolated between the two points whose pDist brackets ``pdist``
        (``z`` rounded to a slice); the nearer end when ``pdist`` is beyond the segment;
        None for an empty segment or NaN ``pdist``. Without pDist values, ``pdist`` is
        taken as the distance along the segment from its first point (in the segment's
        own units).

    Examples
    --------
    >>> seg = np.array([[0.0, 0.0, 1.0, -2.0], [10.0, 0.0, 1.0, 0.0], [20.0, 0.0, 3.0, 2.0]])
    >>> point_at_pdist(seg, 1.0), point_at_pdist(seg, 9.0)
    ((15.0, 0.0, 2.0), (20.0, 0.0, 3.0))
    """
    seg = np.asarray(segment, dtype=float)
    if seg.ndim != 2 or len(seg) == 0 or not math.isfinite(pdist):
        return None
    key = seg[:, 3]
    good = np.isfinite(key)
    if good.sum() < 2:
        key = _along(seg)
        good = np.ones(len(seg), dtype=bool)
    pts = seg[good]
    key = key[good]
    if len(pts) == 1:
        x, y, z = pts[0, :3]
        return float(x), float(y), _slice(z)
    order = np.argsort(key, kind="stable")
    key, pts = key[order], pts[order]
    if pdist <= key[0]:
        x, y, z = pts[0, :3]
    elif pdist >= key[-1]:
        x, y, z = pts[-1, :3]
    else:
        i = int(np.searchsorted(key, pdist, side="right")) - 1
        span = key[i + 1] - key[i]
        t = 0.0 if span <= 0 else (pdist - key[i]) / span
        x, y, z = pts[i, :3] + t * (pts[i + 1, :3] - pts[i, :3])
    return float(x), float(y), _slice(z)


def _slice(z: float) -> float:
    """A z position rounded to a slice index (NaN stays NaN)."""
    return float(round(z)) if math.isfinite(z) else math.nan


@dataclass(frozen=True)
class RunTargets:
    """Where to look for each run in each session.

    Parameters
    ----------
    xyz : ndarray, shape (runs, sessions, 3)
        ``x px, y px, z slice`` (NaN where unknown).
    kind : ndarray of int, shape (runs, sessions)
        :data:`PRESENT`, :data:`ON_TRACING`, :data:`COPIED` or :data:`UNKNOWN`.
    """

    xyz: np.ndarray
    kind: np.ndarray


def run_targets(m: Map, roi: str | None = None) -> RunTargets:
    """Where a viewer should go to show each run of ``m.runs_of(roi)`` in every session.

    Parameters
    ----------
    m : Map
    roi : str, optional
        ROI type of the runs (default the map's default annotation).

    Returns
    -------
    RunTargets
        Where the object is present: its own position. Where absent: the point of the
        session's tracing on the same map segment at the object's pDist, both taken from
        the nearest session (earlier first on a tie) where it is present; without a
        tracing or that segment, the object's position in that nearest session.

    Examples
    --------
    >>> from pymapmanager import load_map
    >>> from pymapmanager.synthetic import generate_map
    >>> m = load_map(generate_map("nav3", sessions=3, shape=(4, 64, 64), images=False))
    >>> t = run_targets(m)
    >>> t.xyz.shape == (len(m.runs), 3, 3), bool((t.kind[m.runs >= 0] == PRESENT).all())
    (True, True)
    """
    runs = m.runs_of(m.default_roi if roi is None else roi)
    nrun, nses = runs.shape
    xyz = np.full((nrun, nses, 3), np.nan)
    kind = np.full((nrun, nses), UNKNOWN, dtype=int)
    if nrun == 0:
        return RunTargets(xyz, kind)
    px = [spine_pixels(m, j) for j in range(nses)]
    parent = [m.db2[j].data.get("parentID") for j in range(nses)]
    pdist: list[np.ndarray | None] = []
    for j in range(nses):
        col = m.db2[j].data.get("pDist")
        pdist.append(None if col is None or col.dtype == object else col)
    present = runs >= 0
    for j in range(nses):
        have = np.flatnonzero(present[:, j])
        rows = runs[have, j].astype(int)
        xyz[have, j] = px[j][rows]
        kind[have, j] = PRESENT
    tracings: dict[int, dict[int, np.ndarray] | None] = {}

    def segments_of(j: int) -> dict[int, np.ndarray] | None:
        if j not in tracings:
            tr = m.tracing(j)
            tracings[j] = None if tr is None else tracing_pixels(tr, *um_per_pixel(m, j))
        return tracings[j]

    for r in range(nrun):
        where = np.flatnonzero(present[r])
        if where.size == 0 or where.size == nses:
            continue
        for j in range(nses):
            if present[r, j]:
                continue
            src = int(where[np.argmin(np.abs(where - j) * 2 + (where > j))])
            row = int(runs[r, src])
            target: tuple[float, float, float] | None = None
            par = parent[src]
            pdc = pdist[src]
            if par is not None and pdc is not None and m.num_map_segments:
                ms = m.map_segment_of(src, float(par[row]))
                sid = None if ms is None else m.stack_segment(ms, j)
                segs = segments_of(j) if sid is not None else None
                if segs is not None and sid in segs:
                    target = point_at_pdist(segs[sid], float(pdc[row]))
            if target is not None and all(math.isfinite(v) for v in target[:2]):
                xyz[r, j] = target
                kind[r, j] = ON_TRACING
            else:
                xyz[r, j] = xyz[r, src]
                kind[r, j] = COPIED if np.isfinite(xyz[r, src]).any() else UNKNOWN
    return RunTargets(xyz, kind)
