"""What the map viewer page draws: per-session viewer descriptions, annotation and tracing
layers as GeoJSON, plot tables and run strips (cached by map id and data version).

Builds on :mod:`app.services.maps` (parsed map, annotations, tracings, map values) and
:mod:`app.services.images` (image URLs), and on :mod:`pymapmanager.navigation` for where a
run is in every session (the spine itself, or the matching place on the tracing).

Coordinates follow :mod:`app.services.images`: one map unit per full-resolution pixel,
pixel ``(row, col)`` at ``lat = -row, lng = col``; GeoJSON positions are ``[lng, lat]``.
"""

from __future__ import annotations

import csv
import io
import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from pymapmanager import dynamics, dynamics_summary, map_values
from pymapmanager.analysis import DYNAMICS_NAMES
from pymapmanager.errors import InvalidParameterError
from pymapmanager.navigation import ON_TRACING, PRESENT, UNKNOWN, run_targets, um_per_pixel

from ..state import ViewerMeta
from .images import ImageParams, crop_url, plane_contrast, plane_job, plane_url, tile_url_template
from .maps import (
    MapRef,
    cached_json,
    get_map,
    map_info,
    map_statistics,
    session_annotations,
    tracing,
)

__all__ = [
    "DYNAMICS_COLUMNS",
    "SESSION_LEVEL_STATS",
    "TABLE_STATS",
    "TILE_ABOVE",
    "contrast_info",
    "day_label",
    "dynamics_csv",
    "map_dynamics",
    "map_overview",
    "median_planes",
    "plot_table",
    "run_strip",
    "runs_table",
    "session_table",
    "spine_layer",
    "tracing_layer",
    "values_csv_tidy",
    "values_csv_wide",
    "viewer_metas",
]

log = logging.getLogger(__name__)

#: Planes with a side longer than this are served as tiles; smaller ones as one image.
TILE_ABOVE = 1024

#: Statistics offered first in the plot's axis menus (when the map has them).
PREFERRED_STATS = ("days", "session", "pDist", "sLen3d_int1", "ubssSum_int2", "ubssSum_int1")

#: Statistics with one value per session (the same for every object of a session).
SESSION_LEVEL_STATS = ("session", "days", "hours", "zdays")

#: Statistic columns of the spine table at first (those the map has).
TABLE_STATS = ("pDist", "sDist", "sLen3d_int1", "sLen3d_int2", "ubssSum_int1", "ubssSum_int2", "dssSum_int1", "dssSum_int2")


def _roi(info: dict[str, Any], roi: str | None) -> str:
    default = str(info.get("default_roi") or "spineROI")
    if not roi:
        return default
    if roi not in info.get("roi_types", []) and roi != default:
        raise InvalidParameterError(f"unknown ROI type '{roi}'")
    return roi


def map_overview(ref: MapRef, version: str) -> dict[str, Any]:
    """What the page's controls offer: sessions, channels, statistics, ROI types, segments.

    Returns
    -------
    dict
        ``{"id", "name", "owner", "version", "num_sessions", "num_channels",
        "default_channel", "default_roi", "roi_types", "num_map_segments", "map_condition",
        "has_images", "statistics": [...preferred first], "sessions": [{"index", "date",
        "condition", "imported_name", "days", "has_images", "planes"}]}``.
    """
    info = map_info(ref, version)
    stats = map_statistics(ref, version)
    first = [s for s in PREFERRED_STATS if s in stats]
    ordered = first + [s for s in stats if s not in first]
    traced = _tracing_flags(ref, version)
    sessions = []
    for s in info["sessions"]:
        img = s.get("image")
        shape = s.get("shape") or [None, None, None]
        planes = img["shape"][0] if img else shape[0]
        sessions.append(
            {
                "index": s["index"],
                "date": s.get("date", ""),
                "condition": s.get("condition", ""),
                "imported_name": s.get("imported_name", ""),
                "days": s.get("days"),
                "has_images": bool(s.get("has_images")),
                "has_tracing": bool(traced[s["index"]]) if s["index"] < len(traced) else False,
                "planes": planes,
            }
        )
    return {
        "id": info["id"],
        "name": info["name"],
        "owner": info["owner"],
        "version": version,
        "num_sessions": info["num_sessions"],
        "num_channels": info["num_channels"],
        "default_channel": info["default_channel"],
        "default_roi": info["default_roi"],
        "roi_types": info.get("roi_types", []),
        "num_map_segments": info["num_map_segments"],
        "map_condition": info["map_condition"],
        "has_images": info["has_images"],
        "num_runs": info["num_runs"],
        "statistics": ordered,
        "sessions": sessions,
    }


