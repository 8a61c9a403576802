"""First-run data: demo maps under ``DATA_DIR/public`` (``python -m app.setup_data``)."""

from __future__ import annotations

import fcntl
import logging
import sys
from pathlib import Path

from flask import Flask

from .config import Settings
from .extensions import settings_of

__all__ = ["DEMO_MAPS", "DEMO_POOL", "ensure_demo_data"]

log = logging.getLogger(__name__)

#: name -> generate_map keyword arguments (~330 MB of images in all, made in a few seconds)
DEMO_MAPS: dict[str, dict[str, object]] = {
    # the everyday map: 6 sessions, 2 channels, 30 planes of 512 x 512
    "demo": {"sessions": 6, "channels": 2, "shape": (30, 512, 512), "seed": 1, "map_condition": "mc1"},
    # large planes (2048 x 2048, served as tiles)
    "demo_large": {"sessions": 2, "channels": 1, "shape": (8, 2048, 2048), "seed": 2, "segments": 3,
                   "spines_per_segment": 40, "map_condition": "mc1"},
    # annotations and tracings only, as maps often arrive (an empty, labelled canvas)
    "demo_noimages": {"sessions": 4, "channels": 1, "shape": (20, 512, 512), "seed": 3, "images": False,
                      "map_condition": "mc2"},
}


#: make_pool keyword arguments of the demo pool (the pooling page's first data)
DEMO_POOL: dict[str, object] = {"maps_per_cohort": 4, "sessions": 6, "stat": "ubssSum_int2", "factor": 1.5, "seed": 7}


def _create(settings: Settings) -> list[Path]:
    from pymapmanager.synthetic.maps import generate_map

    public = settings.data_dir / "public"
    public.mkdir(parents=True, exist_ok=True)
    made = []
    for name, kw in DEMO_MAPS.items():
        if (public / name / f"{name}.txt").is_file():
            continue
        log.warning("creating demo map %s in %s (first run)", name, public)
        made.append(generate_map(public, name=name, **kw))  # type: ignore[arg-type]
    made.extend(_create_pool(public))
    return made


def _create_pool(public: Path) -> list[Path]:
    """A small pool for the pooling page: control and treatment cohorts (annotations only).

    The treatment cohort's ``ubssSum_int2`` rises 1.5x after the three baseline sessions.
    """
    from pymapmanager.synthetic.pools import make_pool

    if any(public.glob("pool_*/pool_*.txt")):
        return []
    log.warning("creating the demo pool in %s (first run)", public)
    pool = make_pool(public, **DEMO_POOL)  # type: ignore[arg-type]
    return [p for paths in pool.maps.values() for p in paths]


def ensure_demo_data(server: Flask | None = None, settings: Settings | None = None) -> list[Path]:
    """Create the demo maps once (safe when several workers start together)."""
    s = settings or (settings_of(server) if server is not None else Settings.from_env())
    if not s.create_demo:
        return []
    s.data_dir.mkdir(parents=True, exist_ok=True)
    marker = s.data_dir / ".demo-created"
    if marker.exists():
        return []
    with open(s.data_dir / ".setup.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return []
        made = _create(s)
        marker.write_text("demo maps created; delete this file to create them again\n")
        return made


def main() -> int:
    """Create the demo data for the environment's settings."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    s = Settings.from_env()
    made = ensure_demo_data(settings=s)
    log.info("data directory: %s (%d demo maps created)", s.data_dir, len(made))
    return 0


if __name__ == "__main__":
    sys.exit(main())
