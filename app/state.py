"""Small typed payloads kept in ``dcc.Store``s, the URL and the preferences cookie.

Only ids and view parameters live here, never tables. Each payload is a frozen dataclass
with ``to_store()`` (JSON-ready dict) and ``from_store(data)`` (tolerant: anything
malformed falls back to the default, so a hand-edited URL or an old cookie never breaks a
page).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote, unquote, urlencode

__all__ = [
    "LABEL_MODES",
    "PREFS_COOKIE",
    "PROJECTIONS",
    "DisplayPrefs",
    "MapKey",
    "Selection",
    "SliceState",
    "ViewState",
    "ViewerMeta",
]

log = logging.getLogger(__name__)

#: Name of the cookie holding :class:`DisplayPrefs` (URL-encoded JSON).
PREFS_COOKIE = "pmm_prefs"
#: How sessions are labelled above their viewer.
LABEL_MODES: tuple[str, ...] = ("index", "date", "condition", "file")
#: Image projections: the plane itself, the max over all planes, the max over z ± k.
PROJECTIONS: tuple[str, ...] = ("none", "max", "sliding")


def _int(value: Any, default: int, lo: int | None = None, hi: int | None = None) -> int:
    try:
        v = int(value)
    except (TypeError, ValueError):
        return default
    if lo is not None and v < lo:
        return default
    if hi is not None and v > hi:
        return default
    return v


def _opt_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        v = int(value)
    except (TypeError, ValueError):
        return None
    return v if v >= 0 else None


def _int_list(value: Any) -> tuple[int, ...]:
    """``[0, 1]``, ``"0,1"`` or ``"0-3"`` -> ``(0, 1)`` / ``(0, 1, 2, 3)``; junk is skipped."""
    if value is None:
        return ()
    parts: list[Any]
    if isinstance(value, str):
        parts = [p for p in value.split(",") if p.strip()]
    elif isinstance(value, list | tuple):
        parts = list(value)
    else:
        parts = [value]
    out: list[int] = []
    for p in parts:
        if isinstance(p, str) and "-" in p.strip()[1:]:
            a, _, b = p.strip().partition("-")
            lo, hi = _opt_int(a), _opt_int(b)
            if lo is not None and hi is not None and hi >= lo and hi - lo < 1000:
                out.extend(range(lo, hi + 1))
            continue
        v = _opt_int(p.strip() if isinstance(p, str) else p)
        if v is not None and v not in out:
            out.append(v)
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True)
class MapKey:
    """Which map a page shows, and the data version its stores were built for."""

    owner: str = ""
    name: str = ""
    version: str = ""

    @property
    def id(self) -> str:
        """``owner/name``."""
        return f"{self.owner}/{self.name}"

    def to_store(self) -> dict[str, str]:
        """JSON-ready."""
        return {"owner": self.owner, "name": self.name, "version": self.version}

    @classmethod
    def from_store(cls, data: Any) -> MapKey:
        """From a store's data (empty key when missing)."""
        if not isinstance(data, Mapping):
            return cls()
        return cls(str(data.get("owner") or ""), str(data.get("name") or ""), str(data.get("version") or ""))


@dataclass(frozen=True)
class Selection:
    """The selected run (row of ``Map.runs_of(roi)``) and where it was picked."""

    run: int | None = None
    session: int | None = None
    source: str = ""

    def to_store(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"run": self.run, "session": self.session, "source": self.source}

    @classmethod
    def from_store(cls, data: Any) -> Selection:
        """From a store's data."""
        if not isinstance(data, Mapping):
            return cls()
        return cls(_opt_int(data.get("run")), _opt_int(data.get("session")), str(data.get("source") or ""))


@dataclass(frozen=True)
class SliceState:
    """The plane each session viewer shows (session -> plane index)."""

    z: dict[int, int] = field(default_factory=dict)

    def to_store(self) -> dict[str, Any]:
        """JSON-ready (keys as strings, as JSON needs)."""
        return {"z": {str(k): int(v) for k, v in sorted(self.z.items())}}

    @classmethod
    def from_store(cls, data: Any) -> SliceState:
        """From a store's data."""
        z = data.get("z") if isinstance(data, Mapping) else None
        if not isinstance(z, Mapping):
            return cls()
        out: dict[int, int] = {}
        for k, v in z.items():
            kk, vv = _opt_int(k), _opt_int(v)
            if kk is not None and vv is not None:
                out[kk] = vv
        return cls(out)


