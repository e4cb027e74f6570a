"""Sphinx configuration: MyST pages, notebooks with their stored outputs, autodoc of gvl_zarr.

Build (warnings are errors)::

    .venv/bin/sphinx-build -W -b html docs docs/_build/html
"""

from __future__ import annotations

import gvl_zarr

project = "gvl_zarr"
author = "gvl_zarr developers"
copyright = "gvl_zarr developers"
release = version = gvl_zarr.__version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinxarg.ext",
]

# Notebooks are rendered from the outputs committed with them; the test suite runs them.
nb_execution_mode = "off"
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

autosummary_generate = True
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_google_docstring = True
napoleon_numpy_docstring = True

exclude_patterns = ["_build", "**.ipynb_checkpoints", "**/*.gvl", "notebooks/*.gvl"]
html_theme = "furo"
html_title = f"gvl_zarr {release}"
html_static_path = ["_static"]
