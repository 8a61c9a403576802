"""Pooling many maps for the pooling page: cached per map, combined per request.

A pool is computed in two stages (see :mod:`pymapmanager.pooling`):

1. per map, the runs' values averaged per session group, and the map's dynamics per
   group. This reads the map's files (only what the statistic needs) and is cached under
   ``(map id, data version, statistic, groups, ROI, segment, bad)``; a *bundle* of every
   chosen map's entries is cached under a digest of their keys. This stage may take a
   while (it runs in a background callback, with a progress bar).
2. normalisation, cohorts and the summary: computed from the bundle on every request (a
   few milliseconds), so changing only these never reads a map again.

Cached values are compact bytes (a JSON description and raw little-endian arrays, see
:meth:`~pymapmanager.pooling.MapGroupValues.to_bytes`), never pickled objects.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from flask import current_app
from redis.exceptions import RedisError

from pymapmanager import MapNotFoundError
from pymapmanager.analysis import measures
from pymapmanager.errors import InvalidParameterError, MapManagerError
from pymapmanager.pooling import (
    NORMALIZE_MODES,
    DynamicsResult,
    GroupCheck,
    MapDynamics,
    MapGroupValues,
    Mode,
    PoolResult,
    PoolTask,
    SessionGroup,
    check_groups,
    combine,
    combine_dynamics,
    default_groups_for,
    header_info,
    is_default_group,
    run_pool_tasks,
)

from ..extensions import cache, settings_of
from .catalog import map_refs
from .maps import MapRef, cached_json, data_version, get_map, map_folder, map_ref
from .store import get_bytes, get_many_bytes, set_bytes

__all__ = [
    "GroupCheck",
    "PoolPlan",
    "PoolSpec",
    "StatChoice",
    "check_rows",
    "compute_bundle",
    "default_stat",
    "groups_for",
    "is_default_group",
    "is_ready",
    "load_bundle",
    "mode_of",
    "plan",
    "pool_entries",
    "pooled",
    "stat_choices",
    "viewer_url",
]

log = logging.getLogger(__name__)

#: bump when the cached per-map format changes
_FORMAT = "pool2"
#: statistics offered first when a map has them
PREFERRED_STATS = ("ubssSum_int2", "ubssSum_int1", "sLen3d_int1", "pDist")


# --------------------------------------------------------------------------- the maps to choose


def pool_entries() -> list[dict[str, Any]]:
    """Every visible map, as the pooling page lists it (header only; cached by version).

    Returns
    -------
    list of dict
        ``{"id", "owner", "name", "version", "map_condition", "conditions", "days",
        "num_sessions", "error"}`` sorted by owner and name.
    """
    out = []
    for ref in map_refs():
        try:
            version = data_version(ref)
        except MapNotFoundError:
            continue

        def build(ref: MapRef = ref, version: str = version) -> dict[str, Any]:
            base: dict[str, Any] = {"id": ref.id, "owner": ref.owner, "name": ref.name,
                                    "version": version}  # fmt: skip
            try:
                h = header_info(map_folder(ref))
            except (MapManagerError, OSError) as e:
                return base | {"map_condition": "", "conditions": [], "days": [],
                               "num_sessions": 0, "error": str(e)}  # fmt: skip
            return base | {
                "map_condition": h.map_condition,
                "conditions": list(h.conditions),
                "days": list(h.days),
                "num_sessions": len(h.conditions),
                "error": None,
            }

        out.append(cached_json(f"poolentry:{ref.id}:{version}", build))
    return out


def groups_for(entries: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Default session groups for these maps (one per condition; else one per session)."""
    gs = default_groups_for([list(e.get("conditions") or []) for e in entries])
    return [g.to_dict() for g in gs]


def check_rows(
    rows: Sequence[tuple[str, str]], entries: Sequence[Mapping[str, Any]]
) -> tuple[GroupCheck, ...]:
    """What each group as typed matches in these maps (entries of :func:`pool_entries`)."""
    maps = [(list(e.get("conditions") or []), list(e.get("days") or [])) for e in entries]
    return check_groups(rows, maps)


def _measures(map_id: str) -> list[str]:
    """The statistics worth pooling of one map (cached by data version)."""
    ref = MapRef.parse(map_id)
    ref = map_ref(ref.owner, ref.name)
    version = data_version(ref)
    got: list[str] = cached_json(
        f"measures:{ref.id}:{version}", lambda: measures(get_map(ref, version))
    )
    return got


@dataclass(frozen=True)
class StatChoice:
    """A statistic offered for pooling and how many of the chosen maps have it."""

    stat: str
    maps: int
    total: int

    @property
    def label(self) -> str:
        """``ubssSum_int2 · all 8 maps`` or ``sLen3d_int1 · 4 of 8 maps``."""
        if self.maps == self.total:
            return f"{self.stat} · all {self.total} maps" if self.total > 1 else self.stat
        return f"{self.stat} · {self.maps} of {self.total} maps"