@dataclass(frozen=True)
class ViewState:
    """What a map viewer URL says: sessions shown, slice, channel, projection, selected run.

    ``z`` is one plane for every shown session, or a list with one plane per shown session
    (the planes differ once the viewers went to a spine). ``overlay`` (``ov=1``) shows
    channels 1 and 2 at once, green and magenta. The browser writes the URL from its view
    state (``app/assets/10-pmm-state.js``, ``query``), in this same form.
    """

    sessions: tuple[int, ...] = ()
    z: tuple[int, ...] = ()
    channel: int | None = None
    projection: str = "none"
    k: int = 2
    run: int | None = None
    roi: str = ""
    link: bool = True
    overlay: bool = False

    def to_query(self) -> str:
        """The URL query (``?s=0,1&z=5&ch=1...``), leaving defaults out; '' when all default."""
        q: dict[str, str] = {}
        if self.sessions:
            q["s"] = ",".join(str(s) for s in self.sessions)
        if self.z:
            q["z"] = ",".join(str(z) for z in self.z)
        if self.channel is not None:
            q["ch"] = str(self.channel)
        if self.projection != "none":
            q["proj"] = self.projection
        if self.k != 2:
            q["k"] = str(self.k)
        if self.run is not None:
            q["run"] = str(self.run)
        if self.roi:
            q["roi"] = self.roi
        if not self.link:
            q["link"] = "0"
        if self.overlay:
            q["ov"] = "1"
        return ("?" + urlencode(q, safe=",")) if q else ""

    @classmethod
    def from_query(cls, query: Mapping[str, Any]) -> ViewState:
        """From URL query parameters (as Dash pages passes them to ``layout``)."""
        proj = str(query.get("proj") or "none")
        ch = _opt_int(query.get("ch"))
        roi = str(query.get("roi") or "")
        return cls(
            sessions=_int_list(query.get("s")),
            z=tuple(v for v in (_opt_int(p) for p in str(query.get("z") or "").split(",")) if v is not None),
            channel=ch if ch is not None and ch >= 1 else None,
            projection=proj if proj in PROJECTIONS else "none",
            k=_int(query.get("k"), 2, 1, 50),
            run=_opt_int(query.get("run")),
            roi=roi if roi.replace("_", "").isalnum() else "",
            link=str(query.get("link", "1")) not in ("0", "false", "off"),
            overlay=str(query.get("ov", "0")) in ("1", "true", "on"),
        )

    def to_store(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "sessions": list(self.sessions),
            "z": list(self.z),
            "channel": self.channel,
            "projection": self.projection,
            "k": self.k,
            "run": self.run,
            "roi": self.roi,
            "link": self.link,
            "overlay": self.overlay,
        }

    @classmethod
    def from_store(cls, data: Any) -> ViewState:
        """From a store's data."""
        if not isinstance(data, Mapping):
            return cls()
        q = dict(data)
        q["s"] = data.get("sessions")
        q["z"] = ",".join(str(v) for v in data.get("z") or [])
        q["ch"] = data.get("channel")
        q["proj"] = data.get("projection")
        q["link"] = "1" if data.get("link", True) else "0"
        q["ov"] = "1" if data.get("overlay") else "0"
        return cls.from_query(q)

    def z_for(self, sessions: list[int], default: int) -> dict[int, int]:
        """The plane of each session: from ``z`` (one for all, or one each), else ``default``."""
        if not self.z:
            return {s: default for s in sessions}
        if len(self.z) == 1:
            return {s: self.z[0] for s in sessions}
        shown = list(self.sessions) or sessions
        by = dict(zip(shown, self.z, strict=False))
        return {s: by.get(s, self.z[0]) for s in sessions}


