"""One call per common plot: `imshow`, `line`, `scatter`, and `attention_patterns`.

Choices, briefly:

- Every function takes torch tensors (any device, with or without grad), numpy arrays
  or nested lists; `_to_numpy` is the only place that converts.
- Signed data get the diverging "RdBu" scale centred at zero, so white means zero and
  red/blue mean negative/positive in every plot; non-negative data get "Blues".
- Labels are plain words: `labels={"x": "key position", "y": "query position"}`.
- `show=True` displays the figure and returns None, so a notebook cell does not show
  it twice; `show=False` returns the plotly Figure to edit or test.
- Nothing happens at import. `set_renderer` picks plotly's renderer for Colab, VS Code
  or Jupyter and is called by `toyhelpers.setup()`; $TOYHELPERS_PLOTLY_RENDERER wins.
  CI sets "page": each figure becomes a small html div drawn by the plotly.js that the
  page itself loads (the course website ships one copy), so executed notebooks stay small.
- `attention_patterns` emits a few kB of html that draws with the page's own circuitsvis
  bundle when there is one (the website) and loads it from the CDN otherwise, unless
  `inline=True` asks for the megabyte-sized offline version. It never calls circuitsvis's
  own online check, which opens a network connection every time a cell is displayed.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import circuitsvis
import numpy as np
import plotly.express as px
import plotly.graph_objects as go
import plotly.io as pio
import torch
from circuitsvis.utils.convert_props import convert_props
from circuitsvis.utils.render import render_local
from jaxtyping import Float
from torch import Tensor

ArrayLike = Tensor | np.ndarray | Sequence[Any]

RENDERER_ENV_VAR = "TOYHELPERS_PLOTLY_RENDERER"
# The renderer for pages that load plotly.js themselves (the course website).
PAGE_RENDERER = "page"
DIVERGING_SCALE = "RdBu"
# Blue, like the positive half of RdBu, so "more" reads the same in every plot.
SEQUENTIAL_SCALE = "Blues"


def _to_numpy(data: ArrayLike | Any) -> np.ndarray:
    """A numpy array from a tensor (any device, with grad), an array or nested lists."""
    if isinstance(data, Tensor):
        data = data.detach().cpu()
        # numpy has no bfloat16.
        if data.dtype == torch.bfloat16:
            data = data.float()
        return data.numpy()
    if isinstance(data, np.ndarray):
        return data
    if isinstance(data, (list, tuple)):
        # Elements may be tensors (a list of losses), which np.asarray cannot take
        # when they live on a GPU or require grad.
        return np.asarray(
            [_to_numpy(d) if isinstance(d, (Tensor, list, tuple)) else d for d in data]
        )
    return np.asarray(data)


def _finish(fig: go.Figure, show: bool) -> go.Figure | None:
    if show:
        fig.show()
        return None
    return fig


def _unique_ticks(ticks: ArrayLike) -> list[str]:
    """Tick labels as strings, with repeats told apart by their index."""
    # A categorical axis draws repeated labels (two "3" tokens) on top of each other.
    names = [str(t) for t in _to_numpy(ticks).tolist()]
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return [f"{name} ({i})" if counts[name] > 1 else name for i, name in enumerate(names)]


def _colour_scale(values: np.ndarray, diverging: bool | None, zmid: float) -> dict[str, Any]:
    """plotly express arguments for a diverging scale centred at `zmid`, or a sequential one."""
    if diverging is None:
        diverging = bool(np.any(values < zmid))
    if diverging:
        return {"color_continuous_scale": DIVERGING_SCALE, "color_continuous_midpoint": zmid}
    return {"color_continuous_scale": SEQUENTIAL_SCALE}


def imshow(
    tensor: Float[Tensor, "rows cols"] | Float[Tensor, "facet rows cols"] | ArrayLike,
    *,
    title: str | None = None,
    labels: Mapping[str, str] | None = None,
    x: Sequence[Any] | None = None,
    y: Sequence[Any] | None = None,
    facet: bool | None = None,
    facet_labels: Sequence[str] | None = None,
    facet_col_wrap: int | None = None,
    diverging: bool | None = None,
    zmid: float = 0.0,
    show: bool = True,
    **kwargs: Any,
) -> go.Figure | None:
    """Heatmap of a [rows cols] tensor, or one heatmap per slice of a [facet rows cols] one.

    `labels` keys: "x", "y", "color", and "facet" (e.g. "head" gives titles "head 0", ...).
    `x`/`y` are tick labels such as tokens. Signed data are centred on `zmid` unless
    `diverging=False`; 3D data are faceted over the first dim unless `facet=False`.
    """
    arr = _to_numpy(tensor)
    if arr.dtype == bool:
        arr = arr.astype(float)
    if arr.ndim not in (2, 3):
        raise ValueError(
            f"imshow takes a [rows cols] or [facet rows cols] tensor, got shape {arr.shape}"
        )
    labels = dict(labels or {})
    facet_name = labels.pop("facet", "")
    if facet is None:
        facet = arr.ndim == 3 and ("facet_col" in kwargs or "animation_frame" not in kwargs)
    # neel-plotly habits (`facet_col=0`) keep working: it names the dim to facet over.
    facet_dim = kwargs.pop("facet_col", 0)
    if facet:
        if arr.ndim != 3:
            raise ValueError(f"facet needs a 3D [facet rows cols] tensor, got shape {arr.shape}")
        n_facets = arr.shape[facet_dim]
        if facet_labels is None:
            facet_labels = [f"{facet_name} {i}".strip() for i in range(n_facets)]
        if len(facet_labels) != n_facets:
            raise ValueError(f"got {len(facet_labels)} facet_labels for {n_facets} facets")
        kwargs.update(facet_col=facet_dim, facet_col_wrap=facet_col_wrap)

    for key, value in _colour_scale(arr, diverging, zmid).items():
        kwargs.setdefault(key, value)
    x_ticks = None if x is None else _unique_ticks(x)
    y_ticks = None if y is None else _unique_ticks(y)
    fig = px.imshow(arr, x=x_ticks, y=y_ticks, labels=labels, title=title, **kwargs)

    if facet:
        # With facet_col_wrap the annotations are not in facet order; each one's text
        # ("facet_col=3") says which facet it titles.
        fig.for_each_annotation(
            lambda a: a.update(text=facet_labels[int(a.text.rsplit("=", 1)[-1])])
        )
    # Token labels that look like numbers ("3", "7") would otherwise get a numeric axis.
    if x_ticks is not None:
        fig.update_xaxes(type="category")
    if y_ticks is not None:
        fig.update_yaxes(type="category")
    return _finish(fig, show)


def line(
    y: Float[Tensor, " points"] | Float[Tensor, "lines points"] | ArrayLike,
    *,
    x: Sequence[Any] | ArrayLike | None = None,
    labels: Mapping[str, str] | None = None,
    title: str | None = None,
    names: Sequence[Any] | None = None,
    log_y: bool = False,
    show: bool = True,
    **kwargs: Any,
) -> go.Figure | None:
    """One line from a [points] tensor, or one line per row of a [lines points] tensor.

    `names` labels the rows in the legend; `labels` keys are "x", "y" and "color" (legend title).
    """
    arr = _to_numpy(y)
    if arr.ndim not in (1, 2):
        raise ValueError(f"line takes a [points] or [lines points] tensor, got shape {arr.shape}")
    several = arr.ndim == 2 or names is not None
    rows = arr.reshape(-1, arr.shape[-1])
    n_lines, n_points = rows.shape
    xs = np.arange(n_points) if x is None else _to_numpy(x)
    if xs.shape != (n_points,):
        raise ValueError(f"x has shape {xs.shape} but each line has {n_points} points")
    names = [str(i) for i in range(n_lines)] if names is None else [str(n) for n in names]
    if len(names) != n_lines:
        raise ValueError(f"got {len(names)} names for {n_lines} lines")

    # Long format, one row per point, so the legend and hover show the names given.
    data = {
        "x": np.tile(xs, n_lines),
        "y": rows.reshape(-1),
        "color": np.repeat(np.array(names, dtype=object), n_points),
        "row": np.repeat(np.arange(n_lines), n_points),
    }
    labels = {"color": "line", **(labels or {})}
    if several:
        # line_group keeps rows with the same name as separate lines.
        kwargs.setdefault("color", "color")
        kwargs.setdefault("line_group", "row")
        kwargs.setdefault("hover_data", {"row": False})
    fig = px.line(data, x="x", y="y", labels=labels, title=title, log_y=log_y, **kwargs)
    return _finish(fig, show)


def scatter(
    x: Float[Tensor, " points"] | ArrayLike,
    y: Float[Tensor, " points"] | ArrayLike,
    *,
    color: ArrayLike | str | None = None,
    labels: Mapping[str, str] | None = None,
    title: str | None = None,
    hover: ArrayLike | Mapping[str, ArrayLike] | None = None,
    show: bool = True,
    **kwargs: Any,
) -> go.Figure | None:
    """Scatter of y against x (both flattened, so two [layer head] grids work too).

    `color`: per-point values (signed ones get RdBu centred at 0) or one CSS colour.
    `hover`: per-point names (e.g. tokens), or {"plain name": per-point values}.
    """
    xs, ys = _to_numpy(x).reshape(-1), _to_numpy(y).reshape(-1)
    if xs.shape != ys.shape:
        raise ValueError(f"x has {xs.size} points but y has {ys.size}")
    data: dict[str, Any] = {"x": xs, "y": ys}

    def per_point(values: ArrayLike, what: str) -> np.ndarray:
        arr = _to_numpy(values).reshape(-1)
        if arr.shape != xs.shape:
            raise ValueError(f"{what} has {arr.size} values but there are {xs.size} points")
        return arr

    if isinstance(color, str):
        kwargs.setdefault("color_discrete_sequence", [color])
    elif color is not None:
        data["color"] = per_point(color, "color")
        kwargs["color"] = "color"
        if np.issubdtype(data["color"].dtype, np.number):
            for key, value in _colour_scale(data["color"], None, 0.0).items():
                kwargs.setdefault(key, value)
    if isinstance(hover, Mapping):
        for name, values in hover.items():
            data[name] = per_point(values, f"hover[{name!r}]")
        kwargs.setdefault("hover_data", list(hover))
    elif hover is not None:
        data["hover"] = [str(h) for h in per_point(hover, "hover").tolist()]
        kwargs.setdefault("hover_name", "hover")

    fig = px.scatter(data, x="x", y="y", labels=dict(labels or {}), title=title, **kwargs)
    return _finish(fig, show)


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (Jupyter, Colab, VS Code), false in scripts and terminals."""
    # IPython is always imported inside a kernel; importing it here would be slow for scripts.
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


