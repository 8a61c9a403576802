"""The compact serialised form of a loaded map (what a cache holds).

Every table column is stored typed, not as text: numbers as exact scaled integers
(``15.540940`` -> ``15540940`` with scale 6, delta-coded when that is smaller, split into
byte planes so zlib finds the structure), NaN as a bit mask, text as one joined string.
A decimal scaled back by a correctly rounded division gives the very float64 the text
parsed to, so values come back exactly; columns that are not short decimals are stored as
raw float64.

A map restored from this form answers every question a loaded map answers (tables, runs,
map values, tracings) but keeps no file text, so it cannot be saved: load the folder for
that. The whole form is zlib-compressed.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidParameterError
from .text import CsvTable, HeaderTable, LinkMap, Tracing

if TYPE_CHECKING:
    from ..model import Map

__all__ = ["MAGIC", "decode_map", "encode_map"]

MAGIC = b"PMM2"
_MAX_SCALE = 9


class _Writer:
    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def add(self, data: bytes) -> list[int]:
        ref = [self.size, len(data)]
        self.parts.append(data)
        self.size += len(data)
        return ref


def _int_dtype(maxabs: int) -> np.dtype:
    for dt in (np.int8, np.int16, np.int32, np.int64):
        if maxabs <= np.iinfo(dt).max:
            return np.dtype(dt)
    raise OverflowError(maxabs)  # pragma: no cover - guarded by the 2**62 check


def _encode_numbers(a: np.ndarray, w: _Writer) -> dict[str, Any]:
    """Encode a float64 column exactly."""
    finite = np.isfinite(a)
    spec: dict[str, Any] = {"n": int(a.size)}
    if not finite.all():
        spec["special"] = w.add(np.packbits(~finite).tobytes())
        other = a[~finite]
        if (~np.isnan(other)).any():  # infinities: keep them exactly
            spec["inf"] = w.add(other.astype("<f8").tobytes())
    v = a[finite]
    if v.size == 0:
        spec["kind"] = "empty"
        return spec
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(_MAX_SCALE + 1):
            q = np.round(v * 10.0**k)
            if np.abs(q).max() >= 2.0**62:
                break
            if np.array_equal(q / 10.0**k, v):
                qi = q.astype(np.int64)
                d = np.diff(qi, prepend=np.int64(0))
                delta = bool(np.abs(d).max() < np.abs(qi).max())
                use = d if delta else qi
                dt = _int_dtype(int(np.abs(use).max()))
                planes = use.astype(dt.newbyteorder("<")).view(np.uint8).reshape(-1, dt.itemsize)
                spec.update(kind="int", scale=k, delta=delta, itemsize=dt.itemsize)
                spec["data"] = w.add(np.ascontiguousarray(planes.T).tobytes())
                return spec
    spec["kind"] = "f64"
    spec["data"] = w.add(v.astype("<f8").tobytes())
    return spec


def _decode_numbers(spec: dict[str, Any], blob: memoryview) -> np.ndarray:
    n = spec["n"]
    out = np.empty(n, dtype=np.float64)
    if "special" in spec:
        o, ln = spec["special"]
        special = np.unpackbits(np.frombuffer(blob[o : o + ln], dtype=np.uint8), count=n).astype(bool)
    else:
        special = np.zeros(n, dtype=bool)
    finite = ~special
    kind = spec["kind"]
    if kind == "int":
        o, ln = spec["data"]
        size = spec["itemsize"]
        planes = np.frombuffer(blob[o : o + ln], dtype=np.uint8).reshape(size, -1)
        dt = np.dtype(f"<i{size}")
        ints = np.ascontiguousarray(planes.T).view(dt).reshape(-1).astype(np.int64)
        if spec["delta"]:
            ints = np.cumsum(ints)
        out[finite] = ints / 10.0 ** spec["scale"]
    elif kind == "f64":
        o, ln = spec["data"]
        out[finite] = np.frombuffer(blob[o : o + ln], dtype="<f8")
    out[special] = np.nan
    if "inf" in spec:
        o, ln = spec["inf"]
        out[special] = np.frombuffer(blob[o : o + ln], dtype="<f8")
    return out


def _encode_table(t: CsvTable, w: _Writer) -> dict[str, Any]:
    cols = []
    for name in t.columns:
        a = t.column(name)
        if a.dtype == object:
            texts = [str(x) for x in a.tolist()]
            cols.append({"name": name, "kind": "text", "data": w.add("\x1f".join(texts).encode("utf-8")), "n": len(texts)})
        else:
            cols.append({"name": name, **_encode_numbers(a, w)})
    return {
        "path": t.path,
        "meta": t.meta_line,
        "rows": len(t),
        "trailing": t.trailing_comma,
        "eol": t.eol,
        "numeric": sorted(t.numeric),
        "all_numeric": t.all_numeric,
        "columns": cols,
    }


def _decode_table(d: dict[str, Any], blob: memoryview) -> CsvTable:
    typed: dict[str, np.ndarray] = {}
    names: list[str] = []
    for c in d["columns"]:
        names.append(c["name"])
        if c["kind"] == "text":
            o, ln = c["data"]
            texts = bytes(blob[o : o + ln]).decode("utf-8").split("\x1f") if c["n"] else []
            typed[c["name"]] = np.array(texts, dtype=object)
        else:
            typed[c["name"]] = _decode_numbers(c, blob)
    return CsvTable.restored(
        d["path"],
        d["meta"],
        names,
        typed,
        d["rows"],
        trailing_comma=d["trailing"],
        eol=d["eol"],
        numeric=frozenset(d["numeric"]),
        all_numeric=d["all_numeric"],
    )


def _encode_link(lm: LinkMap, w: _Writer) -> dict[str, Any]:
    return {
        "path": lm.path,
        "header": lm.header_line,
        "shape": list(lm.shape),
        "eol": lm.eol,
        "data": _encode_numbers(lm.data.reshape(-1), w),
    }


def _decode_link(d: dict[str, Any], blob: memoryview) -> LinkMap:
    shape = tuple(int(v) for v in d["shape"])
    data = _decode_numbers(d["data"], blob).reshape(shape)
    return LinkMap(d["path"], d["header"], shape, [], d["eol"], True, data)  # type: ignore[arg-type]


def encode_map(m: Map) -> bytes:
    """The compact form of ``m`` (reads every column and tracing once)."""
    w = _Writer()
    sessions = []
    for j in range(m.num_sessions):
        tr = m.tracing(j)
        u = m.user[j]
        sessions.append(
            {
                "db2": _encode_table(m.db2[j], w),
                "int": {str(ch): _encode_table(t, w) for ch, t in sorted(m.intensity[j].items())},
                "user": None if u is None else _encode_table(u, w),
                "tracing": None
                if tr is None
                else {
                    "path": tr.path,
                    "meta": tr.meta_line,
                    "eol": tr.eol,
                    "segments": _encode_table(tr.segments, w),
                    "points": _encode_table(tr.points, w),
                },
            }
        )
    manifest = {
        "name": m.name,
        "path": str(m.path),
        "header": m.header.to_text(),
        "header_path": m.header.path,
        "objmap": _encode_link(m.objmap, w),
        "segmap": None if m.segmap is None else _encode_link(m.segmap, w),
        "sessions": sessions,
    }
    head = json.dumps(manifest, separators=(",", ":")).encode("utf-8")
    payload = struct.pack("<I", len(head)) + head + b"".join(w.parts)
    return MAGIC + zlib.compress(payload, 6)


def decode_map(blob: bytes) -> Map:
    """Inverse of :func:`encode_map` (the map comes back read-only)."""
    from ..model import Map, _LazyTables

    if not blob.startswith(MAGIC):
        raise InvalidParameterError("not a serialised map")
    try:
        payload = zlib.decompress(blob[len(MAGIC) :])
    except zlib.error as e:
        raise InvalidParameterError(f"a damaged serialised map: {e}") from None
    (hlen,) = struct.unpack_from("<I", payload)
    manifest = json.loads(payload[4 : 4 + hlen].decode("utf-8"))
    data = memoryview(payload)[4 + hlen :]
    header = HeaderTable.parse(manifest["header"], manifest["header_path"])
    objmap = _decode_link(manifest["objmap"], data)
    segmap = None if manifest["segmap"] is None else _decode_link(manifest["segmap"], data)
    db2: list[CsvTable] = []
    intensity: list[Mapping[int, CsvTable]] = []
    user: list[CsvTable | None] = []
    tracings: list[Tracing | None] = []
    for s in manifest["sessions"]:
        db2.append(_decode_table(s["db2"], data))
        ints = _LazyTables()
        for ch, t in s["int"].items():
            ints.set(int(ch), _decode_table(t, data))
        intensity.append(ints)
        user.append(None if s["user"] is None else _decode_table(s["user"], data))
        tr = s["tracing"]
        tracings.append(
            None
            if tr is None
            else Tracing(
                tr["path"],
                tr["meta"],
                _decode_table(tr["segments"], data),
                _decode_table(tr["points"], data),
                tr["eol"],
                True,
            )
        )
    m = Map(Path(manifest["path"]), manifest["name"], header, objmap, segmap, db2, intensity, user)
    m._set_tracings(tracings)
    m.read_only = "it was restored from its serialised form (a cache); load its folder to save it"
    return m
