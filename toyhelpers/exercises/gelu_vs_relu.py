"""Checks for 08_gelu_vs_relu: each compares the learner's function with a reference on
small made-up inputs, so no model has to be loaded."""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor

from toyhelpers.checks import ExerciseFailed, assert_tensor, exercise

# -- references ------------------------------------------------------------------------


def _participation_ratio(shares: Float[Tensor, "neuron freq"]) -> Float[Tensor, " neuron"]:
    return shares.sum(-1).pow(2) / shares.pow(2).sum(-1).clamp_min(1e-30)


def _neuron_sparsity(acts: Float[Tensor, "... neuron"], eps: float) -> tuple[float, float]:
    near_zero = acts.abs() <= eps
    flat = near_zero.reshape(-1, acts.shape[-1])
    return flat.all(0).float().mean().item(), near_zero.float().mean().item()


# -- checks ----------------------------------------------------------------------------


@exercise("participation_ratio")
def check_participation_ratio(fn) -> None:
    """fn(shares) -> per neuron, (sum of shares)^2 / sum of squared shares."""
    gen = torch.Generator().manual_seed(0)
    one_hot = torch.zeros(3, 7)
    one_hot[0, 2], one_hot[1, 5], one_hot[2, 1] = 0.9, 0.4, 1.0  # one frequency each: ratio 1
    even = torch.full((2, 7), 0.1)
    even[:, 0] = 0.0  # entry 0 (the constant) is always 0
    mixed = torch.rand(5, 7, generator=gen) * torch.rand(5, 1, generator=gen)
    for shares in (one_hot, even, mixed):
        got = fn(shares)
        want = _participation_ratio(shares)
        if isinstance(got, Tensor) and got.shape == want.shape and shares is one_hot:
            if torch.allclose(got.float(), shares.pow(2).sum(-1)):
                raise ExerciseFailed(
                    "divide (sum of shares)^2 by the sum of squared shares; a neuron on one "
                    "frequency must score 1 whatever its share"
                )
            if torch.allclose(got.float(), 1 / shares.pow(2).sum(-1)):
                raise ExerciseFailed(
                    "normalise by the neuron's own total: (sum of shares)^2 on top, not 1, so "
                    "that the score does not depend on how much variance the frequencies hold"
                )
        if isinstance(got, Tensor) and got.shape == (shares.shape[1],):
            raise ExerciseFailed("reduce over the frequencies (the last dim), one value per neuron")
        assert_tensor(
            got, want, f"participation ratio of shares {tuple(shares.shape)}", dims="neuron"
        )


@exercise("neuron_sparsity")
def check_neuron_sparsity(fn) -> None:
    """fn(acts, eps) -> (share of dead neurons, share of activations within eps of 0)."""
    gen = torch.Generator().manual_seed(0)
    relu_like = torch.relu(torch.randn(7, 7, 10, generator=gen) - 0.5)
    relu_like[..., 3] = 0.0  # one dead neuron
    gelu_like = torch.nn.functional.gelu(torch.randn(7, 7, 10, generator=gen) * 2 - 1)
    gelu_like[..., 5] = -0.001 * torch.rand(7, 7, generator=gen)  # dead, slightly negative
    for acts, eps in ((relu_like, 1e-6), (gelu_like, 0.01), (gelu_like.reshape(49, 10), 0.01)):
        got = fn(acts, eps)
        want = _neuron_sparsity(acts, eps)
        if not isinstance(got, tuple) or len(got) != 2:
            raise ExerciseFailed(f"return a pair (dead share, near-zero share), got {got!r}")
        dead, zero = (float(v) for v in got)
        if abs(zero - (acts <= eps).float().mean().item()) < 1e-6 and abs(zero - want[1]) > 1e-6:
            raise ExerciseFailed(
                "GELU activations can be negative: compare |acts| with eps, not acts itself"
            )
        per_input = (acts.abs() <= eps).reshape(-1, acts.shape[-1]).all(-1).float().mean().item()
        if abs(dead - per_input) < 1e-6 and abs(dead - want[0]) > 1e-6:
            raise ExerciseFailed(
                "a dead neuron is one that is near zero on every input: reduce over the input "
                "dims (all but the last), not over the neurons"
            )
        if abs(dead - want[0]) > 1e-6 or abs(zero - want[1]) > 1e-6:
            raise ExerciseFailed(
                f"for acts of shape {tuple(acts.shape)} and eps {eps}: got ({dead:.4f}, "
                f"{zero:.4f}), expected ({want[0]:.4f}, {want[1]:.4f})"
            )
