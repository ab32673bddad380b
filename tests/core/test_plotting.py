"""Plots return figures holding the data given; renderer choice; attention html size."""

from __future__ import annotations

import re
import sys
import types

import circuitsvis.utils.render
import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest
import torch

from toyhelpers import plotting
from toyhelpers.plotting import attention_patterns, imshow, line, scatter, set_renderer


@pytest.fixture
def restore_renderer(monkeypatch):
    """Leave plotly's renderer, and the environment it is read from, as they were."""
    for var in (plotting.RENDERER_ENV_VAR, "VSCODE_PID", "VSCODE_CWD"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    before = pio.renderers.default
    yield
    pio.renderers.default = before


# --- conversion ---------------------------------------------------------------------


def test_to_numpy_takes_tensors_with_grad_lists_of_tensors_and_bfloat16():
    t = torch.ones(2, 3, requires_grad=True)
    assert np.array_equal(plotting._to_numpy(t), np.ones((2, 3)))
    losses = [torch.tensor(1.0, requires_grad=True), torch.tensor(0.5)]
    assert np.allclose(plotting._to_numpy(losses), [1.0, 0.5])
    assert plotting._to_numpy(torch.ones(2, dtype=torch.bfloat16)).dtype == np.float32
    assert np.array_equal(plotting._to_numpy([[1, 2], [3, 4]]), [[1, 2], [3, 4]])


# --- imshow -------------------------------------------------------------------------


def test_imshow_tensor_with_grad_keeps_data_and_centres_signed_data_at_zero():
    t = torch.tensor([[-1.0, 2.0], [0.5, -3.0]], requires_grad=True)
    fig = imshow(t, labels={"x": "key position", "y": "query position"}, show=False)
    assert isinstance(fig, go.Figure)
    assert np.allclose(fig.data[0].z, t.detach().numpy())
    assert fig.layout.coloraxis.cmid == 0
    assert fig.layout.xaxis.title.text == "key position"
    assert fig.layout.yaxis.title.text == "query position"


def test_imshow_non_negative_data_or_diverging_false_use_a_sequential_scale():
    for fig in (
        imshow(torch.rand(3, 3), show=False),
        imshow(np.random.randn(3, 3), diverging=False, show=False),
    ):
        assert fig.layout.coloraxis.cmid is None
        assert fig.layout.coloraxis.colorscale[-1][1] == "rgb(8,48,107)"  # Blues, not RdBu
    forced = imshow(torch.rand(3, 3), diverging=True, show=False)
    assert forced.layout.coloraxis.cmid == 0


def test_imshow_facets_over_first_dim_with_labels_in_facet_order():
    data = torch.randn(5, 3, 4)
    names = [f"L0H{i}" for i in range(5)]
    fig = imshow(data, facet_labels=names, facet_col_wrap=2, show=False)
    assert len(fig.data) == 5
    assert sorted(a.text for a in fig.layout.annotations) == sorted(names)
    # Wrapped facets list annotations out of order; each title must sit over its own data.
    for trace in fig.data:
        x_domain = fig.layout[trace.xaxis.replace("x", "xaxis")].domain
        y_top = fig.layout[trace.yaxis.replace("y", "yaxis")].domain[1]
        (title,) = [
            a.text
            for a in fig.layout.annotations
            if a.x == pytest.approx(sum(x_domain) / 2) and a.y == pytest.approx(y_top)
        ]
        assert np.allclose(trace.z, data[names.index(title)].numpy())


def test_imshow_facet_name_from_labels_and_unique_tick_labels():
    fig = imshow(torch.randn(2, 3, 3), labels={"facet": "head"}, x=["3", "7", "3"], show=False)
    assert sorted(a.text for a in fig.layout.annotations) == ["head 0", "head 1"]
    assert list(fig.data[0].x) == ["3 (0)", "7", "3 (2)"]
    assert fig.layout.xaxis.type == "category"


def test_imshow_rejects_1d_and_show_true_returns_none(monkeypatch):
    with pytest.raises(ValueError, match=r"\(4,\)"):
        imshow(torch.randn(4), show=False)
    shown = []
    monkeypatch.setattr(go.Figure, "show", lambda self, *a, **k: shown.append(self))
    assert imshow([[1, 2], [3, 4]]) is None
    assert len(shown) == 1


# --- line and scatter ---------------------------------------------------------------


def test_line_2d_gives_one_named_trace_per_row():
    y = torch.arange(12.0).reshape(3, 4)
    fig = line(
        y,
        x=[10, 20, 30, 40],
        names=["train", "val", "test"],
        labels={"x": "step", "y": "loss"},
        log_y=True,
        show=False,
    )
    assert [trace.name for trace in fig.data] == ["train", "val", "test"]
    for trace, row in zip(fig.data, y, strict=True):
        assert np.allclose(trace.y, row.numpy())
        assert list(trace.x) == [10, 20, 30, 40]
    assert fig.layout.yaxis.type == "log"
    assert fig.layout.xaxis.title.text == "step"


def test_line_1d_and_shape_errors():
    fig = line([torch.tensor(3.0, requires_grad=True), torch.tensor(1.0)], show=False)
    assert len(fig.data) == 1 and np.allclose(fig.data[0].y, [3.0, 1.0])
    with pytest.raises(ValueError, match="2 names for 3 lines"):
        line(torch.zeros(3, 4), names=["a", "b"], show=False)
    with pytest.raises(ValueError, match="each line has 4 points"):
        line(torch.zeros(3, 4), x=[0, 1], show=False)


def test_scatter_data_colour_and_hover():
    x, y = torch.randn(6, requires_grad=True), np.arange(6)
    fig = scatter(
        x,
        y,
        color=torch.tensor([-2.0, -1.0, 0.0, 1.0, 2.0, 3.0]),
        hover=list("abcdef"),
        labels={"x": "logit", "y": "position"},
        show=False,
    )
    assert np.allclose(fig.data[0].x, x.detach().numpy())
    assert np.allclose(fig.data[0].y, y)
    assert list(fig.data[0].hovertext) == list("abcdef")
    assert fig.layout.coloraxis.cmid == 0  # signed colours: RdBu centred at 0
    assert fig.layout.xaxis.title.text == "logit"
    positive = scatter(x, y, color=torch.arange(1.0, 7.0), show=False)
    assert positive.layout.coloraxis.cmid is None  # one-signed colours: a sequential scale
    named = scatter([1, 2], [3, 4], hover={"token": ["a", "b"]}, show=False)
    assert "token" in named.data[0].hovertemplate
    with pytest.raises(ValueError, match="x has 2 points but y has 3"):
        scatter([1, 2], [1, 2, 3], show=False)


# --- renderer -----------------------------------------------------------------------


def test_renderer_env_var_and_explicit_name_win(restore_renderer, monkeypatch):
    monkeypatch.setenv(plotting.RENDERER_ENV_VAR, "json")
    monkeypatch.setenv("VSCODE_PID", "1")
    assert set_renderer() == "json" and pio.renderers.default == "json"
    assert set_renderer("png") == "png" and pio.renderers.default == "png"


def test_renderer_colab_vscode_jupyter(restore_renderer, monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    assert set_renderer() == "colab"
    monkeypatch.delitem(sys.modules, "google.colab")

    monkeypatch.setattr(plotting, "_in_notebook", lambda: True)
    monkeypatch.setenv("VSCODE_CWD", "/somewhere")
    assert set_renderer() == "vscode"
    monkeypatch.delenv("VSCODE_CWD")
    assert set_renderer() == "plotly_mimetype+notebook"
    assert pio.renderers.default == "plotly_mimetype+notebook"


def test_page_renderer_draws_with_the_pages_plotly_js(restore_renderer):
    assert set_renderer("page") == "page"
    fig = line([1.0, 4.0, 2.0], title="three points", show=False)
    bundle = pio.renderers["page"].to_mimebundle(fig.to_dict())
    html = bundle["text/html"]
    assert list(bundle) == ["text/html"]
    assert "Plotly.newPlot" in html and "<script" in html
    assert len(html) < 20_000  # no copy of plotly.js (4.8 MB) inside
    assert "three points" in html and '"type":"scatter"' in html.replace(" ", "")


def test_renderer_outside_a_notebook_keeps_plotlys_choice(restore_renderer, monkeypatch):
    monkeypatch.setenv("VSCODE_PID", "1")
    pio.renderers.default = "svg"
    assert not plotting._in_notebook()
    assert set_renderer() == "svg"


# --- attention patterns -------------------------------------------------------------


TOKENS = ["START", "3", "1", "MID", "1", "3"]


@pytest.fixture
def never_online(monkeypatch):
    def refuse():
        raise AssertionError("circuitsvis's internet_on() was called")

    monkeypatch.setattr(circuitsvis.utils.render, "internet_on", refuse)


def test_attention_patterns_default_html_is_small_and_prefers_the_pages_bundle(never_online):
    pattern = torch.softmax(torch.randn(4, 6, 6, requires_grad=True), dim=-1)
    view = attention_patterns(TOKENS, pattern, head_names=[f"L0H{i}" for i in range(4)])
    html = view._repr_html_()
    assert len(html) < 20_000
    # The website's own copy of circuitsvis first, the CDN where the page has none.
    assert html.index("window.CircuitsVis") < html.index("unpkg.com/circuitsvis")
    div = re.search(r'<div id="([\w-]+)"', html).group(1)
    assert f'cv.render("{div}", cv.AttentionPatterns' in html
    assert "var CircuitsVis" not in html  # the inlined bundle
    assert '"L0H3"' in html and '"MID"' in html
    assert str(view) == html == view.__html__()
    assert "4 heads" in repr(view)


def test_attention_patterns_inline_embeds_the_bundle(never_online):
    small = attention_patterns(TOKENS, torch.eye(6))._repr_html_()
    inlined = attention_patterns(TOKENS, torch.eye(6), inline=True)._repr_html_()
    assert "var CircuitsVis" in inlined and "unpkg.com" not in inlined
    assert len(inlined) > 100_000 > len(small)


def test_attention_patterns_shape_errors_say_the_shapes():
    with pytest.raises(ValueError, match=r"shape \(2, 6, 5\) but there are 6 tokens"):
        attention_patterns(TOKENS, torch.rand(2, 6, 5))
    with pytest.raises(ValueError, match=r"shape \(1, 2, 6, 6\)"):
        attention_patterns(TOKENS, torch.rand(1, 2, 6, 6))
    with pytest.raises(ValueError, match="1 head_names for 2 heads"):
        attention_patterns(TOKENS, torch.rand(2, 6, 6), head_names=["a"])
