"""What the map viewer page draws: per-session viewer descriptions, annotation and tracing
layers as GeoJSON, plot tables and run strips (cached by map id and data version).

Builds on :mod:`app.services.maps` (parsed map, annotations, tracings, map values) and
:mod:`app.services.images` (image URLs), and on :mod:`pymapmanager.navigation` for where a
run is in every session (the spine itself, or the matching place on the tracing).

Coordinates follow :mod:`app.services.images`: one map unit per full-resolution pixel,
pixel ``(row, col)`` at ``lat = -row, lng = col``; GeoJSON positions are ``[lng, lat]``.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from pymapmanager import dynamics, map_values
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
    "TILE_ABOVE",
    "contrast_info",
    "map_overview",
    "plot_table",
    "run_strip",
    "spine_layer",
    "tracing_layer",
    "viewer_metas",
]

log = logging.getLogger(__name__)

#: Planes with a side longer than this are served as tiles; smaller ones as one image.
TILE_ABOVE = 1024

#: Statistics offered first in the plot's axis menus (when the map has them).
PREFERRED_STATS = ("days", "session", "pDist", "sLen3d_int1", "ubssSum_int2", "ubssSum_int1")


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
        "statistics": ordered,
        "sessions": sessions,
    }


def _fmt_date(date: str) -> str:
    d = (date or "").strip()
    if len(d) == 8 and d.isdigit():
        return f"{d[:4]}-{d[4:6]}-{d[6:]}"
    return d


def _labels(index: int, date: str, condition: str, imported: str, days: float | None) -> dict[str, str]:
    day = "" if days is None or not math.isfinite(days) else f" · day {round(days, 1):g}"
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


def viewer_metas(ref: MapRef, version: str, sessions: list[int]) -> list[ViewerMeta]:
    """One :class:`ViewerMeta` per session asked for (unknown sessions are left out)."""
    info = map_info(ref, version)
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
