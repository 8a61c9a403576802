"""Synthetic image stacks drawn from a map's annotations.

Maps often arrive without their images. :func:`render_stack` draws a plausible
two-photon stack for one session and channel exactly where the annotations say:
dendrites as bright tubes along the tracing (``line/<stack>_l.txt``, or the segment's
``controlPnt`` rows when there is no tracing), spines as bright blobs at their ``x, y,
z`` with a thin neck to their connection point ``cx, cy, cz``, on an uneven background
with shot and read noise. A spine the annotations do not list in a session is not drawn
in that session. :func:`render_images` writes every session and channel of a map as
``raw/<stack>_ch<c>.tif``.

Positions: ``x, y`` are µm (pixel = µm / ``dx``), ``z`` is the slice index, as in the
db2 tables. When an output ``shape`` other than the header's ``(pz, py, px)`` is asked
for, positions are scaled to it (pixel centres stay aligned), so a 2048 x 2048 x 72 map
can be previewed as, say, 8 x 256 x 256.

Every object is drawn in its own bounding box (a few standard deviations around it),
never over the whole volume, so large stacks cost little more than their noise.
"""

from __future__ import annotations

import logging
import math
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import tifffile

from ..errors import InvalidParameterError, MapNotFoundError

if TYPE_CHECKING:
    from ..model import Map

__all__ = ["render_images", "render_stack", "write_stack"]

log = logging.getLogger(__name__)

#: channel -> (gain, dendrite, spine head, spine neck) relative brightness
CHANNEL_STYLE: dict[int, tuple[float, float, float, float]] = {
    1: (1.0, 0.75, 1.0, 0.55),  # structural label: everything bright
    2: (0.6, 0.2, 0.9, 0.12),  # dimmer, spine-head enriched (e.g. a synaptic marker)
    3: (0.8, 0.5, 0.35, 0.3),
}
DENDRITE_RADIUS_UM = 0.6
HEAD_RADIUS_UM = 0.45
NECK_RADIUS_UM = 0.12
PSF_XY_UM = 0.2  # standard deviation of the point spread function
PSF_Z_UM = 1.0
_FULL_SCALE = {"uint8": 255.0, "uint16": 4095.0, "float32": 1.0}  # uint16: a 12-bit detector