def _tracing_flags(ref: MapRef, version: str) -> list[bool]:
    """Per session: whether it has a dendrite tracing (cached)."""

    def build() -> list[bool]:
        m = get_map(ref, version)
        return [m.tracing(j) is not None for j in range(m.num_sessions)]

    result: list[bool] = cached_json(f"viewer-traced:{ref.id}:{version}", build)
    return result


def day_label(days: float | None) -> str:
    """``"day 4"``: whole days since the first session (clock fractions rounded away)."""
    if days is None or not math.isfinite(days):
        return ""
    return f"day {round(days):d}"


def median_planes(ref: MapRef, version: str, roi: str | None = None) -> list[int | None]:
    """Per session: the median plane of its objects of ``roi`` (None without any), cached.

    The plane a viewer opens at when the URL does not say: where the spines are, not the
    middle of the stack (which can lie above every spine).
    """
    info = map_info(ref, version)
    r = _roi(info, roi)

    def build() -> list[int | None]:
        m = get_map(ref, version)
        out: list[int | None] = []
        for j in range(m.num_sessions):
            try:
                z = np.asarray(m.column(j, "z"), dtype=float)
            except InvalidParameterError:
                out.append(None)
                continue
            z = z[m.roi_type_mask(j, r) & np.isfinite(z)]
            out.append(int(np.floor(np.median(z) + 0.5)) if z.size else None)
        return out

    result: list[int | None] = cached_json(f"viewer-zmedian:{ref.id}:{version}:{r}", build)
    return result


def _fmt_date(date: str) -> str:
    d = (date or "").strip()
    if len(d) == 8 and d.isdigit():
        return f"{d[:4]}-{d[4:6]}-{d[6:]}"
    return d


def _labels(index: int, date: str, condition: str, imported: str, days: float | None) -> dict[str, str]:
    day = day_label(days)
    day = f" · {day}" if day else ""
    return {
        "index": f"Session {index}",
        "date": f"{_fmt_date(date) or f'Session {index}'}{day}",
        "condition": f"Session {index} · {condition}" if condition else f"Session {index} · (no condition)",
        "file": imported or f"Session {index}",
    }


def _canvas(ref: MapRef, version: str, session: int, info_session: dict[str, Any]) -> tuple[int, int, int]:
    """(planes, rows, columns) of a session's canvas: its image, else the header, else the
    extent of its annotations."""
    img = info_session.get("image")
    if img:
        p, r, c = (int(v) for v in img["shape"])
        return p, r, c
    shape = info_session.get("shape") or [None, None, None]
    planes, rows, cols = shape
    if rows and cols:
        return int(planes or 1), int(rows), int(cols)
    m = get_map(ref, version)
    dx, dy = um_per_pixel(m, session)
    xs = np.asarray(m.column(session, "x"), dtype=float) / dx
    ys = np.asarray(m.column(session, "y"), dtype=float) / dy
    zs = np.asarray(m.column(session, "z"), dtype=float)
    ok = np.isfinite(xs) & np.isfinite(ys)
    if not ok.any():
        return int(planes or 1), 512, 512
    pad = 20
    return (
        int(planes or (np.nanmax(zs) + 1 if np.isfinite(zs).any() else 1)),
        int(np.ceil(ys[ok].max()) + pad),
        int(np.ceil(xs[ok].max()) + pad),
    )


def _clamp_plane(z: int | None, planes: int) -> int | None:
    return None if z is None else max(0, min(max(1, planes) - 1, int(z)))


