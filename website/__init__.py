"""The course website: `python -m website.build` (see build.py) renders the executed
solution notebooks with Sphinx and myst-nb into `_site/`."""
