"""Catalog cards: one map with its thumbnail, sessions, dates, conditions and counts."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from app.routes import map_path

__all__ = ["conditions_of", "map_card", "matches", "session_conditions_of"]


def _date(d: str) -> str:
    d = (d or "").strip()
    return f"{d[:4]}-{d[4:6]}-{d[6:]}" if len(d) == 8 and d.isdigit() else d


def conditions_of(entry: dict[str, Any]) -> list[str]:
    """The map condition and the distinct session conditions of a catalog entry."""
    out: list[str] = []
    for c in [entry.get("map_condition") or "", *(entry.get("conditions") or [])]:
        if c and c not in out:
            out.append(c)
    return out


def session_conditions_of(entry: dict[str, Any]) -> list[str]:
    """The distinct session conditions of a catalog entry, in session order."""
    return list(dict.fromkeys(c for c in entry.get("conditions") or [] if c))


def matches(
    entry: dict[str, Any],
    text: str,
    conditions: Iterable[str],
    map_conditions: Iterable[str] = (),
) -> bool:
    """Whether an entry passes the filters: ``text`` in its name or owner (any case), every
    one of ``conditions`` among its session conditions, and its map condition one of
    ``map_conditions`` (when any is given)."""
    t = (text or "").strip().lower()
    if t and t not in entry.get("name", "").lower() and t not in entry.get("owner", "").lower():
        return False
    wanted_maps = list(map_conditions or [])
    if wanted_maps and (entry.get("map_condition") or "") not in wanted_maps:
        return False
    have = set(session_conditions_of(entry))
    return all(c in have for c in conditions or [])


def _stat(value: Any, label: str) -> html.Div:
    return html.Div(
        className="pmm-stat",
        children=[html.Span("–" if value is None else str(value), className="pmm-stat-value"), html.Span(label, className="pmm-stat-label")],
    )


def map_card(entry: dict[str, Any]) -> html.Div:
    """A clickable card for one catalog entry (the whole card opens the map)."""
    href = dash.get_relative_path(map_path(entry["owner"], entry["name"]))
    thumb: Any
    if entry.get("thumbnail_url"):
        thumb = html.Img(src=entry["thumbnail_url"], className="pmm-thumb", alt=f"max projection of {entry['name']} session 0")
    else:
        thumb = html.Div("no images", className="pmm-thumb pmm-thumb-empty")
    dates = [_date(d) for d in entry.get("dates") or [] if d]
    conds = entry.get("conditions") or []
    sessions = [
        html.Span(
            [html.B(str(i)), f" {dates[i] if i < len(dates) else ''}", html.Span(f" {c}", className="pmm-cond") if c else None],
            className="pmm-session-chip",
            title=f"session {i}" + (f", condition {c}" if c else ""),
        )
        for i, c in enumerate(conds if conds else [""] * (entry.get("num_sessions") or 0))
    ]
    body: list[Any] = [
        html.Div(
            [
                html.H5(entry["name"], className="pmm-card-title mb-0"),
                html.Span(entry["owner"], className="text-muted small ms-2"),
                dbc.Badge(entry["map_condition"], color="info", className="ms-auto") if entry.get("map_condition") else None,
            ],
            className="d-flex align-items-baseline",
        ),
    ]
    if entry.get("error"):
        body.append(html.Div(f"Cannot be read: {entry['error']}", className="text-danger small mt-2"))
    else:
        body += [
            html.Div(
                className="pmm-stats",
                children=[
                    _stat(entry.get("num_sessions"), "sessions"),
                    _stat(entry.get("num_channels"), "channels"),
                    _stat(entry.get("num_map_segments"), "segments"),
                    _stat(entry.get("num_spines"), "spines"),
                    _stat(entry.get("num_runs"), "runs"),
                ],
            ),
            html.Div(
                (f"{dates[0]} → {dates[-1]}" if len(dates) > 1 else (dates[0] if dates else "no dates")),
                className="text-muted small",
            ),
            html.Div(sessions, className="pmm-session-chips"),
        ]
    return html.Div(
        className="pmm-card-wrap",
        children=dcc.Link(
            href=href,
            className="pmm-card-link",
            children=dbc.Card(
                [html.Div(thumb, className="pmm-thumb-wrap"), dbc.CardBody(body)],
                className="pmm-card h-100",
            ),
        ),
        **{"data-map": entry["id"]},
    )