def viewer_metas(ref: MapRef, version: str, sessions: list[int]) -> list[ViewerMeta]:
    """One :class:`ViewerMeta` per session asked for (unknown sessions are left out)."""
    info = map_info(ref, version)
    medians = median_planes(ref, version)
    out = []
    for s in sessions:
        if not 0 <= s < info["num_sessions"]:
            continue
        si = info["sessions"][s]
        planes, rows, cols = _canvas(ref, version, s, si)
        img = si.get("image")
        base_plane = plane_url(ref, s, 0).split("/planes/")[0] + "/planes/"
        base_tile = tile_url_template(ref, s).split("/tiles/")[0] + "/tiles/"
        out.append(
            ViewerMeta(
                session=s,
                planes=max(1, planes),
                rows=rows,
                columns=cols,
                has_images=bool(si.get("has_images")),
                tiled=bool(img) and max(rows, cols) > TILE_ABOVE,
                image_url=base_plane,
                tile_url=base_tile,
                max_level=int(img["max_level"]) if img else 0,
                channels=tuple(int(c) for c in si.get("channels_with_images", [])),
                date=si.get("date", ""),
                condition=si.get("condition", ""),
                imported_name=si.get("imported_name", ""),
                days=si.get("days"),
                version=version,
                label=_labels(s, si.get("date", ""), si.get("condition", ""), si.get("imported_name", ""), si.get("days")),
                default_z=_clamp_plane(medians[s], planes),
            )
        )
    return out


def _targets_json(ref: MapRef, version: str, roi: str) -> dict[str, Any]:
    """Run targets of every run in every session (cached): xyz and kind lists."""

    def build() -> dict[str, Any]:
        m = get_map(ref, version)
        t = run_targets(m, roi)
        return {"xyz": t.xyz, "kind": t.kind}

    result: dict[str, Any] = cached_json(f"viewer-targets:{ref.id}:{version}:{roi}", build, ref)
    return result


def spine_layer(ref: MapRef, version: str, session: int, roi: str | None = None) -> dict[str, Any]:
    """The session's annotations as a GeoJSON FeatureCollection for the viewer.

    Every object of the ROI type is a Point with properties ``run, row, z, dyn`` (dynamics
    code), ``bad``, ``seg`` (map segment), ``pDist``, ``ghost: false``. Every run absent
    from this session adds a ``ghost: true`` Point where the viewer should look for it
    (on the tracing at the same pDist; ``kind`` says how it was found), drawn only when
    that run is selected.
    """
    info = map_info(ref, version)
    r = _roi(info, roi)

    def build() -> dict[str, Any]:
        ann = session_annotations(ref, session, roi=r, version=version)
        m = get_map(ref, version)
        dx, dy = um_per_pixel(m, session)
        features: list[dict[str, Any]] = []
        seen: set[int] = set()
        for o in ann["objects"]:
            x = o["x_px"] if o["x_px"] is not None else (o["x_um"] / dx if o["x_um"] is not None else None)
            y = o["y_px"] if o["y_px"] is not None else (o["y_um"] / dy if o["y_um"] is not None else None)
            if x is None or y is None:
                continue
            if o["run"] is not None:
                seen.add(int(o["run"]))
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [round(x, 2), round(-y, 2)]},
                    "properties": {
                        "run": o["run"],
                        "row": o["row"],
                        "z": o["z"],
                        "dyn": o["dynamics"],
                        "bad": o["isBad"],
                        "seg": o["segment"],
                        "pDist": None if o["pDist"] is None else round(o["pDist"], 3),
                        "ghost": False,
                    },
                }
            )
        t = _targets_json(ref, version, r)
        for run, (xyzs, kinds) in enumerate(zip(t["xyz"], t["kind"], strict=True)):
            if run in seen:
                continue
            xyz, kind = xyzs[session], kinds[session]
            if kind in (UNKNOWN, PRESENT) or xyz[0] is None or xyz[1] is None:
                continue
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [round(xyz[0], 2), round(-xyz[1], 2)]},
                    "properties": {
                        "run": run,
                        "row": None,
                        "z": None if xyz[2] is None else int(xyz[2]),
                        "dyn": None,
                        "bad": False,
                        "seg": None,
                        "pDist": None,
                        "ghost": True,
                        "kind": "tracing" if kind == ON_TRACING else "copied",
                    },
                }
            )
        return {"type": "FeatureCollection", "features": features}

    result: dict[str, Any] = cached_json(f"viewer-spines:{ref.id}:{version}:{session}:{r}", build, ref)
    return result