def mode_of(value: Any) -> Mode:
    """A normalisation mode from the page (``"none"`` for anything else)."""
    return value if value in NORMALIZE_MODES else "none"  # type: ignore[no-any-return]


def stat_choices(map_ids: Sequence[str]) -> list[StatChoice]:
    """The statistics worth pooling of the chosen maps, each with how many maps have it.

    Only measurements (:func:`pymapmanager.analysis.measures`: numbers that measure objects,
    not bookkeeping, with at least one value). Those every map has come first, then by how
    many maps have them; in each part in the order the maps list them.
    """
    counts: dict[str, int] = {}
    readable = 0
    for mid in map_ids:
        try:
            got = _measures(mid)
        except MapManagerError as e:
            log.info("no statistics for %s: %s", mid, e)
            continue
        readable += 1
        for st in got:
            counts[st] = counts.get(st, 0) + 1
    order = {st: k for k, st in enumerate(counts)}
    ranked = sorted(counts, key=lambda st: (-counts[st], order[st]))
    return [StatChoice(st, counts[st], readable) for st in ranked]


def default_stat(choices: Sequence[StatChoice]) -> str | None:
    """The statistic to show first: a preferred one every map has, else the most common."""
    shared = [c.stat for c in choices if c.maps == c.total]
    for s in PREFERRED_STATS:
        if s in shared:
            return s
    if shared:
        return shared[0]
    return choices[0].stat if choices else None


# --------------------------------------------------------------------------- what to pool


@dataclass(frozen=True)
class PoolSpec:
    """What stage 1 depends on: the maps, the statistic, the groups and the filters."""

    maps: tuple[str, ...]
    stat: str
    groups: tuple[tuple[str, str], ...]
    roi: str | None = None
    segment: int | None = None
    include_bad: bool = False

    def session_groups(self) -> tuple[SessionGroup, ...]:
        """The groups (:class:`InvalidParameterError` on bad syntax)."""
        return tuple(SessionGroup(n, p) for n, p in self.groups)

    def group_names(self) -> list[str]:
        """The groups' names, in order."""
        return [n.strip() for n, _ in self.groups]

    def params_key(self) -> str:
        """A digest of everything but the maps."""
        text = json.dumps([self.stat, list(self.groups), self.roi, self.segment, self.include_bad])
        return hashlib.blake2b(text.encode(), digest_size=10).hexdigest()

    def to_store(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "maps": list(self.maps),
            "stat": self.stat,
            "groups": [list(g) for g in self.groups],
            "roi": self.roi,
            "segment": self.segment,
            "include_bad": self.include_bad,
        }

    @classmethod
    def from_store(cls, data: Any) -> PoolSpec:
        """From a store's data (:class:`InvalidParameterError` when malformed)."""
        if not isinstance(data, Mapping):
            raise InvalidParameterError("no pool specification")
        try:
            seg = data.get("segment")
            return cls(
                maps=tuple(str(m) for m in data.get("maps") or []),
                stat=str(data["stat"]),
                groups=tuple((str(g[0]), str(g[1])) for g in data.get("groups") or []),
                roi=str(data["roi"]) if data.get("roi") else None,
                segment=int(seg) if seg is not None and seg != "" and int(seg) >= 0 else None,
                include_bad=bool(data.get("include_bad")),
            )
        except (KeyError, TypeError, ValueError, IndexError) as e:
            raise InvalidParameterError(f"malformed pool specification: {e}") from None


@dataclass(frozen=True)
class PoolPlan:
    """The cache keys of a pool: one per map, and the bundle's."""

    spec: PoolSpec
    refs: tuple[MapRef, ...]
    keys: tuple[str, ...]
    bundle: str
    problems: tuple[str, ...] = field(default=())


def plan(spec: PoolSpec) -> PoolPlan:
    """Resolve the maps (visible ones only) and their current data versions into keys."""
    refs: list[MapRef] = []
    keys: list[str] = []
    problems: list[str] = []
    pk = spec.params_key()
    for mid in spec.maps:
        try:
            parsed = MapRef.parse(mid)
            ref = map_ref(parsed.owner, parsed.name)
            version = data_version(ref)
        except MapManagerError:
            problems.append(f"map {mid} is not available and is left out")
            continue
        refs.append(ref)
        keys.append(f"{_FORMAT}:{ref.id}:{version}:{pk}")
    digest = hashlib.blake2b("\n".join(keys).encode(), digest_size=12).hexdigest()
    return PoolPlan(spec, tuple(refs), tuple(keys), f"{_FORMAT}bundle:{digest}", tuple(problems))


