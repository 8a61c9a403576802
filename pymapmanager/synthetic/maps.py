"""Demo maps: realistic synthetic Map Manager map folders, written in the real format.

:func:`generate_map` writes a complete map folder (header, objMap, segMap, db2, Int<c>,
line files and, optionally, TIFF stacks rendered by :mod:`pymapmanager.synthetic.images`) that the
rest of the project, Igor's Map Manager and the old ``pymapmanager`` 0.0.5 read like a
real one. Every number is drawn from one seeded generator, so identical arguments give
byte-identical files.

What a generated map holds
--------------------------
* ``segments`` dendritic segments, each traced in every session (``line/<stack>_l.txt``,
  one point per pixel step as Igor traces), with a ``pivotPnt`` (origin of ``pDist``,
  linked across sessions) and ``controlPnt`` rows every ~4 µm, and a ``globalPIvot``.
* Spines (``spineROI``) along each segment. Spines appear and disappear across sessions:
  most persist, some are lost (subtracted), some are gained (added) and some appear in
  one session only (transient); every one of these kinds is guaranteed to be present
  when the number of sessions allows it (transient needs three). A spine that is lost
  never returns in the same run. A few objects are marked ``isBad=1``.
* Between sessions the whole field shifts and rotates slightly (registration jitter), the
  traced extent of each segment changes by up to 1.5 µm at each end, spine positions
  jitter by ~0.1 µm, and stack segment IDs may be permuted (as in real maps): the
  objMap/segMap links keep every spine and segment followed.
* Intensities per channel (``Int<c>``, the column list of Map Manager's intensity
  analysis): spine, spine background, dendrite and dendrite background sums, means, SD,
  pixel counts, and the background-subtracted ``ubssSum``, ``ubssMean``, ``ubsdSum``,
  ``ubsdMean`` (plus their ratios ``utssdtds`` and ``utsmdtdm``). ``sLen2d``/``sLen3d``
  (spine length from the head to the dendrite edge) are in ``Int1`` only, as Map Manager
  writes them. Channel 1 is a bright structural label; channel 2 is dimmer on the
  dendrite and spine-head enriched; channel 3 is dim throughout.

The planted effect
------------------
Each spine run has a baseline size (log-normal across runs); its values in each session
are drawn around that run's own baseline (log-normal, about 6 % per session), so without
an effect a statistic's ratio of session means is about 1, and with one it is about
``factor``. With the default 50 spines per session, the ratio of the mean over three
sessions to the mean over three others scatters by about 4 % (SD over seeds; spine
turnover changes which runs are averaged); the median over runs of each run's own ratio
scatters by about 2 %. An :class:`Effect` multiplies the written values of one
statistic, on spine rows, in the given sessions, *after* every random number was drawn:
the same arguments with and without the effect give files that differ only in that
column, by exactly ``factor`` (up to the printed precision: 6 decimals in ``Int``
tables, 5 significant digits in db2). Derived columns are not recomputed (multiplying
``ubssSum`` leaves ``sSum`` alone).
"""

from __future__ import annotations

import logging
import math
import os
import re
import shutil
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidParameterError
from ..io.text import CsvTable, LinkMap, format_number

__all__ = [
    "DB2_COLUMNS",
    "EFFECT_DB2_STATS",
    "EFFECT_INT_STATS",
    "INT_COLUMNS",
    "Effect",
    "default_conditions",
    "generate_map",
]

log = logging.getLogger(__name__)

#: Igor Pro's time origin (``hsStackSeconds``, ``cSeconds``... count seconds from it)
IGOR_EPOCH = datetime(1904, 1, 1)

#: db2 columns, as Map Manager (stackdb version 20151224) writes them
DB2_COLUMNS: tuple[str, ...] = (
    "Idx", "roiType", "roiTypeNum", "x", "y", "z", "channel", "groupID", "parentID", "cPnt",
    "sDist", "pDist", "cAuto", "cAngle", "cLine", "cLineNum", "cx", "cy", "cz", "cDate",
    "cTime", "mDate", "mTime", "cSeconds", "mSeconds", "userName", "note", "edgeList",
    "isDirty", "isBad", "dynBad", "intBad", "progType", "madeFrom", "analParam",
    "analResult1", "analResult2", "analResult3", "analResult4", "user1", "user2", "user3",
    "userBool1", "userBool2", "userBool3", "userType", "bSpineMap", "bSpineIdx", "error",
    "warning",
)  # fmt: skip

#: Int<c> columns, as Map Manager's intensity analysis writes them
INT_COLUMNS: tuple[str, ...] = (
    "idx", "x", "y", "z", "sLen2d", "sLen3d", "intmSeconds", "isDirty", "intBad",
    "intManual", "spineWidth", "extendHead", "extendTail", "scaleRadius", "zPlusMinus",
    "sSum", "sMean", "sSD", "sN", "sbSum", "sbMean", "sbSD", "sbN", "sbxyManual", "sbxPos",
    "sbyPos", "dSum", "dMean", "dSD", "dN", "dPlus", "dMinus", "dbSum", "dbMean", "dbSD",
    "dbN", "ubssSum", "ubssMean", "ubsdSum", "ubsdMean", "utssmoss", "utsmmosm",
    "utssdoss", "utsmdosm", "utssmods", "utsmmodm", "utssdods", "utsmdodm", "utssdtds",
    "utsmdtdm", "utdsdods", "utdmdodm", "uSEV",
)  # fmt: skip

#: line file: segment table and point table columns
LINE_SEGMENT_COLUMNS: tuple[str, ...] = (
    "On", "Idx", "sID", "gID", "start", "stop", "n", "um", "nObj", "r", "c", "flipDendrite",
    "flipSpines", "swcFile", "startIs", "stopIs",
)  # fmt: skip
LINE_POINT_COLUMNS: tuple[str, ...] = (
    "node", "type", "x", "y", "z", "zFloor", "radius", "radiusFit", "prevNode", "ID", "gID",
    "tx", "ty", "tz", "sDist", "pDist", "Filament", "SetID", "GroupID", "sDist3d", "pDist3d",
)  # fmt: skip

#: objMap blocks (segMap has the first 11)
LINK_BLOCKS: tuple[str, ...] = (
    "idx", "next", "nextTP", "prev", "prevTP", "blank", "runIdx", "dynType", "forced",
    "nodeType", "segmentID", "splitIdx",
)  # fmt: skip

#: Int columns an :class:`Effect` may name (``<col>_int<c>``; ``sLen*`` only on channel 1)
EFFECT_INT_STATS: tuple[str, ...] = (
    "sLen2d", "sLen3d", "sSum", "sMean", "sSD", "sN", "sbSum", "sbMean", "sbSD", "sbN",
    "dSum", "dMean", "dSD", "dN", "dbSum", "dbMean", "dbSD", "dbN", "ubssSum", "ubssMean",
    "ubsdSum", "ubsdMean", "utssdtds", "utsmdtdm",
)  # fmt: skip
#: db2 columns an :class:`Effect` may name
EFFECT_DB2_STATS: tuple[str, ...] = (
    "x", "y", "z", "sDist", "pDist", "cAngle", "cx", "cy", "cz",
)  # fmt: skip

