"""The dynamics colours: the one definition the plot, the viewer's markers and the
dynamics panel all use.

The browser gets them from the server too: each session viewer passes them to its
markers in the spine layer's ``hideout`` (:func:`app.components.viewer.session_viewer`,
read by ``app/assets/30-pmm-spines.js``), so no script or stylesheet spells them again.
The names of the dynamics codes are the library's (:data:`pymapmanager.analysis.DYNAMICS_NAMES`).
"""

from __future__ import annotations

from pymapmanager.analysis import ADDED, DYNAMICS_NAMES, PERSISTENT, SUBTRACTED, TRANSIENT

__all__ = ["DYNAMICS_COLORS", "DYNAMICS_LABELS", "NO_DYNAMICS_COLOR", "dynamics_colors_for_js"]

#: dynamics code -> colour
DYNAMICS_COLORS: dict[int, str] = {
    ADDED: "#22c55e",
    SUBTRACTED: "#ef4444",
    TRANSIENT: "#3b82f6",
    PERSISTENT: "#facc15",
}
#: dynamics code -> name (the library's names)
DYNAMICS_LABELS: dict[int, str] = dict(DYNAMICS_NAMES)
#: an object whose dynamics are unknown (or a code outside the four)
NO_DYNAMICS_COLOR = "#94a3b8"


def dynamics_colors_for_js() -> dict[str, str]:
    """The colours as the browser's scripts index them (JSON keys are strings)."""
    return {str(code): color for code, color in DYNAMICS_COLORS.items()}