@dataclass(frozen=True)
class _Frame:
    """How µm / slice positions of one session map to voxels of the output stack."""

    shape: tuple[int, int, int]  # planes, rows, columns
    dx: float
    dy: float
    dz: float
    fx: float  # output pixels per header pixel
    fy: float
    fz: float

    def voxels(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        """(n, 3) float array of (plane, row, column) for µm x, y and slice z."""
        col = (np.asarray(x, dtype=float) / self.dx + 0.5) * self.fx - 0.5
        row = (np.asarray(y, dtype=float) / self.dy + 0.5) * self.fy - 0.5
        pln = (np.asarray(z, dtype=float) + 0.5) * self.fz - 0.5
        return np.column_stack([pln, row, col])

    def sigma(self, radius_um: float) -> np.ndarray:
        """Blur (plane, row, column) in voxels of an object of ``radius_um``."""
        sxy = math.hypot(radius_um, PSF_XY_UM)
        sz = math.hypot(radius_um, PSF_Z_UM)
        return np.array(
            [
                max(0.6, sz / (self.dz / self.fz)),
                max(0.6, sxy / (self.dy / self.fy)),
                max(0.6, sxy / (self.dx / self.fx)),
            ]
        )


def _frame(m: Map, session: int, shape: tuple[int, int, int] | None) -> _Frame:
    s = m.session(session)
    pz, py, px = s.shape
    header = None if None in (pz, py, px) else (int(pz or 0), int(py or 0), int(px or 0))
    if header is not None and min(header) <= 0:
        header = None
    if shape is None:
        if header is None:
            raise InvalidParameterError(
                f"map {m.name} session {session}: the header gives no image size (px, py, pz); "
                "pass shape=(planes, rows, columns)"
            )
        shape = header
    if len(shape) != 3 or any(int(v) != v or v < 1 for v in shape):
        raise InvalidParameterError(f"shape must be (planes, rows, columns) > 0, not {shape!r}")
    out = (int(shape[0]), int(shape[1]), int(shape[2]))
    dx, dy, dz = s.voxel
    if not (dx > 0):
        log.warning("map %s session %d has no dx: assuming 1 µm per pixel", m.name, session)
        dx = 1.0
    if not (dy > 0):
        dy = dx
    if not (dz > 0):
        dz = 1.0
    if header is None:
        fz = fy = fx = 1.0
    else:
        fz, fy, fx = out[0] / header[0], out[1] / header[1], out[2] / header[2]
    return _Frame(out, float(dx), float(dy), float(dz), fx, fy, fz)


# --------------------------------------------------------------------------- drawing


def _densify(pts: np.ndarray, sigma: np.ndarray, step: float = 0.3) -> np.ndarray:
    """Points along a polyline at most ``step`` standard deviations apart."""
    if len(pts) < 2:
        return pts
    d = np.diff(pts, axis=0)
    n = np.maximum(1, np.ceil(np.linalg.norm(d / sigma, axis=1) / step)).astype(int)
    piece = np.repeat(np.arange(len(d)), n)
    start = np.repeat(np.cumsum(n) - n, n)
    frac = (np.arange(int(n.sum())) - start) / np.repeat(n, n)
    dense = pts[piece] + d[piece] * frac[:, None]
    return np.vstack([dense, pts[-1:]])


def _draw(vol: np.ndarray, pts: np.ndarray, sigma: np.ndarray, amp: float) -> None:
    """Draw a Gaussian tube along ``pts`` ((n, 3) plane, row, column) into ``vol`` (max).

    The tube is cut into pieces of a few points; each piece is evaluated only inside its
    bounding box (3 standard deviations around it).
    """
    if amp <= 0 or len(pts) == 0:
        return
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    if len(pts) == 0:
        return
    shape = np.array(vol.shape)
    pad = 3.0 * sigma
    # nothing outside the volume is visible: clamp far-away points (bounds the work)
    pts = np.clip(pts, -pad - 1, shape - 1 + pad + 1)
    dense = _densify(pts, sigma).astype(np.float32)
    box_est = max(1.0, float(np.prod(2 * pad + 1)))
    chunk = int(max(1, min(64, 2_000_000 // box_est)))
    inv = (1.0 / sigma).astype(np.float32)
    for c0 in range(0, len(dense), chunk):
        p = dense[c0 : c0 + chunk + 1]
        lo = np.maximum(np.floor(p.min(axis=0) - pad), 0).astype(int)
        hi = np.minimum(np.ceil(p.max(axis=0) + pad) + 1, shape).astype(int)
        if np.any(hi <= lo):
            continue
        zz = (np.arange(lo[0], hi[0], dtype=np.float32)[None, :] - p[:, 0:1]) * inv[0]
        yy = (np.arange(lo[1], hi[1], dtype=np.float32)[None, :] - p[:, 1:2]) * inv[1]
        xx = (np.arange(lo[2], hi[2], dtype=np.float32)[None, :] - p[:, 2:3]) * inv[2]
        d2 = (zz * zz)[:, :, None, None] + (yy * yy)[:, None, :, None] + (xx * xx)[:, None, None, :]
        val = np.exp(-0.5 * d2.min(axis=0)) * np.float32(amp)
        view = vol[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
        np.maximum(view, val, out=view)


def _dendrite_paths(m: Map, session: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(x µm, y µm, z slice) of every traced segment, or of its control points."""
    tr = m.tracing(session)
    out = []
    if tr is not None and len(tr.points):
        d = tr.points.data
        ids = d["ID"]
        for sid in tr.segment_ids():
            sel = ids == sid
            out.append((d["x"][sel], d["y"][sel], d["z"][sel]))
        return out
    t = m.db2[session]
    cols = t.data
    if "parentID" not in cols:
        return out
    ctrl = m.roi_type_mask(session, "controlPnt")
    parent = cols["parentID"]
    sdist = cols["sDist"] if "sDist" in cols else np.full(len(t), np.nan)
    cpnt = cols["cPnt"] if "cPnt" in cols else np.arange(len(t), dtype=float)
    for sid in np.unique(parent[ctrl & np.isfinite(parent)]):
        rows = np.flatnonzero(ctrl & (parent == sid))
        key = np.where(np.isfinite(sdist[rows]), sdist[rows], cpnt[rows])
        rows = rows[np.argsort(key, kind="stable")]
        out.append((cols["x"][rows], cols["y"][rows], cols["z"][rows]))
    return out


def _spine_brightness(m: Map, session: int, channel: int, rows: np.ndarray) -> np.ndarray:
    """Relative brightness of spines from ``ubssMean`` of the channel (1 when unknown)."""
    out = np.ones(len(rows))
    tables = m.intensity[session]
    t = tables.get(channel) or tables.get(1)
    if t is None or "ubssMean" not in t.data or len(t) != len(m.db2[session]):
        return out
    v = t.data["ubssMean"][rows]
    ok = np.isfinite(v) & (v > 0)
    if ok.sum() >= 3:
        out[ok] = np.clip(v[ok] / np.median(v[ok]), 0.4, 2.0)
    return out


def _finish(vol: np.ndarray, rng: np.random.Generator, gain: float, dtype: str) -> np.ndarray:
    """Background, depth attenuation and noise, plane by plane; converted to ``dtype``."""
    planes, rows, cols = vol.shape
    full = _FULL_SCALE[dtype]
    peak = 0.6 * full * gain
    bg0 = 0.05 * full * gain
    shot = 0.0015 * full
    read2 = (0.006 * full) ** 2
    fy, fx = rng.uniform(0.5, 1.5, 2)
    py, px = rng.uniform(0.0, 2 * np.pi, 2)
    by = 1.0 + 0.25 * np.sin(2 * np.pi * fy * np.arange(rows) / rows + py)
    bx = 1.0 + 0.25 * np.sin(2 * np.pi * fx * np.arange(cols) / cols + px)
    bg = (bg0 * by[:, None] * bx[None, :]).astype(np.float32)
    att = 1.0 - 0.3 * np.arange(planes) / max(1, planes - 1)
    out = np.empty(vol.shape, dtype=np.dtype(dtype))
    hi = np.float32(full if dtype != "float32" else np.finfo(np.float32).max)
    noise = np.empty((rows, cols), dtype=np.float32)
    mean = np.empty((rows, cols), dtype=np.float32)
    sd = np.empty((rows, cols), dtype=np.float32)
    for p in range(planes):
        np.multiply(vol[p], np.float32(peak), out=mean)
        mean += bg
        mean *= np.float32(att[p])
        np.multiply(mean, np.float32(shot), out=sd)
        sd += np.float32(read2)
        np.sqrt(sd, out=sd)
        rng.standard_normal(out=noise, dtype=np.float32)
        noise *= sd
        noise += mean
        np.clip(noise, 0, hi, out=noise)
        if dtype == "float32":
            out[p] = noise
        else:
            np.rint(noise, out=noise)
            out[p] = noise
    return out


# --------------------------------------------------------------------------- public


def render_stack(
    m: Map,
    session: int,
    channel: int,
    *,
    shape: tuple[int, int, int] | None = None,
    seed: int = 0,
    dtype: str = "uint16",
) -> np.ndarray:
    """A synthetic image stack of one session and channel, drawn from the annotations.

    Parameters
    ----------
    m : Map
        The map.
    session : int
        Session index.
    channel : int
        Channel, from 1.
    shape : tuple of int, optional
        ``(planes, rows, columns)`` of the result; default the header's ``(pz, py, px)``.
        Positions are scaled when it differs.
    seed : int
        Seed of the noise and background (combined with session and channel).
    dtype : str
        ``uint16`` (values in a 12-bit range), ``uint8`` or ``float32`` (0..1-ish).

    Returns
    -------
    ndarray, shape (planes, rows, columns)

    Raises
    ------
    MapNotFoundError
        No such session or channel.
    InvalidParameterError
        Bad ``shape``/``dtype``, or no shape given and none in the header.

    Examples
    --------
    >>> from pymapmanager import load_map
    >>> from pymapmanager.synthetic import generate_map
    >>> m = load_map(generate_map("rs", sessions=1, shape=(3, 48, 64), images=False))
    >>> stack = render_stack(m, 0, 1, seed=0)
    >>> stack.shape, stack.dtype.name
    ((3, 48, 64), 'uint16')
    """
    if dtype not in _FULL_SCALE:
        raise InvalidParameterError(f"dtype must be one of {', '.join(_FULL_SCALE)}, not {dtype!r}")
    s = m.session(session)
    nch = max(m.num_channels, s.num_channels)
    if not isinstance(channel, (int, np.integer)) or not 1 <= channel <= nch:
        raise MapNotFoundError(f"map {m.name} has no channel {channel} (channels 1..{nch})")
    t0 = time.perf_counter()
    fr = _frame(m, session, shape)
    gain, w_dend, w_head, w_neck = CHANNEL_STYLE.get(int(channel), CHANNEL_STYLE[3])
    vol = np.zeros(fr.shape, dtype=np.float32)

    tr = m.tracing(session)
    radius = DENDRITE_RADIUS_UM
    if tr is not None and "radius" in tr.points.data:
        r = tr.points.data["radius"]
        if r.dtype != object and np.isfinite(r).any():
            radius = float(np.nanmedian(r))
    sig_d = fr.sigma(radius)
    for x, y, z in _dendrite_paths(m, session):
        _draw(vol, fr.voxels(x, y, z), sig_d, w_dend)

    rows = np.flatnonzero(m.roi_type_mask(session, "spineROI"))
    if rows.size:
        d = m.db2[session].data
        head = fr.voxels(d["x"][rows], d["y"][rows], d["z"][rows])
        if all(c in d for c in ("cx", "cy", "cz")):
            conn = fr.voxels(d["cx"][rows], d["cy"][rows], d["cz"][rows])
        else:
            conn = np.full_like(head, np.nan)
        bright = _spine_brightness(m, session, int(channel), rows)
        sig_h, sig_n = fr.sigma(HEAD_RADIUS_UM), fr.sigma(NECK_RADIUS_UM)
        for k in range(rows.size):
            if np.all(np.isfinite(conn[k])):
                _draw(vol, np.vstack([conn[k], head[k]]), sig_n, w_neck * bright[k])
            _draw(vol, head[k : k + 1], sig_h, w_head * bright[k])

    rng = np.random.default_rng([int(seed), int(session), int(channel)])
    out = _finish(vol, rng, gain, dtype)
    log.debug(
        "rendered %s session %d channel %d %s in %.2f s",
        m.name,
        session,
        channel,
        fr.shape,
        time.perf_counter() - t0,
    )
    return out


def write_stack(path: str | Path, data: np.ndarray) -> Path:
    """Write a (planes, rows, columns) stack as a single-channel 3D TIFF, atomically.

    Parameters
    ----------
    path : str or Path
        The file, e.g. ``raw/<stack>_ch1.tif``; its folder is created.
    data : ndarray, shape (planes, rows, columns)

    Returns
    -------
    Path

    Examples
    --------
    >>> import numpy as np, tifffile
    >>> p = write_stack("raw/s_ch1.tif", np.zeros((2, 8, 8), dtype=np.uint16))
    >>> tifffile.imread(p).shape
    (2, 8, 8)
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.parent / f".{p.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        tifffile.imwrite(tmp, data, photometric="minisblack", metadata={"axes": "ZYX"})
        os.replace(tmp, p)
    finally:
        if tmp.exists():
            tmp.unlink()
    return p


def render_images(
    path: str | Path,
    *,
    shape: tuple[int, int, int] | None = None,
    seed: int = 0,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Synthetic stacks ``raw/<stack>_ch<c>.tif`` for every session and channel of a map.

    For maps that have annotations but no images (e.g. F27A_1). Sizes come from the
    header (``px``, ``py``, ``pz``, ``dx``, ``dy``) unless ``shape`` overrides them.

    Parameters
    ----------
    path : str or Path
        The map folder (or its ``<map>.txt``).
    shape : tuple of int, optional
        ``(planes, rows, columns)`` of every stack; positions are scaled to it.
    seed : int
        Seed of the noise.
    overwrite : bool
        Replace stacks that exist; otherwise they are kept (and not returned).
    progress : callable, optional
        Called as ``progress(done, total)`` after each stack (written or kept).

    Returns
    -------
    list of Path
        The files written.
    """
    from ..model import load_map

    m = load_map(path)
    jobs = [(j, c) for j in range(m.num_sessions) for c in range(1, m.num_channels + 1)]
    written: list[Path] = []
    for done, (j, c) in enumerate(jobs, start=1):
        existing = m.image_path(j, c)
        target = m.path / "raw" / f"{m.sessions[j].stack}_ch{c}.tif"
        if existing is not None and not overwrite:
            log.info("keeping %s", existing)
        else:
            arr = render_stack(m, j, c, shape=shape, seed=seed)
            written.append(write_stack(target, arr))
        if progress is not None:
            progress(done, len(jobs))
    return written