#: cells per header row (F27A_1 pads every row to 27 session columns)
HEADER_WIDTH = 27
DB2_VERSION = "20151224"
USER_NAME = "demo"

# geometry (µm)
_SPINE_SPACING = 1.6  # mean distance between spines along a segment
_SEGMENT_MARGIN = 8.0  # extra length of a segment beyond its spines
_BAND = 12.0  # minimum height of the band one segment occupies
_DENDRITE_RADIUS = 0.6
_CONTROL_SPACING = 4.0
_DENSE_STEP = 0.02

# channel -> (background mean, spine signal, dendrite signal) for the Int tables
_CHANNEL_LEVELS: dict[int, tuple[float, float, float]] = {
    1: (40.0, 260.0, 420.0),
    2: (20.0, 300.0, 90.0),
    3: (30.0, 90.0, 160.0),
}

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")
_BAD_TEXT = re.compile(r"[,;\t\r\n=]")


@dataclass(frozen=True)
class Effect:
    """A planted treatment effect: values of ``stat`` multiplied by ``factor`` in ``sessions``.

    Parameters
    ----------
    stat : str
        ``<col>_int<c>`` for an intensity column (``ubssSum_int2``, ``sLen3d_int1``; see
        :data:`EFFECT_INT_STATS`) or a db2 column (``pDist``; see :data:`EFFECT_DB2_STATS`).
    factor : float
        Multiplicative factor, e.g. 1.5.
    sessions : tuple of int
        Session indices affected, e.g. ``(3, 4, 5)``.
    """

    stat: str
    factor: float
    sessions: tuple[int, ...]


