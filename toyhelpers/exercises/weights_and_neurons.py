"""Checks for 09_weights_and_neurons: each compares the learner's function with a reference
on small made-up inputs, so no model has to be loaded."""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor

from toyhelpers.checks import ExerciseFailed, assert_tensor, exercise
from toyhelpers.fourier import neuron_frequency_fractions

# -- references ------------------------------------------------------------------------


def _mean_ablate_head(
    z: Float[Tensor, "batch pos head d_head"], head: int
) -> Float[Tensor, "batch pos head d_head"]:
    out = z.clone()
    out[:, :, head] = z[:, :, head].mean(0, keepdim=True)
    return out


def _best_frequency(acts: Float[Tensor, "a b neuron"]) -> tuple[Tensor, Tensor]:
    shares = neuron_frequency_fractions(acts)
    best = shares.max(-1)
    return best.indices, best.values


def _toy_neurons(p: int, gen: torch.Generator) -> Float[Tensor, "a b neuron"]:
    """ReLU of waves in a and b, the kind of neuron a grokked model has, plus noise."""
    x = torch.arange(p, dtype=torch.float32)
    a, b = x[:, None], x[None, :]
    cols = []
    for k in (1, 3, 3, 5, 2):
        phase = torch.rand(2, generator=gen) * 6.28
        w = 2 * torch.pi * k / p
        wave = torch.cos(w * a + phase[0]) + torch.cos(w * b + phase[1]) + 0.3
        cols.append(torch.relu(wave))
    cols.append(torch.rand(p, p, generator=gen))  # unstructured
    return torch.stack(cols, -1)


def _mistakes(acts: Tensor, freq: Tensor) -> list[tuple[Tensor, str]]:
    """Shares computed with two plausible slips, to recognise them."""
    from toyhelpers.fourier import component_frequency, to_fourier_2d

    power = to_fourier_2d(acts).pow(2)
    comp = component_frequency(acts.shape[0])
    fa, fb = comp[:, None], comp[None, :]
    with_const = power.sum((0, 1))
    no_const = with_const - power[0, 0]
    idx = torch.arange(acts.shape[-1])
    mine = []
    products = []
    for n, k in zip(idx.tolist(), freq.tolist(), strict=True):
        terms = ((fa == k) & ((fb == k) | (fb == 0))) | ((fa == 0) & (fb == k))
        mine.append(power[..., n][terms].sum())
        products.append(power[..., n][(fa == k) & (fb == k)].sum())
    mine, products = torch.stack(mine), torch.stack(products)
    return [
        (
            mine / with_const,
            "leave the constant term (0, 0) out of the total: it is the mean, not variance",
        ),
        (
            products / no_const,
            "frequency k also explains the terms in a or b alone, (k, 0) "
            "and (0, k), not only the products (k, k)",
        ),
    ]


# -- checks ----------------------------------------------------------------------------


@exercise("mean_ablate_head")
def check_mean_ablate_head(fn) -> None:
    """fn(z, head) -> z with head `head` replaced by its mean over the batch (per position)."""
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(6, 3, 4, 5, generator=gen)
    for head in (1, 3):
        before = z.clone()
        got = fn(z, head)
        if not torch.equal(z, before):
            raise ExerciseFailed("do not modify z in place; clone it and return the copy")
        want = _mean_ablate_head(z, head)
        if isinstance(got, Tensor) and got.shape == want.shape:
            over_pos = z.clone()
            over_pos[:, :, head] = z[:, :, head].mean((0, 1), keepdim=True)
            if torch.allclose(got, over_pos):
                raise ExerciseFailed(
                    "average over the batch only: each position keeps its own mean"
                )
            zeroed = z.clone()
            zeroed[:, :, head] = 0
            if torch.allclose(got, zeroed):
                raise ExerciseFailed("that is zero-ablation; replace the head by its batch mean")
            others = [h for h in range(z.shape[2]) if h != head]
            if not torch.allclose(got[:, :, others], z[:, :, others]):
                raise ExerciseFailed(
                    f"only head {head} should change; the other heads must be kept"
                )
        assert_tensor(got, want, f"mean_ablate_head(z, {head})", dims="batch pos head d_head")


@exercise("best_frequency")
def check_best_frequency(fn) -> None:
    """fn(acts) -> (best frequency per neuron, share of its variance that frequency explains)."""
    gen = torch.Generator().manual_seed(0)
    for p in (13, 17):
        acts = _toy_neurons(p, gen)
        got = fn(acts)
        if not isinstance(got, tuple) or len(got) != 2:
            raise ExerciseFailed(f"return a pair (frequencies, shares), got {type(got).__name__}")
        want_freq, want_share = _best_frequency(acts)
        freq, share = got
        if isinstance(share, Tensor) and share.shape == want_share.shape:
            for mistake, message in _mistakes(acts, want_freq):
                if torch.allclose(share.float(), mistake, atol=1e-4):
                    raise ExerciseFailed(message)
        assert_tensor(freq, want_freq, f"best frequencies for p={p}", dims="neuron")
        assert_tensor(share.float(), want_share.float(), f"shares for p={p}", dims="neuron")
