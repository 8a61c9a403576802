"""Every component id of the dashboard, in one place.

Plain ids are strings; pattern ids (one component per session viewer) are functions that
return the dict id for one index, or for ``dash.ALL`` / ``dash.MATCH`` when given those.
The same names are used by the clientside JavaScript in ``app/assets/`` (``window.pmm.ids``,
kept in step by :func:`clientside_ids`).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "clientside_ids",
]

# --------------------------------------------------------------------------- the shell

#: dcc.Store: display preferences (mirrored in the ``pmm_prefs`` cookie)
PREFS = "pmm-prefs"
#: dcc.Location of the shell (used to refresh the catalog when the page is shown)
LOCATION = "pmm-location"
NAVBAR = "pmm-navbar"
PREFS_OPEN = "pmm-prefs-open"
PREFS_PANEL = "pmm-prefs-panel"
PREF_SPINE_SIZE = "pmm-pref-spine-size"
PREF_PLOT_SIZE = "pmm-pref-plot-size"
PREF_DEFAULT_CHANNEL = "pmm-pref-default-channel"
PREF_LABEL_MODE = "pmm-pref-label-mode"
PREF_RESET = "pmm-pref-reset"

# --------------------------------------------------------------------------- the catalog

CATALOG_TEXT = "pmm-catalog-text"
CATALOG_CONDITION = "pmm-catalog-condition"
CATALOG_LIST = "pmm-catalog-list"
CATALOG_COUNT = "pmm-catalog-count"
CATALOG_REFRESH = "pmm-catalog-refresh"

# --------------------------------------------------------------------------- the map viewer

#: dcc.Store: which map (``MapRef`` payload)
MAP_REF = "pmm-map-ref"
#: dcc.Store: the current slice of every session viewer (``SliceState``; hot path)
SLICE = "pmm-slice"
#: dcc.Store: the selected run (``Selection``)
SELECTION = "pmm-selection"
#: dcc.Store: the view the page was opened with (``ViewState`` from the URL)
INITIAL_VIEW = "pmm-initial-view"
MAP_TITLE = "pmm-map-title"
MAP_SUBTITLE = "pmm-map-subtitle"
MAP_ERROR = "pmm-map-error"

SESSIONS = "pmm-sessions"
SESSIONS_PREV = "pmm-sessions-prev"
SESSIONS_NEXT = "pmm-sessions-next"
SESSIONS_ALL = "pmm-sessions-all"
CHANNEL = "pmm-channel"
#: switch: both channels at once, green and magenta
OVERLAY = "pmm-overlay"
PROJECTION = "pmm-projection"
SLIDING_K = "pmm-sliding-k"
LINK = "pmm-link"
CONTRAST = "pmm-contrast"
CONTRAST_AUTO = "pmm-contrast-auto"
HISTOGRAM = "pmm-histogram"
#: dcc.Store: the stack statistics behind the contrast slider (per channel: range, auto lo/hi)
CONTRAST_INFO = "pmm-contrast-info"
VIEWER_GRID = "pmm-viewer-grid"
#: dcc.Store written by nothing: the output of clientside callbacks that feed the view state
VIEW_SINK = "pmm-view-sink"
KEY_HELP = "pmm-key-help"

PLOT = "pmm-plot"
#: app.components.deferred.Deferred containers: drawn once the first planes are painted
DEFER_PLOT = "pmm-defer-plot"
DEFER_HISTOGRAM = "pmm-defer-histogram"
DEFER_TABLES = "pmm-defer-tables"
PLOT_X = "pmm-plot-x"
PLOT_Y = "pmm-plot-y"
PLOT_COLOR = "pmm-plot-color"
PLOT_SEGMENT = "pmm-plot-segment"
PLOT_ROI = "pmm-plot-roi"
PLOT_BAD = "pmm-plot-bad"
PLOT_INFO = "pmm-plot-info"

RUN_STRIP = "pmm-run-strip"
RUN_INFO = "pmm-run-info"
CLEAR_SELECTION = "pmm-clear-selection"


# --------------------------------------------------------------------------- map page: tables, exports, dynamics

#: everything below the title (hidden when the map cannot be opened)
MAP_BODY = "pmm-map-body"
#: dismissible notes: URL values ignored, no tracing...
MAP_NOTICE = "pmm-map-notice"
#: the catalog's map-condition filter (CATALOG_CONDITION filters session conditions)
CATALOG_MAP_CONDITION = "pmm-catalog-map-condition"
MAP_TABS = "pmm-map-tabs"
#: dash-ag-grid: the objects of one session with their statistics
TABLE_GRID = "pmm-table-grid"
TABLE_SESSION = "pmm-table-session"
TABLE_STATS = "pmm-table-stats"
TABLE_INFO = "pmm-table-info"
#: dash-ag-grid: runs x sessions of the plotted statistic
RUNS_GRID = "pmm-runs-grid"
RUNS_INFO = "pmm-runs-info"
GOTO_RUN = "pmm-goto-run"
GOTO_RUN_GO = "pmm-goto-run-go"
GOTO_RUN_MSG = "pmm-goto-run-msg"
#: dcc.Store: a run picked in a table or the "go to run" box (``Selection``), for the
#: browser to select everywhere as a plot click does
TABLE_PICK = "pmm-table-pick"
DYN_FIGURE = "pmm-dyn-figure"
DYN_GRID = "pmm-dyn-grid"
EXPORT_VALUES_WIDE = "pmm-export-values-wide"
EXPORT_VALUES_TIDY = "pmm-export-values-tidy"
EXPORT_TABLE = "pmm-export-table"
EXPORT_DYNAMICS = "pmm-export-dynamics"
MAP_DOWNLOAD = "pmm-map-download"

# --------------------------------------------------------------------------- map page: editing (issue 9)

#: dcc.Store: ``{"api", "user", "can_edit"}`` for the browser's edit mode, None for readers
EDIT_CONFIG = "pmm-edit-config"
#: dcc.Store: ``{"version": working-copy version, "edits": bool}`` written by the browser after
#: every edit, save or restore; the plot and the run strip take it (answer from the working copy)
EDIT_VERSION = "pmm-edit-version"
#: the edit toolbar (shown only to users who may edit the map)
EDIT_BAR = "pmm-edit-bar"
EDIT_TOGGLE = "pmm-edit-toggle"
EDIT_SAVE = "pmm-edit-save"
EDIT_UNDO = "pmm-edit-undo"
EDIT_REDO = "pmm-edit-redo"
EDIT_DISCARD = "pmm-edit-discard"
#: the unsaved-changes indicator (count and age)
EDIT_STATUS = "pmm-edit-status"
#: who else has unsaved edits on the map
EDIT_OTHERS = "pmm-edit-others"
#: the edit mode's messages (refused edit, conflict on save, merged save)
EDIT_MESSAGE = "pmm-edit-message"
EDIT_HISTORY_OPEN = "pmm-edit-history-open"
#: the history panel: saved versions with their commands, Restore
EDIT_HISTORY = "pmm-edit-history"


# --------------------------------------------------------------------------- one per session viewer

VIEWER = "pmm-viewer"
VIEWER_MAP = "pmm-viewer-map"
VIEWER_IMAGE = "pmm-viewer-image"
VIEWER_SPINES = "pmm-viewer-spines"
VIEWER_TRACING = "pmm-viewer-tracing"
VIEWER_META = "pmm-viewer-meta"
VIEWER_LABEL = "pmm-viewer-label"
VIEWER_SLICE = "pmm-viewer-slice"


def _pattern(kind: str, index: Any) -> dict[str, Any]:
    return {"type": kind, "index": index}


def viewer(index: Any) -> dict[str, Any]:
    """The frame of one session viewer (``index`` = session, or ALL/MATCH)."""
    return _pattern(VIEWER, index)


def viewer_map(index: Any) -> dict[str, Any]:
    """The dash-leaflet Map of one session viewer."""
    return _pattern(VIEWER_MAP, index)


def viewer_image(index: Any) -> dict[str, Any]:
    """The ImageOverlay (or TileLayer) showing the current plane."""
    return _pattern(VIEWER_IMAGE, index)


def viewer_spines(index: Any) -> dict[str, Any]:
    """The GeoJSON layer of the session's annotations."""
    return _pattern(VIEWER_SPINES, index)


