"""Checks for 25_othello_circuits: each compares the learner's function with a reference."""

from __future__ import annotations

import torch
from jaxtyping import Bool, Float
from torch import Tensor

from toyhelpers.checks import ExerciseFailed, assert_tensor, exercise

# -- references ------------------------------------------------------------------------


def _read_cosines(
    w_in: Float[Tensor, "d_model d_mlp"], directions: Float[Tensor, "square d_model"]
) -> Float[Tensor, "d_mlp square"]:
    w = w_in / w_in.norm(dim=0, keepdim=True)
    d = directions / directions.norm(dim=-1, keepdim=True)
    return w.T @ d.T


def _effect_size(acts: Float[Tensor, " rows"], group: Bool[Tensor, " rows"]) -> float:
    inside, outside = acts[group], acts[~group]
    pooled = ((inside.var() + outside.var()) / 2).sqrt()
    return ((inside.mean() - outside.mean()) / pooled).item()


def _square_logit_effect(
    w_out: Float[Tensor, " d_model"], w_u: Float[Tensor, "d_model d_vocab"], n_squares: int
) -> Float[Tensor, " square"]:
    effect = w_out @ w_u[:, :n_squares]
    return effect - effect.mean()


# -- checks ----------------------------------------------------------------------------


@exercise("read_cosines")
def check_read_cosines(fn) -> None:
    """fn(w_in [d_model, d_mlp], directions [square, d_model]) -> [d_mlp, square] cosines."""
    gen = torch.Generator().manual_seed(0)
    w_in = torch.randn(16, 10, generator=gen) * torch.linspace(0.1, 3, 10)
    directions = torch.randn(9, 16, generator=gen) * torch.linspace(0.5, 2, 9)[:, None]
    got = fn(w_in, directions)
    want = _read_cosines(w_in, directions)
    if isinstance(got, Tensor):
        if got.shape == want.T.shape and got.shape != want.shape:
            raise ExerciseFailed("transposed: return one row per neuron, one column per square")
        if got.shape == want.shape and torch.allclose(got, w_in.T @ directions.T, atol=1e-4):
            raise ExerciseFailed(
                "these are dot products; a cosine divides by the norms of both vectors, so a "
                "neuron with big weights does not win just for being big"
            )
        if got.shape == want.shape and got.abs().max() > 1 + 1e-4:
            raise ExerciseFailed(f"a cosine lies in [-1, 1], got {got.abs().max():.3f}")
    assert_tensor(got, want, "read_cosines(w_in, directions)", dims="neuron square")


@exercise("effect_size")
def check_effect_size(fn) -> None:
    """fn(acts [rows], group [rows] bool) -> Cohen's d of group vs the rest (pooled sd)."""
    gen = torch.Generator().manual_seed(1)
    acts = torch.cat([torch.randn(300, generator=gen) + 2, 3 * torch.randn(100, generator=gen)])
    group = torch.arange(400) < 300
    order = torch.randperm(400, generator=gen)
    acts, group = acts[order], group[order]
    got = fn(acts, group)
    want = _effect_size(acts, group)
    if isinstance(got, Tensor):
        got = got.item()
    if not isinstance(got, float):
        raise ExerciseFailed(f"return a float, got {type(got).__name__}")
    if abs(got + want) < 1e-4:
        raise ExerciseFailed("the sign is flipped: mean inside the group minus mean outside")
    overall = ((acts[group].mean() - acts[~group].mean()) / acts.std()).item()
    if abs(got - overall) < 1e-4:
        raise ExerciseFailed(
            "you divided by the standard deviation of all activations; use the pooled one, "
            "sqrt((var inside + var outside) / 2), which ignores the gap between the groups"
        )
    if abs(got - want) > 1e-4:
        raise ExerciseFailed(f"effect size {got:.4f}, expected {want:.4f}")


@exercise("square_logit_effect")
def check_square_logit_effect(fn) -> None:
    """fn(w_out [d_model], w_u [d_model, d_vocab], n_squares) -> centred push on each square."""
    gen = torch.Generator().manual_seed(2)
    w_out = torch.randn(16, generator=gen)
    w_u = torch.randn(16, 11, generator=gen) + 0.5
    w_u[:, 9:] += 3  # START and PAD columns, very different from the squares
    got = fn(w_out, w_u, 9)
    want = _square_logit_effect(w_out, w_u, 9)
    if isinstance(got, Tensor):
        if got.shape == (11,):
            raise ExerciseFailed("keep only the square tokens (the first n_squares columns)")
        raw = w_out @ w_u[:, :9]
        if got.shape == want.shape and torch.allclose(got, raw, atol=1e-4):
            raise ExerciseFailed(
                "subtract the mean over squares: a push shared by every square changes no "
                "move's probability"
            )
        whole = w_out @ w_u
        if got.shape == want.shape and torch.allclose(got, (whole - whole.mean())[:9], atol=1e-4):
            raise ExerciseFailed("centre over the squares only, not the whole vocabulary")
    assert_tensor(got, want, "square_logit_effect(w_out, w_u, n_squares)", dims="square")
