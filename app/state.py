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
    "VIEW_PARAMS",
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


#: Every query parameter a map viewer URL may carry.
VIEW_PARAMS: tuple[str, ...] = ("s", "z", "ch", "proj", "k", "run", "roi", "link", "ov")


def _strict_int_list(text: str) -> tuple[int, ...] | None:
    """``"0,1"`` / ``"0-3"`` -> the integers, or None when any part is not one."""
    out: list[int] = []
    for raw in text.split(","):
        p = raw.strip()
        if not p:
            continue
        if "-" in p[1:]:
            a, _, b = p.partition("-")
            lo, hi = _opt_int(a), _opt_int(b)
            if lo is None or hi is None or hi < lo or hi - lo >= 1000 or not a.strip().isdigit():
                return None
            out.extend(range(lo, hi + 1))
        elif p.isdigit():
            out.append(int(p))
        else:
            return None
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True)
class ViewState:
    """What a map viewer URL says: sessions shown, slice, channel, projection, selected run.

    ``z`` is one plane for every shown session, or a list with one plane per shown session
    (the planes differ once the viewers went to a spine). ``ignored`` lists the URL values
    that could not be read (``"proj=bogus: ..."``), for the page to say so; values that
    are well formed but out of range for the map are checked when the map is loaded.
    ``overlay`` (``ov=1``) shows channels 1 and 2 at once, green and magenta. The browser
    writes the URL from its view state (``app/assets/10-pmm-state.js``, ``query``), in this same form.
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
    ignored: tuple[str, ...] = ()

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
        """From URL query parameters (as Dash pages passes them to ``layout``).

        A value that cannot be read is left at its default and named in ``ignored``.
        """
        ignored: list[str] = []

        def bad(name: str, why: str) -> None:
            value = str(query.get(name))
            shown = value if len(value) <= 40 else value[:40] + "…"
            ignored.append(f"{name}={shown}: {why}")

        def given(name: str) -> str | None:
            v = query.get(name)
            if v is None:
                return None
            if isinstance(v, list | tuple):
                return ",".join(str(x) for x in v)
            return str(v).strip()

        sessions: tuple[int, ...] = ()
        raw = given("s")
        if raw:
            parsed = _strict_int_list(raw)
            if parsed is None:
                bad("s", "not a list of session numbers")
            else:
                sessions = parsed
        z: tuple[int, ...] = ()
        raw = given("z")
        if raw:
            parts = [p.strip() for p in raw.split(",") if p.strip()]
            if parts and all(p.isdigit() for p in parts):
                z = tuple(int(p) for p in parts)
            else:
                bad("z", "not a plane number (0 or more)")
        channel: int | None = None
        raw = given("ch")
        if raw:
            if raw.isdigit() and int(raw) >= 1:
                channel = int(raw)
            else:
                bad("ch", "channels are numbered from 1")
        projection = "none"
        raw = given("proj")
        if raw:
            if raw in PROJECTIONS:
                projection = raw
            else:
                bad("proj", f"not one of {', '.join(PROJECTIONS)}")
        k = 2
        raw = given("k")
        if raw:
            if raw.isdigit() and 1 <= int(raw) <= 50:
                k = int(raw)
            else:
                bad("k", "the sliding projection's k is a number from 1 to 50")
        run: int | None = None
        raw = given("run")
        if raw:
            if raw.isdigit():
                run = int(raw)
            else:
                bad("run", "not a run number (0 or more)")
        roi = ""
        raw = given("roi")
        if raw:
            if raw.replace("_", "").isalnum():
                roi = raw
            else:
                bad("roi", "not an ROI type name")
        def flag(name: str, default: bool) -> bool:
            raw = (given(name) or "").lower()
            if raw in ("1", "true", "on", "yes"):
                return True
            if raw in ("0", "false", "off", "no"):
                return False
            if raw:
                bad(name, f"use {name}=0 or {name}=1")
            return default

        overlay = flag("ov", False)
        link = flag("link", True)
        for name in query:
            if name not in VIEW_PARAMS:
                bad(str(name), "not a parameter of this page")
        return cls(
            sessions=sessions,
            z=z,
            channel=channel,
            projection=projection,
            k=k,
            run=run,
            roi=roi,
            link=link,
            ignored=tuple(ignored),
            overlay=overlay,
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
            "ignored": list(self.ignored),
            "overlay": self.overlay,
        }

    @classmethod
    def from_store(cls, data: Any) -> ViewState:
        """From a store's data (what cannot be read falls back to the default)."""
        if not isinstance(data, Mapping):
            return cls()
        q: dict[str, Any] = {
            "s": ",".join(str(v) for v in data.get("sessions") or []),
            "z": ",".join(str(v) for v in data.get("z") or []),
            "ch": data.get("channel"),
            "proj": data.get("projection"),
            "k": data.get("k"),
            "run": data.get("run"),
            "roi": data.get("roi"),
            "link": "1" if data.get("link", True) else "0",
            "ov": "1" if data.get("overlay") else "0",
        }
        view = cls.from_query({k: v for k, v in q.items() if v is not None and v != ""})
        notes = data.get("ignored")
        if isinstance(notes, list | tuple):
            view = replace(view, ignored=tuple(str(n) for n in notes) + view.ignored)
        return view

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
    #: the plane to open at when nothing else says (the median plane of its spines)
    default_z: int | None = None

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
            "default_z": self.default_z,
        }