def viewer_tracing(index: Any) -> dict[str, Any]:
    """The GeoJSON layer of the session's dendrite tracing."""
    return _pattern(VIEWER_TRACING, index)


def viewer_meta(index: Any) -> dict[str, Any]:
    """dcc.Store: what the clientside code needs to draw a viewer (``ViewerMeta``)."""
    return _pattern(VIEWER_META, index)


def viewer_label(index: Any) -> dict[str, Any]:
    """The session label above a viewer."""
    return _pattern(VIEWER_LABEL, index)


def viewer_slice(index: Any) -> dict[str, Any]:
    """The slice read-out of a viewer."""
    return _pattern(VIEWER_SLICE, index)


def clientside_ids() -> dict[str, str]:
    """The plain ids and pattern types the clientside code uses, by name."""
    return {
        name: value
        for name, value in globals().items()
        if name.isupper() and isinstance(value, str)
    }


# --------------------------------------------------------------------------- pooling page

#: dcc.Store: every visible map the page can pool (id, owner, name, conditions; no tables)
POOL_CATALOG = "pmm-pool-catalog"
POOL_FILTER_TEXT = "pmm-pool-filter-text"
POOL_FILTER_OWNER = "pmm-pool-filter-owner"
POOL_FILTER_CONDITION = "pmm-pool-filter-condition"
POOL_MAPS = "pmm-pool-maps"
POOL_MAPS_COUNT = "pmm-pool-maps-count"
POOL_STAT = "pmm-pool-stat"
POOL_ROI = "pmm-pool-roi"
POOL_SEGMENT = "pmm-pool-segment"
POOL_BAD = "pmm-pool-bad"
#: dcc.Store: the session groups as edited (``[[name, pattern], ...]``)
POOL_GROUPS = "pmm-pool-groups"
#: the editable list of groups (one row per group: name, pattern, matches, delete)
POOL_GROUP_ROWS = "pmm-pool-group-rows"
POOL_GROUP_NAME = "pmm-pool-group-name"
POOL_GROUP_PATTERN = "pmm-pool-group-pattern"
POOL_GROUP_MATCH = "pmm-pool-group-match"
POOL_GROUP_DELETE = "pmm-pool-group-delete"
POOL_GROUPS_ADD = "pmm-pool-groups-add"
POOL_GROUPS_RESET = "pmm-pool-groups-reset"
POOL_MODE = "pmm-pool-mode"
POOL_REFERENCE = "pmm-pool-reference"
POOL_COHORTS = "pmm-pool-cohorts"
POOL_ERROR = "pmm-pool-error"
POOL_RUNS = "pmm-pool-runs"
#: dcc.Store: a pool to compute in the background (``PoolSpec`` payload)
POOL_JOB = "pmm-pool-job"
#: dcc.Store: a computed pool (bundle key and spec)
POOL_READY = "pmm-pool-ready"
POOL_PROGRESS = "pmm-pool-progress"
POOL_PROGRESS_BOX = "pmm-pool-progress-box"
POOL_CANCEL = "pmm-pool-cancel"
POOL_MESSAGES = "pmm-pool-messages"
POOL_FIGURE = "pmm-pool-figure"
POOL_DYNAMICS = "pmm-pool-dynamics"
POOL_SUMMARY = "pmm-pool-summary"
POOL_NOTES = "pmm-pool-notes"
POOL_EXPORT_PNG = "pmm-pool-export-png"
POOL_EXPORT_SVG = "pmm-pool-export-svg"
POOL_EXPORT_TIDY = "pmm-pool-export-tidy"
POOL_EXPORT_SUMMARY = "pmm-pool-export-summary"
POOL_DOWNLOAD = "pmm-pool-download"
#: the link to the map viewer of the run last clicked in the figure
POOL_RUN_LINK = "pmm-pool-run-link"
#: dcc.Store: that link's URL (a clientside callback opens it in a new tab)
POOL_RUN_URL = "pmm-pool-run-url"
#: dummy output of clientside callbacks
POOL_SINK = "pmm-pool-sink"


