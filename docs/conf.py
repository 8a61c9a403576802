"""Sphinx configuration of the PyMapManager documentation site (built by ``./dev docs``).

Sphinx rather than MkDocs: the library's docstrings are numpydoc, which Sphinx renders
natively (numpydoc is the numpy/scikit-image/tifffile convention the project follows);
the command-line reference comes straight from the argparse parser (sphinx-argparse);
myst-nb executes the example notebooks during the build and renders them; and
``sphinx-build -W`` turns every warning (a broken cross-reference, a malformed
docstring, a missing screenshot, a failing notebook cell) into an error.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(ROOT))

import pymapmanager  # noqa: E402

project = "PyMapManager"
author = "PyMapManager contributors"
copyright = "PyMapManager contributors"
version = release = pymapmanager.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_nb",
    "sphinxarg.ext",
    "sphinx_design",
    "pmm_docs",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}  # .rst first: autosummary writes .rst
exclude_patterns = ["_build", "**.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]
templates_path = ["_templates"]
root_doc = "index"
nitpicky = False
suppress_warnings: list[str] = []

# ----------------------------------------------------------------- MyST and notebooks
myst_enable_extensions = ["colon_fence", "deflist", "attrs_inline"]
myst_heading_anchors = 3
# every notebook runs in every build; a failing cell fails the build
nb_execution_mode = "force"
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_timeout = 600
nb_merge_streams = True

# ----------------------------------------------------------------- API reference
autosummary_generate = True
autosummary_imported_members = False
autosummary_ignore_module_all = True  # with imported_members False: what a module defines
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"  # numpydoc sections carry the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
add_module_names = False


# ----------------------------------------------------------------- HTML
html_theme = "pydata_sphinx_theme"
html_title = f"PyMapManager {release}"
html_static_path = ["_static"]
html_css_files = ["pmm-docs.css"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
    "secondary_sidebar_items": ["page-toc"],
    "use_edit_page_button": False,
}
html_sidebars = {"index": [], "changelog": []}
html_last_updated_fmt = None
html_show_sourcelink = False
