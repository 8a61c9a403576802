"""JSON Schemas of the API's answers (used by :func:`app.api.spec.doc` on each view)."""

from __future__ import annotations

from typing import Any

__all__ = [
    "ANNOTATIONS",
    "CONTRAST",
    "IMPORT_RESULT",
    "INCOMING_RESULTS",
    "INDEX",
    "MAP_INFO",
    "MAP_LIST",
    "STATISTICS",
    "STATUS",
    "TRACING",
    "UPLOAD",
    "UPLOAD_LIST",
    "VALUES",
]


def obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    """An object schema; every property required unless ``required`` says otherwise."""
    return {
        "type": "object",
        "properties": props,
        "required": list(props) if required is None else required,
    }


STR: dict[str, Any] = {"type": "string"}
INT: dict[str, Any] = {"type": "integer"}
BOOL: dict[str, Any] = {"type": "boolean"}
NUM_N: dict[str, Any] = {"type": "number", "nullable": True}
INT_N: dict[str, Any] = {"type": "integer", "nullable": True}
STR_N: dict[str, Any] = {"type": "string", "nullable": True}


def arr(items: dict[str, Any]) -> dict[str, Any]:
    """An array schema."""
    return {"type": "array", "items": items}


INDEX = obj({"api": STR, "version": STR, "routes": arr(STR)})
STATUS = obj(
    {
        "status": STR,
        "version": STR,
        "cache": STR,
        "cache_reachable": BOOL,
        "pid": INT,
        "counters": {"type": "object", "additionalProperties": INT},
    },
    required=["status", "version"],
)

MAP_SUMMARY = obj(
    {
        "id": STR,
        "owner": STR,
        "name": STR,
        "version": STR,
        "num_sessions": INT_N,
        "dates": arr(STR),
        "conditions": arr(STR),
        "map_condition": STR,
        "num_objects": INT_N,
        "num_spines": INT_N,
        "num_runs": INT_N,
        "num_map_segments": INT_N,
        "num_channels": INT_N,
        "has_images": BOOL,
        "thumbnail_url": STR_N,
        "error": STR_N,
    },
    required=["id", "owner", "name", "version"],
)
MAP_LIST = obj({"maps": arr(MAP_SUMMARY)})

SESSION_INFO = obj(
    {
        "index": INT,
        "stack": STR,
        "date": STR,
        "days": NUM_N,
        "condition": STR,
        "shape": arr(INT_N),
        "voxel": arr(NUM_N),
        "has_images": BOOL,
        "channels_with_images": arr(INT),
        "image": {"type": "object", "nullable": True},
    },
    required=["index", "stack", "has_images"],
)
MAP_INFO = obj(
    {
        "id": STR,
        "owner": STR,
        "name": STR,
        "path": STR,
        "version": STR,
        "num_sessions": INT,
        "num_channels": INT,
        "num_map_segments": INT,
        "num_objects": INT,
        "num_runs": INT,
        "default_roi": STR,
        "default_channel": INT,
        "map_condition": STR,
        "roi_types": arr(STR),
        "has_images": BOOL,
        "tile_size": INT,
        "sessions": arr(SESSION_INFO),
    },
    required=["id", "owner", "name", "version", "num_sessions", "sessions"],
)
STATISTICS = obj({"map": STR, "statistics": arr(STR)})
VALUES = obj(
    {
        "map": STR,
        "stat": STR,
        "roi": STR,
        "segment": INT_N,
        "include_bad": BOOL,
        "sessions": arr(INT),
        "runs": arr(INT),
        "values": arr(arr(NUM_N)),
        "rows": arr(arr(INT_N)),
    }
)
ANNOTATIONS = obj(
    {
        "map": STR,
        "session": INT,
        "roi": STR,
        "voxel": arr(NUM_N),
        "objects": arr(
            obj(
                {"row": INT, "roiType": STR, "x_um": NUM_N, "y_um": NUM_N, "z": NUM_N},
                required=["row"],
            )
        ),
    },
    required=["map", "session", "objects"],
)
TRACING = obj(
    {
        "map": STR,
        "session": INT,
        "has_tracing": BOOL,
        "voxel": arr(NUM_N),
        "segments": arr({"type": "object"}),
    }
)
CONTRAST = obj(
    {
        "lo": NUM_N,
        "hi": NUM_N,
        "min": NUM_N,
        "max": NUM_N,
        "dtype": STR,
        "histogram": obj({"counts": arr(NUM_N), "edges": arr(NUM_N)}),
    },
    required=["lo", "hi"],
)

PROBLEM = obj({"file": STR_N, "line": INT_N, "problem": STR})
IMPORT_RESULT = obj(
    {
        "id": STR,
        "owner": STR,
        "name": STR,
        "files": INT,
        "bytes": INT,
        "replaced_version": STR_N,
    }
)
INCOMING_RESULTS = obj(
    {
        "owner": STR,
        "results": arr(
            obj(
                {
                    "entry": STR,
                    "status": {"type": "string", "enum": ["imported", "invalid", "exists", "busy"]},
                    "map": STR_N,
                    "message": STR,
                    "problems": arr(PROBLEM),
                }
            )
        ),
    }
)
UPLOAD = obj(
    {
        "id": STR,
        "owner": STR,
        "length": INT,
        "offset": INT,
        "metadata": {"type": "object", "additionalProperties": STR},
        "imported": STR_N,
    }
)
UPLOAD_LIST = obj({"uploads": arr(UPLOAD)})