def tracing_layer(ref: MapRef, version: str, session: int) -> dict[str, Any]:
    """The session's dendrite tracing as GeoJSON LineStrings (one per segment)."""

    def build() -> dict[str, Any]:
        tr = tracing(ref, session, version=version)
        m = get_map(ref, version)
        dx, dy = um_per_pixel(m, session)
        features = []
        for seg in tr["segments"]:
            xs = seg["x_px"] if seg["x_px"] is not None else [v / dx for v in seg["x_um"]]
            ys = seg["y_px"] if seg["y_px"] is not None else [v / dy for v in seg["y_um"]]
            coords = [
                [round(x, 1), round(-y, 1)]
                for x, y in zip(xs, ys, strict=True)
                if x is not None and y is not None
            ]
            if len(coords) < 2:
                continue
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "LineString", "coordinates": coords},
                    "properties": {"id": seg["id"], "seg": seg["segment"]},
                }
            )
        return {"type": "FeatureCollection", "features": features}

    result: dict[str, Any] = cached_json(f"viewer-tracing:{ref.id}:{version}:{session}", build, ref)
    return result


def plot_table(
    ref: MapRef,
    version: str,
    x: str,
    y: str,
    *,
    roi: str | None = None,
    segment: int | None = None,
    include_bad: bool = False,
) -> dict[str, Any]:
    """Map values of two statistics, runs x sessions, with dynamics and map segments.

    Returns
    -------
    dict
        ``{"x", "y", "roi", "runs": [run per row], "xs": [[...]], "ys": [[...]], "dyn":
        [[code or None]], "seg": [[map segment or None]], "bad": [[bool]]}`` (rows are runs
        present after the filters; None where absent).
    """
    info = map_info(ref, version)
    r = _roi(info, roi)
    key = f"viewer-plot:{ref.id}:{version}:{x}:{y}:{r}:{segment}:{int(include_bad)}"

    def build() -> dict[str, Any]:
        m = get_map(ref, version)
        mx = map_values(m, x, roi=r, segment=segment, include_bad=include_bad)
        my = map_values(m, y, roi=r, segment=segment, include_bad=include_bad)
        # both come from the same runs and filters: the same rows in the same order
        dyn = dynamics(mx.present())
        present = mx.present()
        xs = np.where(present, mx.values, np.nan)
        ys = np.where(present, my.values, np.nan)
        return {
            "x": x,
            "y": y,
            "roi": r,
            "runs": mx.runs,
            "xs": xs,
            "ys": ys,
            "dyn": np.where(present, dyn, np.nan),
            "seg": np.where(present, mx.segments, np.nan),
            "bad": mx.bad & present,
            "present": present,
        }

    result: dict[str, Any] = cached_json(key, build, ref)
    return result


def run_strip(
    ref: MapRef,
    version: str,
    run: int,
    *,
    roi: str | None = None,
    channel: int | None = None,
    half: int = 24,
    k: int = 1,
    contrast: tuple[float, float] | None = None,
) -> list[dict[str, Any]]:
    """One crop per session of a run: where it is, whether it is there, the crop's URL.

    Returns
    -------
    list of dict
        ``{"session", "present", "kind": "spine"|"tracing"|"copied"|"unknown", "x", "y",
        "z", "dyn", "dyn_name", "url" (None without images or position)}`` per session.
    """
    info = map_info(ref, version)
    r = _roi(info, roi)
    t = _targets_json(ref, version, r)
    if not 0 <= run < len(t["kind"]):
        raise InvalidParameterError(f"map {ref.id} has no run {run} of {r}")
    m = get_map(ref, version)
    runs = m.runs_of(r)
    present = runs >= 0
    dyn = dynamics(present)
    names = {PRESENT: "spine", ON_TRACING: "tracing", UNKNOWN: "unknown"}
    out = []
    for s, si in enumerate(info["sessions"]):
        xyz = t["xyz"][run][s]
        kind = t["kind"][run][s]
        ok = xyz[0] is not None and xyz[1] is not None and xyz[2] is not None
        chans = si.get("channels_with_images", [])
        ch = channel if channel in chans else (chans[0] if chans else None)
        url = None
        if ok and ch is not None:
            lo, hi = contrast if contrast else (None, None)
            url = crop_url(ref, s, ImageParams(
                row=float(xyz[1]), col=float(xyz[0]), z=int(xyz[2]), half=half, channel=ch,
                k=k or None, lo=lo, hi=hi, v=version,
            ))  # fmt: skip
        code = dyn[run, s]
        out.append(
            {
                "session": s,
                "present": bool(present[run, s]),
                "kind": names.get(kind, "copied"),
                "x": xyz[0],
                "y": xyz[1],
                "z": xyz[2],
                "dyn": None if math.isnan(code) else int(code),
                "dyn_name": None if math.isnan(code) else DYNAMICS_NAMES[int(code)],
                "url": url,
            }
        )
    return out


