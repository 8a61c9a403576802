"""The dashboard's page addresses that more than one module spells: the map page's.

``pages`` registers the page at :data:`MAP_TEMPLATE`; the catalog and My maps link to
:func:`map_path`; the app factory preloads the map page's script chunks on addresses
under :data:`MAP_PREFIX`. (Without the app's URL prefix: Dash adds it.)
"""

from __future__ import annotations

#: every map page's address starts with this
MAP_PREFIX = "/map/"
#: the map page's route, as Dash pages takes it
MAP_TEMPLATE = MAP_PREFIX + "<owner>/<name>"


def map_path(owner: str, name: str) -> str:
    """The map page of ``owner``'s map ``name``."""
    return f"{MAP_PREFIX}{owner}/{name}"