def set_renderer(name: str | None = None) -> str:
    """Pick plotly's renderer for this environment and return its name.

    Order: `name`, then $TOYHELPERS_PLOTLY_RENDERER, then Colab, plain scripts (plotly's
    own choice, a browser tab), VS Code, and Jupyter.
    """
    chosen = name or os.environ.get(RENDERER_ENV_VAR, "").strip()
    if not chosen:
        if "google.colab" in sys.modules:
            chosen = "colab"
        elif not _in_notebook():
            # A notebook renderer outside a kernel prints a dict instead of a plot.
            chosen = pio.renderers.default
        elif "VSCODE_PID" in os.environ or "VSCODE_CWD" in os.environ:
            chosen = "vscode"
        else:
            chosen = "plotly_mimetype+notebook"
    if PAGE_RENDERER in chosen.split("+") and PAGE_RENDERER not in pio.renderers:
        pio.renderers[PAGE_RENDERER] = _PageRenderer()
    pio.renderers.default = chosen
    return chosen


class _PageRenderer(pio.base_renderers.MimetypeRenderer):
    """A figure as an html div plus the call that draws it, without plotly.js itself.

    Plotly's "notebook" renderer puts the whole library (4.8 MB) into the first figure's
    output; a page that loads plotly.js once (the course website) needs only this.
    """

    def to_mimebundle(self, fig_dict: dict[str, Any]) -> dict[str, str]:
        html = pio.to_html(fig_dict, include_plotlyjs=False, full_html=False, validate=False)
        return {"text/html": html}