def pool_group_name(index: Any) -> dict[str, Any]:
    """The name input of one session group row (``index``, or ALL/MATCH)."""
    return _pattern(POOL_GROUP_NAME, index)


def pool_group_pattern(index: Any) -> dict[str, Any]:
    """The pattern input of one session group row."""
    return _pattern(POOL_GROUP_PATTERN, index)


def pool_group_match(index: Any) -> dict[str, Any]:
    """What one session group matches (or why its pattern is wrong)."""
    return _pattern(POOL_GROUP_MATCH, index)


def pool_group_delete(index: Any) -> dict[str, Any]:
    """The delete button of one session group row."""
    return _pattern(POOL_GROUP_DELETE, index)


# --------------------------------------------------------------------------- login and My maps

#: the navigation bar's user area (log in link, or the user's name, My maps, log out)
NAV_USER = "pmm-nav-user"
LOGIN_FORM = "pmm-login-form"
LOGIN_USERNAME = "pmm-login-username"
LOGIN_PASSWORD = "pmm-login-password"
LOGIN_MESSAGE = "pmm-login-message"
LOGIN_REDIRECT = "pmm-login-redirect"  # a page that needs a login first (ANONYMOUS_READ=0)

#: dcc.Store: bumped after every change, to list the maps again
MYMAPS_REFRESH = "pmm-mymaps-refresh"
#: dcc.Store: the id (``owner/name``) of the map whose panel is open
MYMAPS_SELECTED = "pmm-mymaps-selected"
MYMAPS_OWNER = "pmm-mymaps-owner"
MYMAPS_NOTICE = "pmm-mymaps-notice"
MYMAPS_LIST = "pmm-mymaps-list"
MYMAPS_PANEL = "pmm-mymaps-panel"
MYMAPS_STATUS = "pmm-mymaps-status"
#: where upload-api's upload widget goes (the page leaves this slot for it)
MYMAPS_UPLOAD_SLOT = "pmm-mymaps-upload-slot"

