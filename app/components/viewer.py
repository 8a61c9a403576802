"""One session's image viewer: a dash-leaflet Map (``crs="Simple"``) with the dendrite
tracing and the annotations, plus its label and slice read-out.

The viewer owns its components and a small :class:`~app.state.ViewerMeta` store. The image
layers are not Dash components: the browser's view state makes them with Leaflet's own API
(``app/assets/20-pmm-layers.js``: an ImageOverlay, or a TileLayer for planes larger than
1024 pixels, two of them for the channel overlay) and points them at each plane, so a slice
change never goes through Dash. The clientside code also filters the spines to the planes
near the current one, moves the view and adds a plane slider at the right edge. One map
unit is one full-resolution pixel: pixel ``(row, col)`` is at ``lat = -row, lng = col``
(see :mod:`app.services.images`).
"""

from __future__ import annotations

from typing import Any

import dash_leaflet as dl
from dash import dcc, html

from .. import ids
from ..figures.colors import dynamics_colors_for_js
from ..state import ViewerMeta

__all__ = ["session_viewer"]


def _empty_canvas(meta: ViewerMeta, bounds: list[list[float]]) -> Any:
    """The canvas of a session without images (its annotations are drawn on it)."""
    return dl.Rectangle(
        bounds=bounds,
        pathOptions={"color": "#475569", "weight": 1, "fillColor": "#1e293b", "fillOpacity": 1, "dashArray": "4 4"},
        interactive=False,
        id=ids.viewer_image(meta.session),
    )


def session_viewer(
    meta: ViewerMeta,
    spines: dict[str, Any],
    tracing: dict[str, Any],
    *,
    spine_size: int = 6,
    label: str = "",
    height: int = 340,
    roi: str | None = None,
) -> html.Div:
    """The layout of one session viewer.

    Parameters
    ----------
    meta : ViewerMeta
    spines, tracing : dict
        GeoJSON FeatureCollections (:func:`app.services.viewer.spine_layer`,
        :func:`~app.services.viewer.tracing_layer`).
    spine_size : int
        Spine marker radius in screen pixels.
    label : str
        Initial label (the clientside code keeps it in step with the label mode).
    height : int
        Height of the map in pixels.
    roi : str, optional
        The ROI type of ``spines`` (kept in the layer's hideout: the page tells from it
        whether the viewers shown are the ones asked for).
    """
    s = meta.session
    rows, cols = meta.rows, meta.columns
    bounds = [[-float(rows), 0.0], [0.0, float(cols)]]
    pad = max(rows, cols) * 0.5
    min_zoom = -meta.max_level - 3 if meta.tiled else -4
    layers: list[Any] = [] if meta.has_images else [_empty_canvas(meta, bounds)]
    layers += [
        dl.GeoJSON(
            id=ids.viewer_tracing(s),
            data=tracing,
            style={"color": "#22d3ee", "weight": 2, "opacity": 0.55},
            interactive=False,
        ),
        dl.GeoJSON(
            id=ids.viewer_spines(s),
            data=spines,
            pointToLayer={"variable": "pmm.spineToLayer"},
            # the markers' colours come from the one definition (app.figures.colors)
            hideout={"session": s, "size": spine_size, "colors": dynamics_colors_for_js(), "roi": roi},
            bubblingMouseEvents=False,
        ),
    ]
    badge = []
    if not meta.has_images:
        badge.append(html.Div("No images for this session — annotations only", className="pmm-noimage"))
    frame: dict[str, Any] = {"data-session": str(s)}
    return html.Div(
        id=ids.viewer(s),
        className="pmm-viewer" + ("" if meta.has_images else " pmm-viewer-empty"),
        **frame,
        children=[
            dcc.Store(id=ids.viewer_meta(s), data=meta.to_store()),
            html.Div(
                className="pmm-viewer-head",
                children=[
                    html.Span(label or f"Session {s}", id=ids.viewer_label(s), className="pmm-viewer-label"),
                    html.Span("", id=ids.viewer_slice(s), className="pmm-viewer-slice"),
                ],
            ),
            html.Div(
                className="pmm-viewer-body",
                children=[
                    dl.Map(
                        id=ids.viewer_map(s),
                        className="pmm-leaflet",
                        crs="Simple",
                        bounds=bounds,
                        maxBounds=[[bounds[0][0] - pad, -pad], [pad, bounds[1][1] + pad]],
                        zoomSnap=0.25,
                        zoomDelta=0.5,
                        minZoom=min_zoom,
                        maxZoom=5,
                        scrollWheelZoom=False,
                        keyboard=False,
                        attributionControl=False,
                        trackViewport=False,
                        # tiles change plane in place (app/assets/20-pmm-layers.js): no fading
                        fadeAnimation=not meta.tiled,
                        style={"height": f"{height}px", "width": "100%"},
                        children=layers,
                    ),
                    *badge,
                ],
            ),
        ],
    )