def contrast_info(ref: MapRef, version: str, session: int) -> dict[str, Any]:
    """Per channel with images in ``session``: the automatic display range and histogram of
    its max projection (what the contrast slider and its histogram show), cached.

    Returns
    -------
    dict
        ``{"<channel>": {"lo", "hi", "min", "max", "dtype", "histogram": {"counts",
        "edges"}}}``; empty when the session has no images.
    """
    info = map_info(ref, version)
    if not 0 <= session < info["num_sessions"]:
        return {}
    chans = info["sessions"][session].get("channels_with_images", [])

    def build() -> dict[str, Any]:
        out: dict[str, Any] = {}
        for ch in chans:
            job = plane_job(
                ref, session, 0, ImageParams(channel=int(ch), projection="max"), version=version
            )
            out[str(ch)] = plane_contrast(job, bins=48)
        return out

    result: dict[str, Any] = cached_json(f"viewer-contrast:{ref.id}:{version}:{session}", build, ref)
    return result


# --------------------------------------------------------------------------- tables and exports


def session_table(
    ref: MapRef, version: str, session: int, stats: Sequence[str], roi: str | None = None
) -> dict[str, Any]:
    """The objects of one session with their statistics (the spine table), cached.

    Returns
    -------
    dict
        ``{"session", "roi", "stats": [the statistics the session has, as asked],
        "rows": [{"run", "row", "segment", "dynamics" (name), "bad", "z", <stat>: value or
        None...}]}`` in run order. Session-level statistics (``days``...) are left out.
    """
    info = map_info(ref, version)
    r = _roi(info, roi)
    if not 0 <= session < info["num_sessions"]:
        raise InvalidParameterError(f"map {ref.id} has no session {session}")
    wanted = [st for st in dict.fromkeys(stats) if st not in SESSION_LEVEL_STATS]
    key = f"viewer-table:{ref.id}:{version}:{session}:{r}:{','.join(wanted)}"

    def build() -> dict[str, Any]:
        ann = session_annotations(ref, session, roi=r, version=version)
        m = get_map(ref, version)
        cols: dict[str, np.ndarray] = {}
        for st in wanted:
            try:
                c = m.column(session, st)
            except InvalidParameterError:
                continue
            if c.dtype == object:
                continue
            cols[st] = np.asarray(c, dtype=float)
        rows = []
        for o in ann["objects"]:
            rec: dict[str, Any] = {
                "run": o["run"],
                "row": o["row"],
                "segment": o["segment"],
                "dynamics": o["dynamics_name"],
                "bad": bool(o["isBad"]),
                "z": o["z"],
            }
            for st, c in cols.items():
                rec[st] = c[o["row"]]
            rows.append(rec)
        rows.sort(key=lambda rec: (rec["run"] is None, rec["run"] or 0, rec["row"]))
        return {"session": session, "roi": r, "stats": list(cols), "rows": rows}

    result: dict[str, Any] = cached_json(key, build)
    return result


def runs_table(table: dict[str, Any], which: str = "y") -> list[dict[str, Any]]:
    """One row per run of a plot table: ``{"run", "segment", "n", "s0", "s1"...}`` with the
    plotted statistic (``which`` = ``"y"`` or ``"x"``) in each session (None where absent)."""
    vals = table["ys" if which == "y" else "xs"]
    out = []
    for i, run in enumerate(table["runs"]):
        rec: dict[str, Any] = {"run": int(run)}
        segs = [sg for sg in table["seg"][i] if sg is not None]
        rec["segment"] = int(segs[0]) if segs else None
        present = table["present"][i]
        rec["n"] = int(sum(1 for p in present if p))
        for j, v in enumerate(vals[i]):
            rec[f"s{j}"] = v if present[j] else None
        out.append(rec)
    return out


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "" if not math.isfinite(v) else f"{v:.6g}"
    return str(v)