# --------------------------------------------------------------------------- the upload widget (app.components.upload)

#: the widget's frame; ``data-api`` is the API's base URL for the browser script
UPLOAD_WIDGET = "pmm-upload"
#: where the browser script mounts Uppy's dashboard
UPLOAD_DASHBOARD = "pmm-upload-dashboard"
#: the checkbox: replace a map of the same name (the old one is kept as a version)
UPLOAD_OVERWRITE = "pmm-upload-overwrite"
#: what the imports said (set by the browser script, and by the drop-folder button)
UPLOAD_RESULT = "pmm-upload-result"
#: the button importing the owner's drop folder
UPLOAD_INCOMING = "pmm-upload-incoming"
#: dcc.Store the owner choice is mirrored into for the browser script
UPLOAD_OWNER = "pmm-upload-owner"
MYMAPS_RENAME_TEXT = "pmm-mymaps-rename-text"
MYMAPS_RENAME = "pmm-mymaps-rename"
MYMAPS_PUBLIC = "pmm-mymaps-public"
MYMAPS_SHARE_GROUP = "pmm-mymaps-share-group"
MYMAPS_SHARE_LEVEL = "pmm-mymaps-share-level"
MYMAPS_SHARE_ADD = "pmm-mymaps-share-add"
MYMAPS_DELETE = "pmm-mymaps-delete"
MYMAPS_DELETE_CONFIRM = "pmm-mymaps-delete-confirm"
MYMAPS_TRASH = "pmm-mymaps-trash"
MYMAPS_TOKENS = "pmm-mymaps-tokens"
MYMAPS_TOKEN_LABEL = "pmm-mymaps-token-label"
MYMAPS_TOKEN_PASSWORD = "pmm-mymaps-token-password"
MYMAPS_TOKEN_CREATE = "pmm-mymaps-token-create"
MYMAPS_TOKEN_NEW = "pmm-mymaps-token-new"
#: pattern ids (``index`` = map id, group name, trash id or token id)
MYMAPS_OPEN = "pmm-mymaps-open"
MYMAPS_UNSHARE = "pmm-mymaps-unshare"
MYMAPS_RESTORE = "pmm-mymaps-restore"
MYMAPS_REVOKE = "pmm-mymaps-revoke"


def mymaps_open(index: Any) -> dict[str, Any]:
    """The button selecting one map of the My maps list (``index`` = map id)."""
    return _pattern(MYMAPS_OPEN, index)


def mymaps_unshare(index: Any) -> dict[str, Any]:
    """The button ending a group's share of the selected map (``index`` = group name)."""
    return _pattern(MYMAPS_UNSHARE, index)


def mymaps_restore(index: Any) -> dict[str, Any]:
    """The button restoring a map from the trash (``index`` = trash entry id)."""
    return _pattern(MYMAPS_RESTORE, index)


def mymaps_revoke(index: Any) -> dict[str, Any]:
    """The button revoking an API token (``index`` = token id)."""
    return _pattern(MYMAPS_REVOKE, index)


# --------------------------------------------------------------------------- groups (admins)

#: dcc.Store: bumped after every change, to list the groups again
GROUPS_REFRESH = "pmm-groups-refresh"
GROUPS_NOTICE = "pmm-groups-notice"
GROUPS_STATUS = "pmm-groups-status"
GROUPS_LIST = "pmm-groups-list"
GROUPS_NEW_NAME = "pmm-groups-new-name"
GROUPS_CREATE = "pmm-groups-create"
GROUPS_MEMBER_GROUP = "pmm-groups-member-group"
GROUPS_MEMBER_USER = "pmm-groups-member-user"
GROUPS_MEMBER_ADD = "pmm-groups-member-add"
#: pattern ids (``index`` = ``group/user``, or a group name)
GROUPS_REMOVE_MEMBER = "pmm-groups-remove-member"
GROUPS_DELETE = "pmm-groups-delete"


def groups_remove_member(index: Any) -> dict[str, Any]:
    """The button taking a user out of a group (``index`` = ``group/user``)."""
    return _pattern(GROUPS_REMOVE_MEMBER, index)


def groups_delete(index: Any) -> dict[str, Any]:
    """The button removing a group (``index`` = group name)."""
    return _pattern(GROUPS_DELETE, index)
GROUPS_FORMS = "pmm-groups-forms"
