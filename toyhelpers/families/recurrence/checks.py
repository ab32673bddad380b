"""Checks for 05_recurrence: each compares the learner's function with a reference."""

from __future__ import annotations

import math

import torch
from jaxtyping import Float
from torch import Tensor

from toyhelpers.checks import ExerciseFailed, assert_tensor, exercise, pretrained_case

# -- references ------------------------------------------------------------------------


def _attention_by_offset(
    pattern: Float[Tensor, "batch head seq seq"], max_offset: int = 2
) -> Float[Tensor, "head offset"]:
    # Position q holds x_{q-1} and predicts x_q; the first such query with a target is q = 2.
    seq = pattern.shape[-1]
    queries = torch.arange(2, seq - 1)
    rows = [pattern[:, :, queries, queries - d].mean(dim=(0, 2)) for d in range(max_offset + 1)]
    return torch.stack(rows, dim=-1)


def _fourier_basis(p: int) -> Float[Tensor, "p p"]:
    n = torch.arange(p, dtype=torch.float32)
    rows = [torch.ones(p)]
    for k in range(1, (p - 1) // 2 + 1):
        rows += [torch.cos(2 * math.pi * k * n / p), torch.sin(2 * math.pi * k * n / p)]
    basis = torch.stack(rows)
    return basis / basis.norm(dim=-1, keepdim=True)


def _frequency_fractions(
    weights: Float[Tensor, "p d"], basis: Float[Tensor, "p p"]
) -> Float[Tensor, " n_freq"]:
    # Index 0 is the constant direction; index k pools the cos and sin rows of frequency k.
    power = (basis @ weights).pow(2).sum(-1)
    by_freq = torch.cat([power[:1], power[1:].view(-1, 2).sum(-1)])
    return by_freq / by_freq.sum()


def _keep_frequencies(
    weights: Float[Tensor, "p d"], basis: Float[Tensor, "p p"], freqs: list[int]
) -> Float[Tensor, "p d"]:
    rows = [0] + [r for k in freqs for r in (2 * k - 1, 2 * k)]
    kept = basis[rows]
    return kept.T @ (kept @ weights)


# -- fixed cases -------------------------------------------------------------------------


def _embedding() -> Tensor:
    model = pretrained_case("fibonacci").model
    return model.W_E[: model.task.p].detach()


# -- checks ----------------------------------------------------------------------------


@exercise("attention_by_offset", reference=_attention_by_offset)
def check_attention_by_offset(fn) -> None:
    """fn(pattern) -> [head, 3]: mean attention from each predicting query to q, q-1, q-2."""
    gen = torch.Generator().manual_seed(0)
    for seq in (11, 7):
        pattern = torch.rand(3, 2, seq, seq, generator=gen).softmax(-1)
        every_query = torch.stack(
            [pattern.diagonal(-d, dim1=-2, dim2=-1).mean(dim=(0, 2)) for d in range(3)], -1
        )
        assert_tensor(
            fn(pattern),
            _attention_by_offset(pattern),
            f"attention_by_offset(pattern) for seq {seq}",
            dims="head offset",
            mistakes=[
                (
                    every_query,
                    "you averaged over every query; keep only those that predict a scored "
                    "token, positions 2..seq-2 (position q predicts x_q)",
                )
            ],
        )


@exercise("fourier_basis", reference=_fourier_basis)
def check_fourier_basis(fn) -> None:
    """fn(p) -> [p, p] orthonormal rows: constant, cos 1, sin 1, cos 2, sin 2, ..."""
    for p in (17, 7):
        got = fn(p)
        want = _fourier_basis(p)
        if isinstance(got, Tensor) and got.shape == want.shape:
            norms = got.float().norm(dim=-1)
            if not torch.allclose(norms, torch.ones(p), atol=1e-4):
                raise ExerciseFailed(
                    f"row norms should all be 1; row {int((norms - 1).abs().argmax())} has "
                    f"norm {norms[(norms - 1).abs().argmax()]:.3f}"
                )
        assert_tensor(got, want, f"fourier_basis({p})", dims="component token")


@exercise("frequency_fractions", reference=_frequency_fractions)
def check_frequency_fractions(fn) -> None:
    """fn(weights, basis) -> share of the squared norm in the constant and each frequency."""
    gen = torch.Generator().manual_seed(0)
    basis = _fourier_basis(17)
    for weights in (_embedding(), torch.randn(17, 5, generator=gen)):
        got = fn(weights, basis)
        want = _frequency_fractions(weights, basis)
        if isinstance(got, Tensor) and got.shape == (17,):
            raise ExerciseFailed(
                "one value per basis row; pool cos k and sin k into frequency k, giving "
                "1 + (p - 1) / 2 values"
            )
        assert_tensor(got, want, "frequency_fractions(weights, basis)", dims="frequency")


@exercise("keep_frequencies", reference=_keep_frequencies)
def check_keep_frequencies(fn) -> None:
    """fn(weights, basis, freqs) -> weights projected on the constant and freqs' cos/sin."""
    gen = torch.Generator().manual_seed(1)
    basis = _fourier_basis(17)
    for weights, freqs in ((_embedding(), [2, 8]), (torch.randn(17, 4, generator=gen), [1, 5, 6])):
        got = fn(weights, basis, freqs)
        want = _keep_frequencies(weights, basis, freqs)
        if isinstance(got, Tensor) and got.shape == want.shape:
            no_const = want - basis[:1].T @ (basis[:1] @ weights)
            if torch.allclose(got, no_const, atol=1e-4):
                raise ExerciseFailed("keep the constant direction (row 0) as well as the freqs")
        assert_tensor(got, want, f"keep_frequencies(weights, basis, {freqs})", dims="token d")