def _csv(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for row in rows:
        w.writerow([_fmt(v) for v in row])
    return buf.getvalue()


def values_csv_wide(table: dict[str, Any]) -> str:
    """The plotted values as runs x sessions: ``run, segment, <y>_s0 .. <y>_sN`` (and the
    x statistic's columns when it is not a per-session one such as ``days``)."""
    nses = len(table["ys"][0]) if table["ys"] else 0
    stats = [("y", table["y"])]
    if table["x"] not in SESSION_LEVEL_STATS and table["x"] != table["y"]:
        stats.insert(0, ("x", table["x"]))
    header = ["run", "segment"] + [f"{name}_s{j}" for _, name in stats for j in range(nses)]
    rows = []
    by = {"x": table["xs"], "y": table["ys"]}
    for i, run in enumerate(table["runs"]):
        segs = [sg for sg in table["seg"][i] if sg is not None]
        row: list[Any] = [int(run), int(segs[0]) if segs else None]
        for which, _ in stats:
            row.extend(v if table["present"][i][j] else None for j, v in enumerate(by[which][i]))
        rows.append(row)
    return _csv(header, rows)


def values_csv_tidy(table: dict[str, Any]) -> str:
    """The plotted values, one line per point: ``run, session, segment, dynamics, bad, <x>, <y>``."""
    x, y = table["x"], table["y"]
    header = ["run", "session", "segment", "dynamics", "bad", x] + ([y] if y != x else [])
    rows = []
    for i, run in enumerate(table["runs"]):
        for j, present in enumerate(table["present"][i]):
            if not present:
                continue
            code = table["dyn"][i][j]
            seg = table["seg"][i][j]
            row: list[Any] = [
                int(run),
                j,
                None if seg is None else int(seg),
                DYNAMICS_NAMES.get(int(code), "") if code is not None else "",
                bool(table["bad"][i][j]),
                table["xs"][i][j],
            ]
            if y != x:
                row.append(table["ys"][i][j])
            rows.append(row)
    return _csv(header, rows)


#: Columns of :func:`map_dynamics` records, in order.
DYNAMICS_COLUMNS = (
    "segment", "session", "day", "n", "n_bad", "added", "subtracted", "persistent",
    "pct_added", "pct_subtracted", "length_um", "density",
)  # fmt: skip


def map_dynamics(
    ref: MapRef, version: str, roi: str | None = None, include_bad: bool = False
) -> list[dict[str, Any]]:
    """Per map segment and session: counts, added, subtracted, persistent, percentages,
    density per µm (:func:`pymapmanager.dynamics_summary`), cached.

    ``persistent`` counts the objects also present in the previous session (``n - added``;
    None in the first session, which has no previous one). ``day`` is the whole day of the
    session. A map without segments has ``segment`` -1 (all objects).
    """
    info = map_info(ref, version)
    r = _roi(info, roi)

    def build() -> list[dict[str, Any]]:
        m = get_map(ref, version)
        df = dynamics_summary(m, roi=r, include_bad=include_bad)
        out = []
        for rec in df.to_dict(orient="records"):
            j = int(rec["session"])
            days = m.sessions[j].days
            out.append(
                {
                    "segment": int(rec["segment"]),
                    "session": j,
                    "day": round(days) if math.isfinite(days) else None,
                    "n": int(rec["n"]),
                    "n_bad": int(rec["n_bad"]),
                    "added": int(rec["added"]) if j > 0 else None,
                    "subtracted": int(rec["subtracted"]) if j > 0 else None,
                    "persistent": int(rec["n"]) - int(rec["added"]) if j > 0 else None,
                    "pct_added": rec["pct_added"],
                    "pct_subtracted": rec["pct_subtracted"],
                    "length_um": rec["length_um"],
                    "density": rec["density"],
                }
            )
        return out

    result: list[dict[str, Any]] = cached_json(
        f"viewer-dynamics:{ref.id}:{version}:{r}:{int(include_bad)}", build
    )
    return result


def dynamics_csv(records: list[dict[str, Any]]) -> str:
    """:func:`map_dynamics` as CSV."""
    return _csv(DYNAMICS_COLUMNS, [[rec.get(c) for c in DYNAMICS_COLUMNS] for rec in records])
