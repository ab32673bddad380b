"""Checks for 06_mod_add_mlp: each compares the learner's function with a reference.

The cases are small synthetic weight matrices with waves planted at known frequencies,
so the checks run in milliseconds and do not depend on a shipped checkpoint.
"""

from __future__ import annotations

import math

import torch
from jaxtyping import Float, Int
from torch import Tensor

from toyhelpers.checks import ExerciseFailed, assert_tensor, exercise

# -- references ------------------------------------------------------------------------


def _basis(p: int) -> Float[Tensor, "component x"]:
    # Same layout as toyhelpers.fourier.fourier_basis for odd p: const, cos 1, sin 1, ...
    x = torch.arange(p, dtype=torch.float64)
    rows = [torch.ones(p, dtype=torch.float64)]
    for k in range(1, p // 2 + 1):
        rows += [torch.cos(2 * math.pi * k * x / p), torch.sin(2 * math.pi * k * x / p)]
    basis = torch.stack(rows)
    return basis / basis.norm(dim=-1, keepdim=True)


def _power_by_frequency(weights: Float[Tensor, "p d"]) -> Float[Tensor, "freq d"]:
    """Squared Fourier coefficients pooled by frequency, per column (row 0: constant)."""
    power = (_basis(weights.shape[0]) @ weights.double()).pow(2)
    return torch.cat([power[:1], power[1:].view(-1, 2, power.shape[-1]).sum(1)])


def _input_frequency_fractions(
    W_in: Float[Tensor, "two_p d"], p: int
) -> Float[Tensor, "operand freq"]:
    rows = []
    for half in (W_in[:p], W_in[p:]):
        power = _power_by_frequency(half).sum(-1)
        power[0] = 0.0
        rows.append(power / power.sum())
    return torch.stack(rows).float()


def _neuron_frequencies(
    W_in: Float[Tensor, "two_p d"], p: int
) -> tuple[Int[Tensor, " d"], Float[Tensor, " d"]]:
    power = _power_by_frequency(W_in[:p]) + _power_by_frequency(W_in[p:])  # [freq d]
    power[0] = 0.0
    shares = power / power.sum(0, keepdim=True)
    best = shares.max(0)
    return best.indices, best.values.float()


def _frequencies_covering(shares: Float[Tensor, " freq"], target: float) -> list[int]:
    order = [k for k in shares.argsort(descending=True).tolist() if k > 0]
    chosen, total = [], 0.0
    for k in order:
        chosen.append(k)
        total += shares[k].item()
        if total >= target:
            break
    return chosen


# -- fixed cases -------------------------------------------------------------------------


def _planted_weights(p: int, d: int, freqs: list[int], seed: int) -> Float[Tensor, "two_p d"]:
    """Input weights [2p, d]: each neuron a wave of one of `freqs` in a and in b, plus noise
    and a constant offset (which the fractions must ignore)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.arange(p, dtype=torch.float32)[:, None]
    k = torch.tensor(freqs)[torch.randint(len(freqs), (d,), generator=gen)].float()
    phase_a, phase_b = torch.rand(2, d, generator=gen) * 2 * math.pi
    scale = 0.5 + torch.rand(d, generator=gen)
    w_a = scale * torch.cos(2 * math.pi * k * x / p + phase_a)
    w_b = scale * torch.cos(2 * math.pi * k * x / p + phase_b)
    noise = 0.3 * torch.randn(2 * p, d, generator=gen)
    offset = 2.0 * torch.randn(1, d, generator=gen)
    return torch.cat([w_a, w_b]) + noise + offset


# -- checks ----------------------------------------------------------------------------


@exercise("input_frequency_fractions")
def check_input_frequency_fractions(fn) -> None:
    """fn(W_in, p) -> [2, p//2 + 1]: per operand, the share of the non-constant squared
    norm of its input weights in each frequency (entry 0, the constant, is 0)."""
    for p, d, freqs, seed in ((31, 40, [4, 11], 0), (13, 9, [2, 5, 6], 1)):
        W_in = _planted_weights(p, d, freqs, seed)
        # Make the two operands differ so that mixing them up shows.
        W_in[p:] = W_in[p:] + 3.0 * torch.cos(2 * math.pi * 1 * torch.arange(p) / p)[:, None]
        got = fn(W_in, p)
        want = _input_frequency_fractions(W_in, p)
        if isinstance(got, Tensor) and got.shape == want.shape:
            got = got.float()
            if got[:, 0].abs().max() > 1e-4:
                raise ExerciseFailed(
                    "entry 0 (the constant) should be 0: leave the constant out of the total, "
                    "a neuron's bias-like offset says nothing about frequencies"
                )
            if torch.allclose(got, want.flip(0), atol=1e-4):
                raise ExerciseFailed("rows swapped: row 0 is operand a (W_in[:p]), row 1 is b")
            if torch.allclose(got.sum(), torch.tensor(1.0), atol=1e-4):
                raise ExerciseFailed(
                    "each row should sum to 1: normalise each operand by its own total"
                )
        assert_tensor(got, want, f"input_frequency_fractions(W_in, {p})", dims="operand freq")


@exercise("neuron_frequencies")
def check_neuron_frequencies(fn) -> None:
    """fn(W_in, p) -> (freq [d], share [d]): each neuron's dominant frequency over both
    operands' input weights and the share of its non-constant squared norm it holds."""
    for p, d, freqs, seed in ((31, 40, [4, 11, 14], 2), (17, 12, [3, 8], 3)):
        W_in = _planted_weights(p, d, freqs, seed)
        got = fn(W_in, p)
        want_freq, want_share = _neuron_frequencies(W_in, p)
        if not isinstance(got, tuple) or len(got) != 2:
            raise ExerciseFailed("return a pair (frequencies, shares), one entry per neuron each")
        freq, share = got
        if isinstance(freq, Tensor) and (freq == 0).any():
            raise ExerciseFailed(
                "some neurons got frequency 0, the constant: leave it out of each neuron's "
                "shares (set its power to 0 before normalising)"
            )
        if isinstance(share, Tensor) and share.shape == want_share.shape:
            only_a = _neuron_frequencies(torch.cat([W_in[:p], torch.zeros_like(W_in[:p])]), p)[1]
            if torch.allclose(share.float(), only_a, atol=1e-4):
                raise ExerciseFailed(
                    "you used only operand a; pool the power of W_in[:p] and W_in[p:] per neuron"
                )
            if (share.float() < want_share - 1e-3).all():
                raise ExerciseFailed(
                    "every share is too small: leave the constant component out of each "
                    "neuron's total"
                )
        assert_tensor(freq, want_freq, "the dominant frequencies", dims="neuron")
        assert_tensor(share, want_share, "the shares", dims="neuron")


@exercise("frequencies_covering")
def check_frequencies_covering(fn) -> None:
    """fn(shares, target) -> the fewest frequencies, largest share first, whose shares sum
    to at least `target` (index 0, the constant, never counts)."""
    gen = torch.Generator().manual_seed(4)
    shares = torch.rand(16, generator=gen).pow(4)
    shares[0] = 0.0
    shares = shares / shares.sum()
    for target in (0.5, 0.8, 0.99):
        got = fn(shares, target)
        want = _frequencies_covering(shares, target)
        if not isinstance(got, list) or not all(isinstance(k, int) for k in got):
            raise ExerciseFailed(f"return a list of ints, got {got!r}")
        if 0 in got:
            raise ExerciseFailed("index 0 is the constant, not a frequency: skip it")
        if got == want[:-1]:
            raise ExerciseFailed(
                f"one frequency short for target {target}: your list carries "
                f"{shares[got].sum():.3f}; keep adding until the total reaches the target"
            )
        if sorted(got) == sorted(want) and got != want:
            raise ExerciseFailed("right frequencies, wrong order: largest share first")
        if got != want:
            raise ExerciseFailed(f"for target {target} expected {want}, got {got}")