def default_conditions(sessions: int) -> list[str]:
    """Session conditions: the first half (at least one) ``"c"``, then ``e1, e2, ...``.

    Parameters
    ----------
    sessions : int
        Number of sessions.

    Returns
    -------
    list of str
        ``default_conditions(6) == ["c", "c", "c", "e1", "e2", "e3"]``.

    Examples
    --------
    >>> default_conditions(5)
    ['c', 'c', 'e1', 'e2', 'e3']
    """
    if sessions <= 0:
        return []
    n_control = max(1, sessions // 2)
    return ["c"] * n_control + [f"e{k}" for k in range(1, sessions - n_control + 1)]


# --------------------------------------------------------------------------- plan


@dataclass
class _Run:
    """One spine followed through sessions ``start..end`` (inclusive)."""

    segment: int
    s: float  # arc length along the segment's base curve (µm)
    side: int  # +1 / -1: which side of the dendrite
    length: float  # head distance from the dendrite edge (µm)
    angle: float  # radians away from the normal
    dz: int  # head slice offset from the dendrite
    start: int
    end: int
    size: float  # baseline size (drives the intensities)
    forced: bool = False
    bad: set[int] = field(default_factory=set)

    def present(self, j: int) -> bool:
        return self.start <= j <= self.end


@dataclass
class _Curve:
    """A dendrite's base curve sampled densely along its arc length."""

    u: np.ndarray
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray

    @property
    def length(self) -> float:
        return float(self.u[-1])


@dataclass
class _Tracing:
    """One segment traced in one session."""

    u: np.ndarray  # base arc length of each point
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray  # integer slices (as float)
    tx: np.ndarray  # unit tangent in x, y
    ty: np.ndarray
    sdist: np.ndarray
    sdist3d: np.ndarray
    pivot: int  # index (within this segment) of the pivot point
    first: int = 0  # global index of the first point in the session's line file

    @property
    def pdist(self) -> np.ndarray:
        return self.sdist - self.sdist[self.pivot]

    @property
    def pdist3d(self) -> np.ndarray:
        return self.sdist3d - self.sdist3d[self.pivot]


@dataclass
class _Row:
    """One db2 row under construction."""

    kind: str  # globalPIvot, pivotPnt, controlPnt, spineROI
    type_num: int
    values: dict[str, object]
    link: tuple[str, int] | None  # ("pivot", map segment) / ("run", run index)
    parent: float
    run: int = -1


def _check_text(what: str, value: str) -> None:
    if _BAD_TEXT.search(value):
        raise InvalidParameterError(f"{what} {value!r} may not contain , ; = tabs or line breaks")


def _validate(
    name: str,
    sessions: int,
    channels: int,
    shape: tuple[int, int, int],
    conditions: list[str],
    map_condition: str,
    segments: int,
    spines_per_segment: int,
    effect: Effect | None,
    dtype: str,
) -> None:
    if not _NAME_RE.match(name):
        raise InvalidParameterError(
            f"map name {name!r} must be letters, digits, '_' or '-' (it names every file)"
        )
    if not isinstance(sessions, int) or sessions < 1:
        raise InvalidParameterError(f"sessions must be a positive integer, not {sessions!r}")
    if channels not in (1, 2, 3):
        raise InvalidParameterError(f"channels must be 1, 2 or 3, not {channels!r}")
    if len(shape) != 3 or any(int(v) != v or v < 1 for v in shape):
        raise InvalidParameterError(f"shape must be (planes, rows, columns) > 0, not {shape!r}")
    if shape[1] < 16 or shape[2] < 16:
        raise InvalidParameterError(f"images must be at least 16 x 16 pixels, not {shape!r}")
    if len(conditions) != sessions:
        raise InvalidParameterError(
            f"{len(conditions)} conditions given for {sessions} sessions (one per session)"
        )
    for cond in conditions:
        _check_text("condition", cond)
    _check_text("map condition", map_condition)
    if not isinstance(segments, int) or segments < 1:
        raise InvalidParameterError(f"segments must be a positive integer, not {segments!r}")
    if not isinstance(spines_per_segment, int) or spines_per_segment < 0:
        raise InvalidParameterError(
            f"spines_per_segment must be a non-negative integer, not {spines_per_segment!r}"
        )
    if dtype not in ("uint8", "uint16", "float32"):
        raise InvalidParameterError(f"dtype must be uint8, uint16 or float32, not {dtype!r}")
    if effect is not None:
        if not math.isfinite(effect.factor):
            raise InvalidParameterError(f"effect factor must be finite, not {effect.factor}")
        bad = [s for s in effect.sessions if not 0 <= s < sessions]
        if bad:
            raise InvalidParameterError(f"effect sessions {bad} are not in 0..{sessions - 1}")
        base, sep, ch = effect.stat.rpartition("_int")
        if sep and ch.isdigit():
            c = int(ch)
            if not 1 <= c <= channels:
                raise InvalidParameterError(
                    f"effect statistic {effect.stat}: the map has channels 1..{channels}"
                )
            if base not in EFFECT_INT_STATS or (base.startswith("sLen") and c != 1):
                raise InvalidParameterError(
                    f"effect statistic {effect.stat}: choose one of "
                    f"{', '.join(EFFECT_INT_STATS)} with _int<c> (sLen2d/sLen3d on channel 1 only)"
                )
        elif effect.stat not in EFFECT_DB2_STATS:
            raise InvalidParameterError(
                f"effect statistic {effect.stat!r} is not one the generator fills: use an "
                f"intensity column <col>_int<c> or one of {', '.join(EFFECT_DB2_STATS)}"
            )


def _pixel_size(shape: tuple[int, int, int], segments: int, spines_per_segment: int) -> float:
    """µm per pixel: 0.12 unless the dendrites would not fit; 4 significant digits."""
    _, rows, cols = shape
    length = max(12.0, spines_per_segment * _SPINE_SPACING + _SEGMENT_MARGIN)
    need = max(0.12, length / 0.8 / cols, segments * _BAND / 0.85 / rows)
    return float(f"{need:.4g}") if need > 0.12 else 0.12


def _base_curve(
    rng: np.random.Generator,
    k: int,
    segments: int,
    length: float,
    width: float,
    height: float,
    planes: int,
) -> _Curve:
    """The base (session-independent) curve of map segment ``k``, in µm and slices."""
    band = height / segments
    yc = band * (k + 0.5) + rng.normal(0.0, band * 0.03)
    amp = min(2.0, band * 0.12)
    lam1, lam2 = rng.uniform(25.0, 45.0), rng.uniform(8.0, 14.0)
    ph1, ph2 = rng.uniform(0.0, 2 * math.pi, 2)
    half = length / 2
    room = max(0.0, band * 0.5 - 1.5 - amp * 1.4)
    max_tilt = math.asin(min(0.3, room / half)) if half > 0 else 0.0
    tilt = rng.uniform(-max_tilt, max_tilt)
    zc = (planes - 1) / 2 + rng.normal(0.0, planes * 0.04)
    bz = min(1.5, planes * 0.1)
    lamz, phz = rng.uniform(60.0, 120.0), rng.uniform(0.0, 2 * math.pi)
    # a wavy line along the axis, then resampled by arc length
    t = np.arange(-half, half + _DENSE_STEP / 2, _DENSE_STEP / 2)
    off = amp * np.sin(2 * np.pi * t / lam1 + ph1) + 0.4 * amp * np.sin(2 * np.pi * t / lam2 + ph2)
    step = np.hypot(np.diff(t), np.diff(off))
    arc = np.concatenate([[0.0], np.cumsum(step)])
    u = np.arange(0.0, arc[-1], _DENSE_STEP)
    tt = np.interp(u, arc, t)
    oo = np.interp(u, arc, off)
    ct, st = math.cos(tilt), math.sin(tilt)
    x = width / 2 + tt * ct - oo * st
    y = yc + tt * st + oo * ct
    z = np.clip(zc + bz * np.sin(2 * np.pi * u / lamz + phz), 0.0, planes - 1.0)
    return _Curve(u, x, y, z)


def _session_curve(
    c: _Curve,
    shift: tuple[float, float],
    rot: float,
    zshift: int,
    width: float,
    height: float,
    planes: int,
) -> _Curve:
    """The base curve moved by one session's registration jitter (kept inside the field)."""
    cx, cy = width / 2, height / 2
    cr, sr = math.cos(rot), math.sin(rot)
    x = cx + (c.x - cx) * cr - (c.y - cy) * sr + shift[0]
    y = cy + (c.x - cx) * sr + (c.y - cy) * cr + shift[1]
    margin = 1.0
    x += max(0.0, margin - x.min()) - max(0.0, x.max() - (width - margin))
    y += max(0.0, margin - y.min()) - max(0.0, y.max() - (height - margin))
    z = np.clip(c.z + zshift, 0.0, planes - 1.0)
    return _Curve(c.u, x, y, z)


def _trace(sc: _Curve, lo: float, hi: float, pivot_u: float, dx: float, dz: float) -> _Tracing:
    """Trace a session curve from arc length ``lo`` to ``hi`` at one point per pixel."""
    n = max(2, int(round((hi - lo) / dx)) + 1)
    u = np.linspace(lo, hi, n)
    x = np.interp(u, sc.u, sc.x)
    y = np.interp(u, sc.u, sc.y)
    z = np.rint(np.interp(u, sc.u, sc.z))
    gx = np.gradient(sc.x, sc.u)
    gy = np.gradient(sc.y, sc.u)
    tx = np.interp(u, sc.u, gx)
    ty = np.interp(u, sc.u, gy)
    norm = np.hypot(tx, ty)
    norm[norm == 0] = 1.0
    step2 = np.hypot(np.diff(x), np.diff(y))
    step3 = np.sqrt(step2**2 + (np.diff(z) * dz) ** 2)
    sdist = np.concatenate([[0.0], np.cumsum(step2)])
    sdist3d = np.concatenate([[0.0], np.cumsum(step3)])
    pivot = int(np.argmin(np.abs(u - pivot_u)))
    return _Tracing(u, x, y, z, tx / norm, ty / norm, sdist, sdist3d, pivot)


def _place(
    rng: np.random.Generator,
    runs: list[_Run],
    segment: int,
    length: float,
    start: int,
    end: int,
    min_gap: float = 0.7,
) -> float:
    """A position along ``segment`` at least ``min_gap`` from spines alive at the same time."""
    lo, hi = 2.0, max(2.5, length - 2.0)
    others = np.array(
        [r.s for r in runs if r.segment == segment and r.start <= end and start <= r.end]
    )
    s = float(rng.uniform(lo, hi))
    for _ in range(30):
        if others.size == 0 or np.min(np.abs(others - s)) >= min_gap:
            break
        s = float(rng.uniform(lo, hi))
    return s


def _new_run(
    rng: np.random.Generator,
    runs: list[_Run],
    segment: int,
    length: float,
    start: int,
    end: int,
    s: float | None = None,
    forced: bool = False,
) -> _Run:
    if s is None:
        s = _place(rng, runs, segment, length, start, end)
    return _Run(
        segment=segment,
        s=s,
        side=1 if rng.random() < 0.5 else -1,
        length=float(np.clip(rng.lognormal(math.log(1.1), 0.35), 0.5, 2.8)),
        angle=float(rng.normal(0.0, math.radians(20))),
        dz=int(rng.choice([-1, 0, 0, 0, 1])),
        start=start,
        end=end,
        size=float(rng.lognormal(0.0, 0.3)),
        forced=forced,
    )


def _survive(rng: np.random.Generator, start: int, sessions: int, q: float = 0.9) -> int:
    end = start
    while end < sessions - 1 and rng.random() < q:
        end += 1
    return end


def _plan_runs(
    rng: np.random.Generator, sessions: int, lengths: list[float], spines_per_segment: int
) -> list[_Run]:
    """Spine runs: ``spines_per_segment`` per segment in session 0, turnover afterwards."""
    runs: list[_Run] = []
    n0 = spines_per_segment
    for k, length in enumerate(lengths):
        span = length - 4.0
        for i in range(n0):
            s = 2.0 + (i + 0.5 + rng.uniform(-0.3, 0.3)) * span / n0
            runs.append(_new_run(rng, runs, k, length, 0, _survive(rng, 0, sessions), s=s))
        for j in range(1, sessions):
            for _ in range(int(rng.poisson(n0 * 0.1))):
                end = _survive(rng, j, sessions)
                runs.append(_new_run(rng, runs, k, length, j, end))
    if n0 == 0 or sessions < 2:
        return runs
    last = sessions - 1
    # make sure every kind of dynamics is there (they almost always are already)
    if not any(r.start >= 1 for r in runs):
        runs.append(_new_run(rng, runs, 0, lengths[0], 1, last, forced=True))
    if not any(r.end < last for r in runs):
        runs.append(_new_run(rng, runs, 0, lengths[0], 0, 0, forced=True))
    if sessions >= 3 and not any(r.start == r.end and 1 <= r.start < last for r in runs):
        runs.append(_new_run(rng, runs, 0, lengths[0], 1, 1, forced=True))
    if not any(r.start == 0 and r.end >= 1 for r in runs):
        runs.append(_new_run(rng, runs, 0, lengths[0], 0, last, forced=True))
    # the transient, added and subtracted examples must stay clean: mark bad only whole runs
    candidates = [i for i, r in enumerate(runs) if r.start == 0 and r.end == last and not r.forced]
    cells = sum(r.end - r.start + 1 for r in runs)
    n_bad = min(len(candidates), max(1, round(0.03 * cells)))
    if n_bad and len(candidates) >= 3:
        for i in rng.choice(candidates, size=n_bad, replace=False):
            runs[int(i)].bad.add(int(rng.integers(0, sessions)))
    return runs


def _igor_seconds(t: datetime) -> float:
    return (t - IGOR_EPOCH).total_seconds()


def _dyn_type(has_prev: bool, has_next: bool, j: int, sessions: int) -> float:
    """objMap ``dynType`` as Igor writes it (F27A_1): 1 add, 2 sub, 3 linked, 4 alone."""
    if sessions == 1:
        return 4.0
    if j == 0:
        return 3.0 if has_next else 2.0
    if j == sessions - 1:
        return 3.0 if has_prev else 1.0
    if has_prev and has_next:
        return 3.0
    if has_prev:
        return 2.0
    if has_next:
        return 1.0
    return 4.0


def _fmt(v: float, f: str = "%.5g") -> str:
    return format_number(v, f)


# --------------------------------------------------------------------------- writers


def _header_text(rows: list[tuple[str, list[str]]], width: int) -> str:
    lines = ["\t" * width]
    for name, cells in rows:
        padded = list(cells) + [""] * (width - len(cells))
        lines.append("\t".join([name, *padded]))
    return "\n".join(lines) + "\n"


def _link_text(data: np.ndarray) -> str:
    return LinkMap.from_array(data).to_text()


def _line_text(stack: str, save_time: str, tracings: list[_Tracing], n_obj: list[int]) -> str:
    eol = "\r"
    out = [
        f"stack={stack};stackdb={stack}_db2;saveTime={save_time};version={DB2_VERSION};"
        f"numHeaderRow={len(tracings)};",
        ",".join(LINE_SEGMENT_COLUMNS) + ",",
    ]
    for sid, tr in enumerate(tracings):
        n = len(tr.u)
        cells = [
            "",
            str(sid),
            str(sid),
            "NaN",
            str(tr.first),
            str(tr.first + n - 1),
            str(n),
            _fmt(float(tr.sdist3d[-1]), "%.3g"),
            str(n_obj[sid]),
            "0.35",
            "57",
            "0",
            "0",
            "",
            "",
            "",
        ]
        out.append(",".join(cells) + ",")
    # Map Manager's own line files (rr30a) have no comma after the last point column name
    # but one after every point row. fileformat.CsvTable rejects that mix, so the column
    # line gets a trailing comma too; pandas (index_col=False, as the old pymapmanager
    # reads line files) reads both forms the same way.
    out.append(",".join(LINE_POINT_COLUMNS) + ",")
    for sid, tr in enumerate(tracings):
        pd_, pd3 = tr.pdist, tr.pdist3d
        for i in range(len(tr.u)):
            g = tr.first + i
            prev = -1 if i == 0 else g - 1
            z = tr.z[i]
            out.append(
                f"NaN,NaN,{tr.x[i]:f},{tr.y[i]:f},{z:f},{math.floor(z):f},NaN,NaN,{prev:f},"
                f"{sid:f},NaN,NaN,NaN,NaN,{tr.sdist[i]:f},{pd_[i]:f},NaN,NaN,NaN,"
                f"{tr.sdist3d[i]:f},{pd3[i]:f},"
            )
    return eol.join(out) + eol


# --------------------------------------------------------------------------- generator


def generate_map(
    dest: str | Path,
    *,
    name: str = "demo",
    sessions: int = 6,
    channels: int = 2,
    shape: tuple[int, int, int] = (30, 512, 512),
    seed: int = 0,
    conditions: Sequence[str] | None = None,
    map_condition: str = "",
    segments: int = 2,
    spines_per_segment: int = 25,
    effect: Effect | None = None,
    images: bool = True,
    dtype: str = "uint16",
) -> Path:
    """Write a realistic map folder ``dest/name/`` in the real format; return its path.

    Seeded: identical arguments give identical bytes (text files and images).

    Parameters
    ----------
    dest : str or Path
        The parent folder; created when missing.
    name : str
        The map's name: the folder ``dest/name`` and every file's prefix; stacks are
        ``<name>_s<j>`` (header ``hsStack`` ``<name>_s<j>_ch1``).
    sessions : int
        Number of sessions (time points).
    channels : int
        Image channels, 1 to 3 (one ``Int<c>`` table and one TIFF per channel).
    shape : tuple of int
        ``(planes, rows, columns)`` of every stack (header ``pz``, ``py``, ``px``). The
        pixel size is 0.12 µm unless the dendrites need a larger one to fit; 1 µm per slice.
    seed : int
        Seed of every random number (geometry, dynamics, intensities, image noise).
    conditions : sequence of str, optional
        Session conditions (header ``condStr``), one per session; default
        :func:`default_conditions`.
    map_condition : str
        The map condition (header ``mapCond``).
    segments : int
        Dendritic segments (map segments), each in its own band of the field.
    spines_per_segment : int
        Spines per segment in session 0 (later sessions vary with turnover).
    effect : Effect, optional
        A planted effect (see the module documentation).
    images : bool
        Also render ``raw/<stack>_ch<c>.tif`` with :func:`pymapmanager.synthetic.images.render_stack`.
    dtype : str
        Image data type: ``uint8``, ``uint16`` (12-bit range) or ``float32``.

    Returns
    -------
    Path
        The map folder ``dest/name``.

    Raises
    ------
    InvalidParameterError
        An argument is out of range.
    FileExistsError
        ``dest/name`` exists and is not empty (nothing is overwritten).

    Examples
    --------
    >>> from pymapmanager import load_map
    >>> folder = generate_map("demo_maps", name="d1", sessions=3, channels=2, shape=(4, 64, 64),
    ...                       images=False, map_condition="ctrl")
    >>> m = load_map(folder)
    >>> folder.name, m.num_sessions, m.num_channels, m.map_condition
    ('d1', 3, 2, 'ctrl')
    """
    t_start = time.perf_counter()
    conds = list(default_conditions(sessions) if conditions is None else conditions)
    _validate(
        name=name,
        sessions=sessions,
        channels=channels,
        shape=shape,
        conditions=conds,
        map_condition=map_condition,
        segments=segments,
        spines_per_segment=spines_per_segment,
        effect=effect,
        dtype=dtype,
    )
    shape = (int(shape[0]), int(shape[1]), int(shape[2]))
    target = Path(dest) / name
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise FileExistsError(f"{target} exists and is not empty; remove it first")
    files = _generate_texts(
        name=name,
        sessions=sessions,
        channels=channels,
        shape=shape,
        seed=seed,
        conds=conds,
        map_condition=map_condition,
        segments=segments,
        spines_per_segment=spines_per_segment,
        effect=effect,
    )
    parent = Path(dest)
    parent.mkdir(parents=True, exist_ok=True)
    stage_root = parent / f".{name}.generating-{uuid.uuid4().hex[:8]}"
    stage = stage_root / name
    try:
        for rel, text in files.items():
            p = stage / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(text.encode("utf-8"))
        if images:
            _write_images(stage, seed, dtype)
        if target.exists():
            target.rmdir()  # empty (checked above)
        os.replace(stage, target)
    finally:
        shutil.rmtree(stage_root, ignore_errors=True)
    log.info(
        "generated map %s (%d sessions, %d channels, images=%s) in %.2f s",
        target,
        sessions,
        channels,
        images,
        time.perf_counter() - t_start,
    )
    return target


def _write_images(folder: Path, seed: int, dtype: str) -> None:
    from ..model import load_map
    from .images import render_stack, write_stack

    m = load_map(folder)
    for j, s in enumerate(m.sessions):
        for c in range(1, m.num_channels + 1):
            arr = render_stack(m, j, c, seed=seed, dtype=dtype)
            write_stack(folder / "raw" / f"{s.stack}_ch{c}.tif", arr)


@dataclass(frozen=True)
class _Layout:
    """The map's fixed parameters and the sizes derived from them."""

    name: str
    sessions: int
    channels: int
    planes: int
    rows: int
    cols: int
    conds: list[str]
    map_condition: str
    segments: int
    spines_per_segment: int
    dx: float  # µm per pixel
    dz: float  # µm per slice

    @property
    def width(self) -> float:
        return self.cols * self.dx

    @property
    def height(self) -> float:
        return self.rows * self.dx

    @property
    def stacks(self) -> list[str]:
        return [f"{self.name}_s{j}" for j in range(self.sessions)]


@dataclass(frozen=True)
class _Geometry:
    """The dendrites: base curves and each session's registration jitter and trims."""

    curves: list[_Curve]
    lengths: list[float]
    pivots_u: list[float]
    perms: list[np.ndarray]  # per session: map segment -> stack segment ID
    shifts: list[tuple[float, float]]
    rots: list[float]
    zshifts: list[int]
    trims: np.ndarray  # (sessions, segments, 2)


@dataclass(frozen=True)
class _Draws:
    """The spine runs and every per-run, per-session random number drawn for them."""

    runs: list[_Run]
    jit_s: np.ndarray
    jit_len: np.ndarray
    jit_ang: np.ndarray
    jit_xy: np.ndarray
    size_rj: np.ndarray
    n_s: np.ndarray
    n_sb: np.ndarray
    n_d: np.ndarray
    ch_noise: np.ndarray
    sd_frac: np.ndarray
    bg_level: np.ndarray
    dend_level: np.ndarray
    ctrl_jit: np.ndarray


def _generate_texts(
    name: str,
    sessions: int,
    channels: int,
    shape: tuple[int, int, int],
    seed: int,
    conds: list[str],
    map_condition: str,
    segments: int,
    spines_per_segment: int,
    effect: Effect | None,
) -> dict[str, str]:
    """Every text file of the map, ``relative path -> text``.

    The random numbers are drawn in one fixed order (acquisition times, geometry, spines);
    everything after is computed from them, and the planted effect comes last.
    """
    rng = np.random.default_rng(seed)
    planes, rows, cols = shape
    lay = _Layout(name, sessions, channels, planes, rows, cols, conds, map_condition, segments,
                  spines_per_segment, _pixel_size(shape, segments, spines_per_segment), 1.0)  # fmt: skip
    times, secs = _acquisition_times(rng, sessions)
    geo = _geometry(rng, lay)
    draws = _spine_draws(rng, lay, geo.lengths)
    db2_rows, tracings_all, spine_geo = _session_rows(lay, geo, draws)
    obj, seg = _links(db2_rows, sessions, segments, geo.perms)
    # timestamps of the annotations
    annot0 = [t + timedelta(days=2, hours=1) for t in times]
    save_str = f"{_igor_seconds(annot0[-1] + timedelta(days=3)):f}"
    db2_values = _db2_values(db2_rows, annot0)
    int_values = _int_values(lay, db2_rows, spine_geo, draws)
    if effect is not None:
        _apply_effect(effect, db2_rows, db2_values, int_values)
    files = _table_files(lay, db2_rows, db2_values, int_values, tracings_all, save_str)
    files[f"{name}_objMap.txt"] = _link_text(obj)
    files[f"{name}_segMap.txt"] = _link_text(seg)
    files[f"{name}.txt"] = _header_file(lay, times, secs, db2_rows)
    return dict(sorted(files.items()))


def _acquisition_times(rng: np.random.Generator, sessions: int) -> tuple[list[datetime], list[float]]:
    """Acquisition times a few days apart, mid-day; and as Igor seconds."""
    t0 = datetime(2016, 1, 4, 10, 0, 0) + timedelta(
        days=int(rng.integers(0, 300)), seconds=int(rng.integers(0, 5 * 3600))
    )
    times = [t0]
    for _ in range(1, sessions):
        gap = timedelta(days=int(rng.integers(2, 5)), seconds=int(rng.integers(-7200, 7200)))
        times.append(times[-1] + gap)
    secs = [_igor_seconds(t) for t in times]

    return times, secs


def _geometry(rng: np.random.Generator, lay: _Layout) -> _Geometry:
    """Each segment's base curve, pivot, and per session: shift, rotation, z shift, trims."""
    sessions, segments, spines_per_segment = lay.sessions, lay.segments, lay.spines_per_segment
    width, height, planes = lay.width, lay.height, lay.planes
    length = max(12.0, spines_per_segment * _SPINE_SPACING + _SEGMENT_MARGIN)
    curves = [_base_curve(rng, k, segments, length, width, height, planes) for k in range(segments)]
    lengths = [c.length for c in curves]
    pivots_u = [float(rng.uniform(0.35, 0.6)) * c.length for c in curves]
    perms: list[np.ndarray] = [np.arange(segments)]  # map segment -> stack segment ID
    shifts: list[tuple[float, float]] = [(0.0, 0.0)]
    rots, zshifts = [0.0], [0]
    for _ in range(1, sessions):
        shifts.append((float(rng.normal(0, 0.8)), float(rng.normal(0, 0.8))))
        rots.append(float(rng.normal(0, math.radians(0.8))))
        zshifts.append(int(rng.choice([-1, 0, 0, 1])))
        perms.append(rng.permutation(segments) if rng.random() < 0.3 else perms[-1].copy())
    trims = rng.uniform(0.0, 1.5, size=(sessions, segments, 2))
    trims[0] *= 0.3

    return _Geometry(curves, lengths, pivots_u, perms, shifts, rots, zshifts, trims)


def _spine_draws(rng: np.random.Generator, lay: _Layout, lengths: list[float]) -> _Draws:
    """The spine runs, their per-session jitter, sizes and intensity noise."""
    sessions, channels, segments = lay.sessions, lay.channels, lay.segments
    spines_per_segment = lay.spines_per_segment
    runs = _plan_runs(rng, sessions, lengths, spines_per_segment)
    nrun = len(runs)
    jit_s = rng.normal(0.0, 0.1, size=(nrun, sessions))
    jit_len = rng.lognormal(0.0, 0.05, size=(nrun, sessions))
    jit_ang = rng.normal(0.0, math.radians(4), size=(nrun, sessions))
    jit_xy = rng.normal(0.0, 0.04, size=(nrun, sessions, 2))
    size_rj = np.array([r.size for r in runs])[:, None] * rng.lognormal(
        0.0, 0.06, size=(nrun, sessions)
    )
    n_s = np.rint(900 * size_rj**0.4 * rng.uniform(0.9, 1.1, size=(nrun, sessions)))
    n_sb = np.rint(n_s * rng.uniform(0.7, 0.85, size=(nrun, sessions)))
    n_d = np.rint(rng.uniform(430, 500, size=(nrun, sessions)))
    ch_noise = rng.lognormal(0.0, 0.05, size=(channels, nrun, sessions, 4))
    sd_frac = rng.uniform(0.8, 1.2, size=(channels, nrun, sessions, 3))
    bg_level = rng.lognormal(0.0, 0.05, size=(channels, sessions))
    dend_level = rng.lognormal(0.0, 0.08, size=(channels, sessions, segments))
    ctrl_jit = rng.normal(0.0, 0.02, size=(sessions, segments, 64, 2))

    return _Draws(runs, jit_s, jit_len, jit_ang, jit_xy, size_rj, n_s, n_sb, n_d, ch_noise,
                  sd_frac, bg_level, dend_level, ctrl_jit)  # fmt: skip


def _session_rows(
    lay: _Layout, geo: _Geometry, draws: _Draws
) -> tuple[list[list[_Row]], list[list[_Tracing]], list[dict[int, dict[str, float]]]]:
    """Per session: the tracings, the db2 rows (global pivot, pivots, control points,
    spines) and each spine's geometry (for the intensity tables)."""
    sessions, segments, planes = lay.sessions, lay.segments, lay.planes
    width, height, dx, dz = lay.width, lay.height, lay.dx, lay.dz
    curves, perms, shifts, rots = geo.curves, geo.perms, geo.shifts, geo.rots
    zshifts, trims, pivots_u = geo.zshifts, geo.trims, geo.pivots_u
    runs, ctrl_jit = draws.runs, draws.ctrl_jit
    jit_s, jit_len, jit_ang, jit_xy = draws.jit_s, draws.jit_len, draws.jit_ang, draws.jit_xy
    nrun = len(runs)
    db2_rows: list[list[_Row]] = []
    tracings_all: list[list[_Tracing]] = []
    spine_geo: list[dict[int, dict[str, float]]] = []
    for j in range(sessions):
        perm = perms[j]
        inv = np.argsort(perm)  # stack segment ID -> map segment
        trs: list[_Tracing] = []
        first = 0
        for sid in range(segments):
            k = int(inv[sid])
            sc = _session_curve(curves[k], shifts[j], rots[j], zshifts[j], width, height, planes)
            lo, hi = trims[j, k, 0], curves[k].length - trims[j, k, 1]
            tr = _trace(sc, lo, hi, pivots_u[k], dx, dz)
            tr.first = first
            first += len(tr.u)
            trs.append(tr)
        tracings_all.append(trs)
        rows_j: list[_Row] = [
            _Row(
                "globalPIvot",
                8,
                {"x": 0.0, "y": 0.0, "z": 0.0, "parentID": math.nan},
                None,
                math.nan,
            )
        ]
        for sid, tr in enumerate(trs):
            k = int(inv[sid])
            p = tr.pivot
            rows_j.append(
                _Row(
                    "pivotPnt",
                    3,
                    {
                        "x": tr.x[p],
                        "y": tr.y[p],
                        "z": tr.z[p],
                        "parentID": float(sid),
                        "cPnt": float(tr.first + p),
                        "pDist": 0.0,
                    },
                    ("pivot", k),
                    float(sid),
                )
            )
            steps = np.floor(tr.sdist / _CONTROL_SPACING)
            ctrl = [0, *np.flatnonzero(np.diff(steps) > 0) + 1]
            if ctrl[-1] != len(tr.u) - 1:
                ctrl.append(len(tr.u) - 1)
            for n, i in enumerate(ctrl):
                jx, jy = ctrl_jit[j, k, n % 64]
                rows_j.append(
                    _Row(
                        "controlPnt",
                        2,
                        {
                            "x": tr.x[i] + jx,
                            "y": tr.y[i] + jy,
                            "z": tr.z[i],
                            "parentID": float(sid),
                            "cPnt": float(tr.first + i),
                            "sDist": tr.sdist[i],
                            "pDist": tr.pdist[i],
                            "cLine": "center",
                            "cLineNum": 0.0,
                            "cx": tr.x[i],
                            "cy": tr.y[i],
                            "cz": tr.z[i],
                            "madeFrom": 0.0,
                        },
                        None,
                        float(sid),
                    )
                )
        geo_j: dict[int, dict[str, float]] = {}
        active = [r for r in range(nrun) if runs[r].present(j)]
        active.sort(key=lambda r: (runs[r].start, int(perm[runs[r].segment]), runs[r].s))
        for r in active:
            run = runs[r]
            sid = int(perm[run.segment])
            tr = trs[sid]
            u = float(np.clip(run.s + jit_s[r, j], tr.u[0] + 0.2, tr.u[-1] - 0.2))
            i = int(np.argmin(np.abs(tr.u - u)))
            nx, ny = -tr.ty[i] * run.side, tr.tx[i] * run.side
            ex = tr.x[i] + nx * _DENDRITE_RADIUS
            ey = tr.y[i] + ny * _DENDRITE_RADIUS
            a = run.angle + jit_ang[r, j]
            ca, sa = math.cos(a), math.sin(a)
            ux, uy = nx * ca - ny * sa, nx * sa + ny * ca
            ln = run.length * jit_len[r, j]
            hx = float(np.clip(ex + ux * ln + jit_xy[r, j, 0], 0.0, width - dx))
            hy = float(np.clip(ey + uy * ln + jit_xy[r, j, 1], 0.0, height - dx))
            cz = float(tr.z[i])
            hz = float(np.clip(cz + run.dz, 0, planes - 1))
            slen2 = math.hypot(hx - ex, hy - ey)
            slen3 = math.sqrt(slen2**2 + ((hz - cz) * dz) ** 2)
            angle = math.degrees(math.atan2(hy - ey, hx - ex)) % 360.0
            bad = j in run.bad
            vals: dict[str, object] = {
                "x": hx,
                "y": hy,
                "z": hz,
                "parentID": float(sid),
                "cPnt": float(tr.first + i),
                "sDist": tr.sdist[i],
                "pDist": tr.pdist[i],
                "cAuto": 1.0,
                "cAngle": angle,
                "cLine": "radius1" if run.side > 0 else "radius2",
                "cLineNum": 1.0 if run.side > 0 else 2.0,
                "cx": ex,
                "cy": ey,
                "cz": cz,
                "isBad": 1.0 if bad else 0.0,
                "madeFrom": 0.0,
            }
            if bad:
                vals["note"] = "out of focus"
            rows_j.append(_Row("spineROI", 0, vals, ("run", r), float(sid), run=r))
            geo_j[r] = {"slen2": slen2, "slen3": slen3, "hx": hx, "hy": hy, "ux": ux, "uy": uy}
        db2_rows.append(rows_j)
        spine_geo.append(geo_j)

    return db2_rows, tracings_all, spine_geo


def _links(
    db2_rows: list[list[_Row]], sessions: int, segments: int, perms: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """The objMap (objects followed across sessions) and segMap (segments) blocks."""
    nrows = [len(rs) for rs in db2_rows]
    R = max(nrows)
    obj = np.full((12, R, sessions), np.nan)
    where: list[dict[tuple[str, int], int]] = []
    for rs in db2_rows:
        where.append({row.link: i for i, row in enumerate(rs) if row.link is not None})
    run_ids = np.full((R, sessions), np.nan)
    counter = 0
    for j, rs in enumerate(db2_rows):
        for i, row in enumerate(rs):
            obj[0, i, j] = i
            prev = where[j - 1].get(row.link) if (row.link is not None and j > 0) else None
            nxt = (
                where[j + 1].get(row.link) if (row.link is not None and j + 1 < sessions) else None
            )
            if nxt is not None:
                obj[1, i, j], obj[2, i, j] = nxt, j + 1
            if prev is not None:
                obj[3, i, j], obj[4, i, j] = prev, j - 1
                run_ids[i, j] = run_ids[prev, j - 1]
            else:
                run_ids[i, j] = counter
                counter += 1
            obj[7, i, j] = _dyn_type(prev is not None, nxt is not None, j, sessions)
            obj[8, i, j] = 0.0 if row.kind == "spineROI" else np.nan
            obj[9, i, j] = row.type_num
            obj[10, i, j] = row.parent
    obj[6] = run_ids
    seg = np.full((11, segments, sessions), np.nan)
    for j in range(sessions):
        for k in range(segments):
            sid = int(perms[j][k])
            seg[0, sid, j] = sid
            seg[6, sid, j] = k
            seg[9, sid, j] = 6
            if j + 1 < sessions:
                seg[1, sid, j], seg[2, sid, j] = perms[j + 1][k], j + 1
            if j > 0:
                seg[3, sid, j], seg[4, sid, j] = perms[j - 1][k], j - 1

    return obj, seg


def _db2_values(db2_rows: list[list[_Row]], annot0: list[datetime]) -> list[dict[str, list[object]]]:
    """Each session's db2 columns (creation and modification stamps 7 s apart)."""
    db2_values: list[dict[str, list[object]]] = []
    for j, rs in enumerate(db2_rows):
        colvals: dict[str, list[object]] = {c: [None] * len(rs) for c in DB2_COLUMNS}
        for i, row in enumerate(rs):
            when = annot0[j] + timedelta(seconds=7 * i)
            cs = round(_igor_seconds(when) + 0.125 + 0.001 * (i % 7), 3)
            day, clock = when.strftime("%Y-%m-%d"), when.strftime("%H:%M:%S")
            cells: dict[str, object] = {
                "Idx": float(i),
                "roiType": row.kind,
                "roiTypeNum": float(row.type_num),
                "channel": 1.0,
                "cDate": day,
                "cTime": clock,
                "mDate": day,
                "mTime": clock,
                "cSeconds": cs,
                "mSeconds": round(cs + 0.021, 3),
                "userName": USER_NAME,
            }
            cells.update(row.values)
            for name_, v in cells.items():
                colvals[name_][i] = v
        db2_values.append(colvals)
    return db2_values


def _int_values(
    lay: _Layout, db2_rows: list[list[_Row]], spine_geo: list[dict[int, dict[str, float]]],
    draws: _Draws,
) -> list[dict[int, dict[str, list[float]]]]:  # fmt: skip
    """Each session's and channel's ``Int<c>`` columns (spine, background, dendrite sums...)."""
    channels, runs = lay.channels, draws.runs
    bg_level, ch_noise, sd_frac = draws.bg_level, draws.ch_noise, draws.sd_frac
    n_s, n_sb, n_d = draws.n_s, draws.n_sb, draws.n_d
    size_rj, dend_level = draws.size_rj, draws.dend_level
    int_values: list[dict[int, dict[str, list[float]]]] = []
    for j, rs in enumerate(db2_rows):
        per_ch: dict[int, dict[str, list[float]]] = {}
        for c in range(1, channels + 1):
            bg0, spine0, dend0 = _CHANNEL_LEVELS[c]
            ivals = {col: [math.nan] * len(rs) for col in INT_COLUMNS}
            bg = bg0 * bg_level[c - 1, j]
            for i, row in enumerate(rs):
                ivals["idx"][i] = float(i)
                if row.kind != "spineROI":
                    continue
                r = row.run
                g = spine_geo[j][r]
                k = runs[r].segment
                nz = ch_noise[c - 1, r, j]
                sdf = sd_frac[c - 1, r, j]
                sN, sbN, dN = n_s[r, j], n_sb[r, j], n_d[r, j]
                s_mean = bg * nz[0] + spine0 * size_rj[r, j] * nz[1]
                sb_mean = bg * nz[2]
                d_mean = bg * nz[0] + dend0 * dend_level[c - 1, j, k] * nz[3]
                s_sum, sb_sum, d_sum = round(s_mean * sN), round(sb_mean * sbN), round(d_mean * dN)
                s_mean, sb_mean, d_mean = s_sum / sN, sb_sum / sbN, d_sum / dN
                ubss_sum, ubss_mean = s_sum - sb_sum, s_mean - sb_mean
                ubsd_sum, ubsd_mean = d_sum - sb_sum, d_mean - sb_mean
                update = {
                    "isDirty": 0.0,
                    "sSum": s_sum,
                    "sMean": s_mean,
                    "sSD": 0.45 * s_mean * sdf[0],
                    "sN": sN,
                    "sbSum": sb_sum,
                    "sbMean": sb_mean,
                    "sbSD": 0.7 * sb_mean * sdf[1],
                    "sbN": sbN,
                    "sbxPos": g["hx"] + g["ux"] * 1.5,
                    "sbyPos": g["hy"] + g["uy"] * 1.5,
                    "dSum": d_sum,
                    "dMean": d_mean,
                    "dSD": 0.3 * d_mean * sdf[2],
                    "dN": dN,
                    "dbSum": sb_sum,
                    "dbMean": sb_mean,
                    "dbSD": 0.7 * sb_mean * sdf[1],
                    "dbN": sbN,
                    "ubssSum": ubss_sum,
                    "ubssMean": ubss_mean,
                    "ubsdSum": ubsd_sum,
                    "ubsdMean": ubsd_mean,
                    "utssdtds": ubss_sum / ubsd_sum,
                    "utsmdtdm": ubss_mean / ubsd_mean,
                }
                if c == 1:
                    update["sLen2d"], update["sLen3d"] = g["slen2"], g["slen3"]
                for col, v in update.items():
                    ivals[col][i] = float(v)
            per_ch[c] = ivals
        int_values.append(per_ch)

    return int_values


def _apply_effect(
    effect: Effect, db2_rows: list[list[_Row]], db2_values: list[dict[str, list[object]]],
    int_values: list[dict[int, dict[str, list[float]]]],
) -> None:  # fmt: skip
    """Multiply the effect's statistic on spine rows of its sessions (after every draw)."""
    stat_base, sep, ch = effect.stat.rpartition("_int")
    for j in sorted(set(effect.sessions)):
        column: list[Any]
        if sep and ch.isdigit():
            column = int_values[j][int(ch)][stat_base]
        else:
            column = db2_values[j][effect.stat]
        for i, row in enumerate(db2_rows[j]):
            v = column[i]
            if row.kind == "spineROI" and isinstance(v, float):
                column[i] = v * effect.factor



def _table_files(
    lay: _Layout, db2_rows: list[list[_Row]], db2_values: list[dict[str, list[object]]],
    int_values: list[dict[int, dict[str, list[float]]]], tracings_all: list[list[_Tracing]],
    save_str: str,
) -> dict[str, str]:  # fmt: skip
    """The db2, Int<c> and line files of every session."""
    stacks, conds, channels, segments = lay.stacks, lay.conds, lay.channels, lay.segments
    cols, rows, planes, dx, dz = lay.cols, lay.rows, lay.planes, lay.dx, lay.dz
    files: dict[str, str] = {}
    db2_formats = {"cSeconds": "%f", "mSeconds": "%f", "Idx": "%g", "cPnt": "%g"}
    for j, rs in enumerate(db2_rows):
        stack = stacks[j]
        n_spines = sum(1 for r in rs if r.kind == "spineROI")
        meta = {
            "stack": stack,
            "stackdb": f"{stack}_db2",
            "saveTime": save_str,
            "version": DB2_VERSION,
            "numObjects": str(len(rs)),
            "numSpines": str(n_spines),
            "condStr": conds[j] or "None",
            "pixelx": str(cols),
            "pixely": str(rows),
            "pixelz": str(planes),
            "voxelx": _fmt(dx, "%g"),
            "voxely": _fmt(dx, "%g"),
            "voxelz": _fmt(dz, "%g"),
        }
        t = CsvTable.build(
            DB2_COLUMNS,
            {k: v for k, v in db2_values[j].items()},
            meta=meta,
            formats=db2_formats,
            default_format="%.5g",
        )
        files[f"stackdb/{stack}_db2.txt"] = t.to_text()
        for c in range(1, channels + 1):
            imeta = {
                "stack": stack,
                "stackdb": f"{stack}_db2",
                "saveTime": save_str,
                "version": DB2_VERSION,
            }
            it = CsvTable.build(
                INT_COLUMNS,
                {k: v for k, v in int_values[j][c].items()},
                meta=imeta,
                default_format="%f",
            )
            files[f"stackdb/{stack}_Int{c}.txt"] = it.to_text()
        n_obj = [
            sum(1 for r in rs if r.kind == "spineROI" and r.parent == sid)
            for sid in range(segments)
        ]
        files[f"line/{stack}_l.txt"] = _line_text(stack, save_str, tracings_all[j], n_obj)

    return files


def _header_file(
    lay: _Layout, times: list[datetime], secs: list[float], db2_rows: list[list[_Row]]
) -> str:
    """The map's header (``<name>.txt``), padded as F27A_1 is."""
    name, sessions, channels, segments = lay.name, lay.sessions, lay.channels, lay.segments
    stacks, conds, map_condition = lay.stacks, lay.conds, lay.map_condition
    cols, rows, planes, dx, dz = lay.cols, lay.rows, lay.planes, lay.dx, lay.dz
    nrows = [len(rs) for rs in db2_rows]
    width = max(HEADER_WIDTH, sessions)
    idx = [str(j) for j in range(sessions)]
    days = [(s - secs[0]) / 86400 for s in secs]
    hours = [(s - secs[0]) / 3600 for s in secs]
    each = lambda v: [v] * sessions  # noqa: E731
    n_spines_total = sum(1 for rs in db2_rows for r in rs if r.kind == "spineROI")
    header_rows: list[tuple[str, list[str]]] = [
        ("stringonly", ["1"]),
        ("folder", ["root:maps:"]),
        ("wname", [name]),
        ("rawpath", [f"demo:MapManagerData:{name}:"]),
        ("savepath", []),
        ("parent", ["none"]),
        ("class", ["nv"]),
        ("nvTemplate", []),
        ("isDirty", ["0"]),
        ("index", idx),
        ("hsIdx", idx),
        ("hsType", each("mm3")),
        ("hsStack", [f"{s}_ch1" for s in stacks]),
        ("hsStackPath", each(f"root:ScanImage:{name}:raw:")),
        ("hsdb", [f"{s}_db2" for s in stacks]),
        ("hsStackNV", list(stacks)),
        ("date", [t.strftime("%Y%m%d") for t in times]),
        ("time", [t.strftime("%H:%M:%S") for t in times]),
        ("hsStackSeconds", [f"{s:f}" for s in secs]),
        ("fiducPnt", each("0")),
        ("numChannels", each(str(channels))),
        ("defaultChannel", each("1")),
        ("px", each(str(cols))),
        ("py", each(str(rows))),
        ("pz", each(str(planes))),
        ("dx", each(_fmt(dx, "%g"))),
        ("dy", each(_fmt(dx, "%g"))),
        ("dz", each(_fmt(dz, "%g"))),
        ("stackdbVersion", [DB2_VERSION]),
        ("numSeg", [str(segments)]),
        ("numObj", [str(sum(nrows))]),
        ("numSpine", [str(n_spines_total)]),
        ("importedStackName", [f"{name}_{t.strftime('%y%m%d')}_001" for t in times]),
        ("isDirty_stacknv", each("0")),
        ("isDirty_stackdb", each("0")),
        ("isDirty_line", each("0")),
        ("condStr", conds),
        ("zeroSession", ["0"]),
        ("sessions", idx),
        ("datetime", [f"{s:f}" for s in secs]),
        ("days", [_fmt(d) for d in days]),
        ("hours", [_fmt(h) for h in hours]),
        ("zsessions", idx),
        ("zdays", [_fmt(d) for d in days]),
        ("zhours", [_fmt(h) for h in hours]),
        ("mapCond", [map_condition]),
        ("mapWinPos", ["40;40;840;640;"]),
    ]
    return _header_text(header_rows, width)
