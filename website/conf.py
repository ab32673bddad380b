"""Sphinx settings for the course website (`python -m website.build` passes `-c website`).

Everything a page needs is served from the site itself, so it reads offline: plotly.js
from plotly's own package, circuitsvis's browser bundle from circuitsvis's package, and
MathJax 2 from jupyter-server-mathjax (the copy Jupyter serves), each added only to the
pages that use it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import circuitsvis
import jupyter_server_mathjax
import plotly

project = "Toy models, reverse-engineered"
author = "the course authors"
copyright = "the course authors"  # noqa: A001 (Sphinx's name)

extensions = ["myst_nb"]
exclude_patterns = ["**.ipynb_checkpoints"]

# The notebooks arrive executed (make test's nbval run); Sphinx only renders them.
nb_execution_mode = "off"
nb_code_prompt_show = "Show the solution"
nb_code_prompt_hide = "Hide the solution"
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3

html_theme = "sphinx_book_theme"
html_title = project
html_static_path = ["_static"]
html_favicon = "_static/favicon.svg"
html_css_files = ["course.css"]
html_theme_options = {
    "repository_url": "https://github.com/toy-models-course/toy-models",
    "use_repository_button": True,
    "show_toc_level": 2,
}
# Without a default the theme logs a console error on a reader's first visit.
html_context = {"default_mode": "light"}
html_last_updated_fmt = None

# The vendored scripts: (package file, text that marks a page that needs it), copied
# to _static/course-vendor/ under the dict's names.
_PLOTLY = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
_CIRCUITSVIS = Path(circuitsvis.__file__).parent / "dist" / "cdn" / "iife.js"
_MATHJAX = Path(jupyter_server_mathjax.__file__).parent / "static"
VENDOR = {
    "plotly.min.js": (_PLOTLY, "Plotly.newPlot"),
    "circuitsvis.js": (_CIRCUITSVIS, "window.CircuitsVis"),
}
mathjax_path = "course-vendor/mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
mathjax2_config = {
    "tex2jax": {
        "inlineMath": [["\\(", "\\)"]],
        "displayMath": [["\\[", "\\]"]],
        # myst-nb marks a notebook's page "ignore" and its formulas "math" (MathJax 3's
        # names, which it sets for MathJax 3 only).
        "ignoreClass": "tex2jax_ignore|mathjax_ignore",
        "processClass": "tex2jax_process|mathjax_process|math|output_area",
    },
    "HTML-CSS": {
        # jupyter-server-mathjax carries only the STIX-Web fonts (as Jupyter configures it).
        "availableFonts": [],
        "imageFont": None,
        "webFont": "STIX-Web",
        # MathJax 2 declares an empty font at url('about:blank'), which Chromium refuses
        # and reports as a console error on every page with a formula; a local() source
        # is just as absent without the request.
        "styles": {"@font-face": {"font-family": "MathJax_Blank", "src": "local('MathJax_Blank')"}},
    },
}


def _add_vendor_scripts(app, pagename, templatename, context, doctree) -> None:
    body = context.get("body", "")
    for name, (_, marker) in VENDOR.items():
        if marker in body:
            app.add_js_file(f"course-vendor/{name}")


def _copy_vendor_files(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    vendor = Path(app.outdir) / "_static" / "course-vendor"
    vendor.mkdir(parents=True, exist_ok=True)
    for name, (source, _) in VENDOR.items():
        shutil.copyfile(source, vendor / name)
    shutil.copytree(_MATHJAX, vendor / "mathjax", dirs_exist_ok=True)


def setup(app) -> None:
    app.connect("html-page-context", _add_vendor_scripts)
    app.connect("build-finished", _copy_vendor_files)