class AttentionHTML:
    """circuitsvis html that notebooks display as is: nothing decided at display time."""

    def __init__(self, html: str, *, inline: bool, n_heads: int, n_tokens: int) -> None:
        self.html = html
        self.inline = inline
        self.n_heads = n_heads
        self.n_tokens = n_tokens

    def _repr_html_(self) -> str:
        return self.html

    def __html__(self) -> str:
        return self.html

    def __str__(self) -> str:
        return self.html

    def __repr__(self) -> str:
        source = "inlined JavaScript" if self.inline else "JavaScript from the CDN"
        return (
            f"<attention patterns: {self.n_heads} heads x {self.n_tokens} tokens, "
            f"{len(self.html) / 1000:.0f} kB html, {source}>"
        )


def attention_patterns(
    tokens: Sequence[str],
    pattern: Float[Tensor, "head query key"] | Float[Tensor, "query key"] | ArrayLike,
    *,
    head_names: Sequence[str] | None = None,
    inline: bool = False,
) -> AttentionHTML:
    """Interactive circuitsvis view of attention patterns over `tokens`, one per head.

    By default the html is small: it draws with the page's circuitsvis bundle where the
    page has one (the course website, offline) and otherwise loads circuitsvis from the
    CDN (Jupyter and Colab, online). `inline=True` embeds the bundle (megabytes, offline).
    """
    tokens = [str(t) for t in _to_numpy(tokens).reshape(-1).tolist()]
    arr = _to_numpy(pattern).astype(np.float64)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[-2:] != (len(tokens), len(tokens)):
        raise ValueError(
            f"pattern has shape {tuple(_to_numpy(pattern).shape)} but there are {len(tokens)} "
            f"tokens: expected [query key] or [head query key] with query = key = {len(tokens)}"
        )
    n_heads = arr.shape[0]
    if head_names is not None and len(head_names) != n_heads:
        raise ValueError(f"got {len(head_names)} head_names for {n_heads} heads")

    props: dict[str, Any] = {
        "tokens": tokens,
        # Four decimals are finer than the colours can show and keep the html small.
        "attention": np.round(arr, 4),
        "headLabels": None if head_names is None else [str(h) for h in head_names],
    }
    # circuitsvis's `attention_patterns` renders "AttentionPatterns" with both sources
    # and picks one by going online at display time; this picks one up front.
    if inline:
        html = render_local("AttentionPatterns", **props)
    else:
        html = _page_or_cdn_html("AttentionPatterns", props)
    return AttentionHTML(html, inline=inline, n_heads=n_heads, n_tokens=len(tokens))


def _page_or_cdn_html(element: str, props: dict[str, Any]) -> str:
    """circuitsvis html that uses the page's `window.CircuitsVis` (circuitsvis's iife.js,
    which the website loads) when it is there and imports the CDN's module otherwise."""
    cdn = f"https://unpkg.com/circuitsvis@{circuitsvis.__version__}/dist/cdn/esm.js"
    div = f"circuits-vis-{uuid.uuid4().hex[:12]}"
    return (
        f'<div id="{div}" style="margin: 15px 0;"></div>\n'
        '<script type="module">\n'
        f'const cv = window.CircuitsVis ?? (await import("{cdn}"));\n'
        f'cv.render("{div}", cv.{element}, {convert_props(props)});\n'
        "</script>"
    )