@dataclass(frozen=True)
class DisplayPrefs:
    """Display preferences, kept in the ``pmm_prefs`` cookie across reloads.

    ``contrast`` maps a channel (as a string) to ``[lo, hi]`` pixel values, or is absent
    for automatic contrast from the stack's histogram.
    """

    spine_size: int = 6
    plot_size: int = 7
    default_channel: int = 0
    label_mode: str = "date"
    contrast: dict[str, tuple[float, float]] = field(default_factory=dict)

    def to_store(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "spine_size": self.spine_size,
            "plot_size": self.plot_size,
            "default_channel": self.default_channel,
            "label_mode": self.label_mode,
            "contrast": {k: [v[0], v[1]] for k, v in sorted(self.contrast.items())},
        }

    @classmethod
    def from_store(cls, data: Any) -> DisplayPrefs:
        """From a store's data (each field falls back to its default on its own)."""
        if not isinstance(data, Mapping):
            return cls()
        d = cls()
        mode = str(data.get("label_mode") or d.label_mode)
        contrast: dict[str, tuple[float, float]] = {}
        raw = data.get("contrast")
        if isinstance(raw, Mapping):
            for k, v in raw.items():
                ch = _opt_int(k)
                if ch is None or not 1 <= ch <= 8 or not isinstance(v, list | tuple) or len(v) != 2:
                    continue
                try:
                    lo, hi = float(v[0]), float(v[1])
                except (TypeError, ValueError):
                    continue
                if lo < hi:
                    contrast[str(ch)] = (lo, hi)
        return cls(
            spine_size=_int(data.get("spine_size"), d.spine_size, 1, 30),
            plot_size=_int(data.get("plot_size"), d.plot_size, 1, 30),
            default_channel=_int(data.get("default_channel"), d.default_channel, 0, 8),
            label_mode=mode if mode in LABEL_MODES else d.label_mode,
            contrast=contrast,
        )

    def to_cookie(self) -> str:
        """The cookie value (URL-encoded compact JSON)."""
        return quote(json.dumps(self.to_store(), separators=(",", ":")), safe="")

    @classmethod
    def from_cookie(cls, text: str | None) -> DisplayPrefs:
        """From the cookie value; defaults when absent or unreadable."""
        if not text:
            return cls()
        try:
            data = json.loads(unquote(text))
        except ValueError:
            log.info("ignoring an unreadable %s cookie", PREFS_COOKIE)
            return cls()
        return cls.from_store(data)

    def with_contrast(self, channel: int, lohi: tuple[float, float] | None) -> DisplayPrefs:
        """A copy with one channel's contrast set (None: automatic)."""
        c = dict(self.contrast)
        if lohi is None:
            c.pop(str(channel), None)
        else:
            c[str(channel)] = (float(lohi[0]), float(lohi[1]))
        return replace(self, contrast=c)


@dataclass(frozen=True)
class ViewerMeta:
    """What the clientside code needs to draw one session viewer (no tables).

    ``image_url`` is a template with ``{z}``, ``{channel}``, ``{projection}``, ``{k}``
    placeholders (and ``{lo}``/``{hi}`` filled from the contrast, or dropped for auto);
    ``tile_url`` the same for tiles (``{z}`` there is the plane; Leaflet's own ``{z}``,
    ``{x}``, ``{y}`` are written ``{lz}``, ``{x}``, ``{y}``). ``planes``, ``rows``,
    ``columns`` give the canvas; ``has_images`` False draws an empty, labelled canvas.
    """

    session: int
    planes: int
    rows: int
    columns: int
    has_images: bool
    tiled: bool
    image_url: str
    tile_url: str
    max_level: int
    channels: tuple[int, ...]
    date: str
    condition: str
    imported_name: str
    days: float | None
    version: str = ""
    label: dict[str, str] = field(default_factory=dict)

    def to_store(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "session": self.session,
            "planes": self.planes,
            "rows": self.rows,
            "columns": self.columns,
            "has_images": self.has_images,
            "tiled": self.tiled,
            "image_url": self.image_url,
            "tile_url": self.tile_url,
            "max_level": self.max_level,
            "channels": list(self.channels),
            "date": self.date,
            "condition": self.condition,
            "imported_name": self.imported_name,
            "days": self.days,
            "version": self.version,
            "label": dict(self.label),
        }