def is_ready(p: PoolPlan) -> bool:
    """Whether the pool's bundle is in the cache (then no map is read again)."""
    try:
        return bool(cache.has(p.bundle))
    except RedisError as e:
        log.warning("cache has(%s) failed: %s", p.bundle, e)
        return False


def _pack_entry(gv: MapGroupValues, dyn: MapDynamics) -> bytes:
    a = gv.to_bytes()
    b = json.dumps(dyn.to_dict()).encode()
    return struct.pack("<I", len(a)) + a + b


def _unpack_entry(blob: bytes) -> tuple[MapGroupValues, MapDynamics]:
    (n,) = struct.unpack("<I", blob[:4])
    return MapGroupValues.from_bytes(blob[4 : 4 + n]), MapDynamics.from_dict(
        json.loads(blob[4 + n :])
    )


def _pack_bundle(entries: Sequence[bytes], problems: Sequence[str]) -> bytes:
    head = json.dumps({"lengths": [len(e) for e in entries], "problems": list(problems)}).encode()
    return struct.pack("<I", len(head)) + head + b"".join(entries)


def compute_bundle(
    p: PoolPlan,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> str:
    """Compute the missing per-map entries, then the bundle; returns the bundle's key.

    Parameters
    ----------
    p : PoolPlan
    progress : callable, optional
        ``progress(done, total)`` as maps are read.
    workers : int, optional
        Processes reading maps; default: one per CPU (at most 4) when there are 8 or more
        maps to read, else 1.
    """
    spec = p.spec
    groups = spec.session_groups()
    blobs = get_many_bytes(list(p.keys))
    missing = [k for k, b in enumerate(blobs) if b is None]
    total = len(p.keys)
    done0 = total - len(missing)
    if progress is not None:
        progress(done0, total)
    if missing:
        base = settings_of(current_app).data_dir
        tasks = [
            PoolTask(
                p.refs[k].id,
                map_folder(p.refs[k], base),
                spec.stat,
                groups,
                spec.roi,
                spec.segment,
                spec.include_bad,
                dynamics=True,
            )  # fmt: skip
            for k in missing
        ]
        if workers is None:
            workers = min(4, os.cpu_count() or 1) if len(tasks) >= 8 else 1

        def step(done: int, _total: int) -> None:
            if progress is not None:
                progress(done0 + done, total)

        results = run_pool_tasks(tasks, workers=workers, progress=step)
        for k, (gv, dyn) in zip(missing, results, strict=True):
            assert gv is not None and dyn is not None
            blob = _pack_entry(gv, dyn)
            set_bytes(p.keys[k], blob)
            blobs[k] = blob
    set_bytes(p.bundle, _pack_bundle([b for b in blobs if b is not None], p.problems))
    log.info("pooled %d maps (%d read) into %s", total, len(missing), p.bundle)
    return p.bundle


def load_bundle(key: str) -> tuple[list[MapGroupValues], list[MapDynamics], list[str]] | None:
    """The per-map entries of a bundle (None when it is not in the cache)."""
    blob = get_bytes(key)
    if blob is None:
        return None
    (n,) = struct.unpack("<I", blob[:4])
    head = json.loads(blob[4 : 4 + n])
    pos = 4 + n
    gvs: list[MapGroupValues] = []
    dyns: list[MapDynamics] = []
    for ln in head["lengths"]:
        gv, dyn = _unpack_entry(blob[pos : pos + ln])
        gvs.append(gv)
        dyns.append(dyn)
        pos += ln
    return gvs, dyns, list(head.get("problems") or [])


def pooled(
    key: str,
    groups: Sequence[SessionGroup],
    *,
    stat: str,
    mode: Mode = "none",
    reference: str | None = None,
    cohorts: bool = True,
) -> tuple[PoolResult, DynamicsResult] | None:
    """Stage 2: the pool and the pooled dynamics from a cached bundle (None if evicted)."""
    got = load_bundle(key)
    if got is None:
        return None
    gvs, dyns, problems = got
    res = combine(gvs, groups, stat=stat, reference=reference, mode=mode, cohorts=cohorts)
    if problems:
        res = replace(res, warnings=(*problems, *res.warnings))
    pooled_maps = set(res.maps)
    dres = combine_dynamics([d for d in dyns if d.label in pooled_maps], groups, cohorts=cohorts)
    return res, dres


def viewer_url(map_id: str, run: int, sessions: Sequence[int], roi: str | None) -> str:
    """The map viewer's URL showing ``sessions`` with ``run`` selected."""
    from urllib.parse import quote, urlencode

    owner, _, name = map_id.partition("/")
    q: dict[str, str] = {"run": str(int(run))}
    if sessions:
        q = {"s": ",".join(str(int(s)) for s in sessions), **q}
    if roi:
        q["roi"] = roi
    prefix = settings_of(current_app).url_prefix
    return f"{prefix}map/{quote(owner)}/{quote(name)}?{urlencode(q, safe=',')}"
