"""Sphinx configuration for the django-mysqlpool documentation.

Built with ``make docs`` (warnings are errors) and on Read the Docs. The package is not
imported: its internal modules are moving, and the public API is documented by hand in
``api.rst``. The release is read from ``django_mysqlpool/__init__.py`` as text.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_init = (ROOT / "django_mysqlpool" / "__init__.py").read_text(encoding="utf-8")
_found = re.search(r'^__version__ = "([^"]+)"', _init, re.MULTILINE)

project = "django-mysqlpool"
author = "SmartFile and the django-mysqlpool contributors"
copyright = "2015 SmartFile, and the django-mysqlpool contributors"
release = _found.group(1) if _found else "unknown"
version = ".".join(release.split(".")[:2])

extensions: list[str] = []
# _generated/ holds included text, not pages.
exclude_patterns = ["_build", "_generated"]
# The benchmark's figures (|pooled-us|, |bench-date|...) as substitutions on every page,
# written from benchmarks/results.json by benchmarks/docs_figures.py (make bench-chart).
rst_epilog = (ROOT / "docs" / "_generated" / "figures.rst").read_text(encoding="utf-8")
# Every cross-reference must resolve (no intersphinx: the build must work offline).
nitpicky = True
default_role = "literal"
highlight_language = "python"

html_theme = "furo"
html_title = f"django-mysqlpool {release}"
html_theme_options = {
    "source_repository": "https://github.com/smartfile/django-mysqlpool/",
    "source_branch": "main",
    "source_directory": "docs/",
}
