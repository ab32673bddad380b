"""Checks for 27_circuit_lab: each compares the learner's function with a reference."""

from __future__ import annotations

import torch
from jaxtyping import Bool, Float
from torch import Tensor

from toyhelpers.checks import ExerciseFailed, assert_tensor, exercise

# -- references ------------------------------------------------------------------------


def _mean_difference_directions(
    resid: Float[Tensor, "rows d_model"],
    pos: Bool[Tensor, "rows square"],
    neg: Bool[Tensor, "rows square"],
) -> Float[Tensor, "square d_model"]:
    p, n = pos.float(), neg.float()
    mean_pos = (p.T @ resid) / p.sum(0)[:, None]
    mean_neg = (n.T @ resid) / n.sum(0)[:, None]
    diff = mean_pos - mean_neg
    return diff / diff.norm(dim=-1, keepdim=True)


def _writes_along(
    outputs: Float[Tensor, "comp rows d_model"],
    directions: Float[Tensor, "square d_model"],
    pos: Bool[Tensor, "rows square"],
    neg: Bool[Tensor, "rows square"],
) -> Float[Tensor, "comp square"]:
    proj = torch.einsum("crd,sd->crs", outputs, directions)
    p, n = pos.float(), neg.float()
    return (proj * p).sum(1) / p.sum(0) - (proj * n).sum(1) / n.sum(0)


# -- fixed cases -------------------------------------------------------------------------


def _case(seed: int, rows: int = 200, squares: int = 5, d: int = 8):
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 3, (rows, squares), generator=gen)
    pos, neg = labels == 1, labels == 2  # a third class (0) belongs to neither side
    signal = torch.randn(squares, d, generator=gen)
    resid = torch.randn(rows, d, generator=gen) + 0.5 + pos.float() @ signal
    return resid, pos, neg


# -- checks ----------------------------------------------------------------------------


@exercise("mean_difference_directions")
def check_mean_difference_directions(fn) -> None:
    """fn(resid, pos, neg) -> [square, d_model] unit vectors mean(pos) - mean(neg)."""
    for seed in (0, 1):
        resid, pos, neg = _case(seed)
        got = fn(resid, pos, neg)
        want = _mean_difference_directions(resid, pos, neg)
        if isinstance(got, Tensor) and got.shape == want.shape:
            got = got.float()
            if torch.allclose(got, -want, atol=1e-5):
                raise ExerciseFailed("the directions point the wrong way: mean(pos) - mean(neg)")
            norms = got.norm(dim=-1)
            if not torch.allclose(norms, torch.ones_like(norms), atol=1e-4):
                raise ExerciseFailed(f"each direction should have norm 1; got norms {norms}")
            versus_all = _mean_difference_directions(resid, pos, torch.ones_like(neg))
            if torch.allclose(got, versus_all, atol=1e-5):
                raise ExerciseFailed(
                    "you compared the positives with all rows; compare them with the rows in "
                    "`neg` only (rows in neither set are left out)"
                )
        assert_tensor(got, want, "mean_difference_directions", dims="square d_model")


@exercise("writes_along")
def check_writes_along(fn) -> None:
    """fn(outputs, directions, pos, neg) -> [comp, square] differential write per square."""
    gen = torch.Generator().manual_seed(3)
    resid, pos, neg = _case(4)
    outputs = torch.randn(3, *resid.shape, generator=gen) + resid
    directions = _mean_difference_directions(resid, pos, neg)
    got = fn(outputs, directions, pos, neg)
    want = _writes_along(outputs, directions, pos, neg)
    if isinstance(got, Tensor) and got.shape == want.shape:
        proj = torch.einsum("crd,sd->crs", outputs, directions)
        pos_only = (proj * pos).sum(1) / pos.sum(0)
        if torch.allclose(got.float(), pos_only, atol=1e-4):
            raise ExerciseFailed(
                "you averaged the projection over the positive rows only; subtract its mean "
                "over the negative rows, so that what every row gets alike cancels"
            )
        if torch.allclose(got.float(), -want, atol=1e-4):
            raise ExerciseFailed("the sign is reversed: positives minus negatives")
    assert_tensor(got, want, "writes_along", dims="comp square")
