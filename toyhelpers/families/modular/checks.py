"""Exercise checks of the modular-arithmetic lessons 06-11."""

from __future__ import annotations

import math
from typing import Any

import einops
import torch
from jaxtyping import Float, Int
from torch import Tensor

from toyhelpers.checks import (
    ExerciseFailed,
    as_number,
    as_tensor,
    assert_number,
    assert_tensor,
    exercise,
    pretrained_case,
)
from toyhelpers.families.modular.fourier import (
    answer_grid,
    neuron_frequency_fractions,
    to_fourier_2d,
    wave_directions,
)

# ======================================================================================
# Lesson 06 · mod_add_mlp
# ======================================================================================


def _basis(p: int) -> Float[Tensor, "component x"]:
    # Same layout as fourier.fourier_basis for odd p: const, cos 1, sin 1, ...
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


@exercise("input_frequency_fractions", reference=_input_frequency_fractions)
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


@exercise("neuron_frequencies", reference=_neuron_frequencies)
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


@exercise("frequencies_covering", reference=_frequencies_covering)
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


# ======================================================================================
# Lesson 07 · mod_sub_transformer
# ======================================================================================


def _wave_coefficients(
    coeffs: Float[Tensor, "comp_a comp_b ..."], k: int, operation: str
) -> Float[Tensor, "two ..."]:
    # Rows 2k-1, 2k of the basis are cos k, sin k (odd p). With unit waves c, s:
    # cos(w(a-b)) ∝ c_a c_b + s_a s_b, sin(w(a-b)) ∝ s_a c_b - c_a s_b; for a+b the signs flip.
    c, s = 2 * k - 1, 2 * k
    sign = 1.0 if operation == "sub" else -1.0
    cos_part = (coeffs[c, c] + sign * coeffs[s, s]) / math.sqrt(2)
    sin_part = (coeffs[s, c] - sign * coeffs[c, s]) / math.sqrt(2)
    return torch.stack([cos_part, sin_part])


def _wave_share(logits: Float[Tensor, "a b vocab"], freqs: list[int], operation: str) -> float:
    centred = logits - logits.mean(dim=(0, 1), keepdim=True)
    dirs = wave_directions(logits.shape[0], freqs, operation).to(logits.dtype)
    coeffs = einops.einsum(dirs, centred, "direction a b, a b vocab -> direction vocab")
    return (coeffs.pow(2).sum() / centred.pow(2).sum()).item()


def _first_step_reaching(history: dict[str, Any], metric: str, threshold: float) -> int | None:
    for step, value in zip(history["steps"], history[metric], strict=True):
        if value >= threshold:
            return int(step)
    return None


# -- fixed cases -------------------------------------------------------------------------


def _grid(p: int, freqs: list[int], operation: str, seed: int, vocab: int = 5) -> Tensor:
    """Logit-like grid [p, p, vocab]: waves of a ∘ b at `freqs`, waves of a alone, an
    offset per output and some noise."""
    gen = torch.Generator().manual_seed(seed)
    a, b = torch.arange(p)[:, None].float(), torch.arange(p)[None, :].float()
    target = (a + b) if operation == "add" else (a - b)
    out = 1.5 * torch.randn(vocab, generator=gen)[None, None, :]
    for k in freqs:
        phase = torch.rand(vocab, generator=gen) * 2 * math.pi
        out = out + torch.cos(2 * math.pi * k * target[..., None] / p + phase)
    out = out + 0.5 * torch.cos(2 * math.pi * 3 * a[..., None] / p + torch.zeros(vocab))
    return out + 0.3 * torch.randn(p, p, vocab, generator=gen)


# -- checks ----------------------------------------------------------------------------


@exercise("wave_coefficients", reference=_wave_coefficients)
def check_wave_coefficients(fn) -> None:
    """fn(coeffs, k, operation) -> [2, ...]: the coefficients of the unit grid waves
    cos(w(a ∘ b)) and sin(w(a ∘ b)), read off the 2D Fourier coefficients `coeffs`."""
    for p, k, operation, seed in ((13, 4, "sub", 0), (13, 4, "add", 1), (17, 7, "sub", 2)):
        grid = _grid(p, [k], operation, seed)
        coeffs = to_fourier_2d(grid)
        got = fn(coeffs, k, operation)
        want = einops.einsum(
            wave_directions(p, [k], operation), grid, "direction a b, a b vocab -> direction vocab"
        )
        if (
            isinstance(got, Tensor)
            and got.shape == want.shape
            and not torch.allclose(got.float(), want, atol=1e-4)
        ):
            other = "add" if operation == "sub" else "sub"
            if torch.allclose(got.float(), _wave_coefficients(coeffs, k, other), atol=1e-4):
                raise ExerciseFailed(
                    f"you read off the {other!r} waves for operation {operation!r}: "
                    "cos(w(a-b)) = cos(wa)cos(wb) + sin(wa)sin(wb), while cos(w(a+b)) has a minus"
                )
            if torch.allclose(got.float(), want * math.sqrt(2), atol=1e-4):
                raise ExerciseFailed(
                    "off by a factor √2: cos(wa)cos(wb) + sin(wa)sin(wb) built from unit "
                    "waves has norm √2, so divide the sum of coefficients by √2"
                )
            if torch.allclose(got[0].float(), want[0], atol=1e-4):
                raise ExerciseFailed(
                    "the cos row is right but the sin row is not: "
                    "sin(w(a-b)) = sin(wa)cos(wb) - cos(wa)sin(wb), and coeffs[i, j] has "
                    "i the component in a and j the component in b"
                )
        assert_tensor(
            got, want, f"wave_coefficients(coeffs, {k}, {operation!r})", dims="wave vocab"
        )


@exercise("wave_share", reference=_wave_share)
def check_wave_share(fn) -> None:
    """fn(logits, freqs, operation) -> the share of the centred logits' squared norm in
    the waves cos(w(a ∘ b)), sin(w(a ∘ b)) of `freqs`."""
    for p, freqs, operation, seed in ((13, [2, 5], "sub", 3), (17, [6], "add", 4)):
        logits = _grid(p, freqs, operation, seed)
        centred_norm = (logits - logits.mean((0, 1), keepdim=True)).pow(2).sum().item()
        for ask in (operation, "add" if operation == "sub" else "sub"):
            want = _wave_share(logits, freqs, ask)
            got = as_number(fn(logits, freqs, ask), f"wave_share(logits, {freqs}, {ask!r})")
            if abs(got - want * centred_norm / logits.pow(2).sum().item()) < 1e-4:
                raise ExerciseFailed(
                    "subtract each output's mean over the grid first: the constant offset "
                    "is not explained by any wave but should not count in the total"
                )
            assert_number(got, want, f"wave_share(logits, {freqs}, {ask!r})")


@exercise("first_step_reaching", reference=_first_step_reaching)
def check_first_step_reaching(fn) -> None:
    """fn(history, metric, threshold) -> the first recorded step where history[metric]
    reaches threshold, or None if it never does."""
    history = {
        "steps": [0, 50, 100, 150, 200, 250],
        "test_accuracy": [0.01, 0.02, 0.3, 0.995, 0.98, 1.0],
        "train_accuracy": [0.0, 1.0, 1.0, 1.0, 1.0, 1.0],
    }
    cases = [
        ("test_accuracy", 0.99, 150),
        ("train_accuracy", 0.99, 50),
        ("test_accuracy", 0.995, 150),  # lands exactly on the threshold: it counts
        ("test_accuracy", 1.5, None),
    ]
    for metric, threshold, want in cases:
        got = fn(history, metric, threshold)
        if threshold == 0.995 and got == 250:
            raise ExerciseFailed(
                "a value equal to the threshold reaches it: compare with >=, not > "
                f"(test_accuracy is exactly {threshold} at step 150)"
            )
        if want is not None and got == history["steps"].index(want):
            raise ExerciseFailed(
                "you returned the index into the list; return the step itself, "
                "history['steps'][index]"
            )
        if want is not None and got == 250 and metric == "test_accuracy":
            raise ExerciseFailed("return the first step that reaches the threshold, not the last")
        if got != want:
            raise ExerciseFailed(
                f"first_step_reaching(history, {metric!r}, {threshold}) = {got!r}, "
                f"expected {want!r}"
            )


# ======================================================================================
# Lesson 08 · gelu_vs_relu
# ======================================================================================


def _participation_ratio(shares: Float[Tensor, "neuron freq"]) -> Float[Tensor, " neuron"]:
    return shares.sum(-1).pow(2) / shares.pow(2).sum(-1).clamp_min(1e-30)


def _neuron_sparsity(acts: Float[Tensor, "... neuron"], eps: float) -> tuple[float, float]:
    near_zero = acts.abs() <= eps
    flat = near_zero.reshape(-1, acts.shape[-1])
    return flat.all(0).float().mean().item(), near_zero.float().mean().item()


# -- checks ----------------------------------------------------------------------------


@exercise("participation_ratio", reference=_participation_ratio)
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


@exercise("neuron_sparsity", reference=_neuron_sparsity)
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


# ======================================================================================
# Lesson 09 · weights_and_neurons
# ======================================================================================


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
    from toyhelpers.families.modular.fourier import component_frequency, to_fourier_2d

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


@exercise("mean_ablate_head", reference=_mean_ablate_head)
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


@exercise("best_frequency", reference=_best_frequency)
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
        assert_tensor(share, want_share, f"shares for p={p}", dims="neuron")


# ======================================================================================
# Lesson 10 · dimensionality_reduction
# ======================================================================================


def _pca_by_svd(
    data: Float[Tensor, "point feature"], n_components: int
) -> tuple[Float[Tensor, "point component"], Float[Tensor, " component"]]:
    # Centre, then the right singular vectors are the principal directions; each component's
    # share of the variance is its squared singular value over the sum of all of them.
    centred = data - data.mean(0)
    _, sing, vh = torch.linalg.svd(centred, full_matrices=False)
    coords = centred @ vh[:n_components].T
    return coords, (sing.pow(2) / sing.pow(2).sum())[:n_components]


def _circularity(
    coords: Float[Tensor, "point 2"], labels: Int[Tensor, " point"], k: int, p: int
) -> float:
    # R² of a least-squares fit of the centred 2D points by [cos, sin] of frequency k.
    centred = (coords - coords.mean(0)).double()
    angle = 2 * math.pi * k * labels.double() / p
    waves = torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    fit = waves @ torch.linalg.lstsq(waves, centred).solution
    return 1 - (centred - fit).pow(2).sum().item() / centred.pow(2).sum().clamp_min(1e-30).item()


def _fourier_plane(embed: Float[Tensor, "p d"], k: int) -> Float[Tensor, "p 2"]:
    # The cos and sin coefficient vectors of frequency k span a plane of d_model; the
    # embeddings, centred and written in an orthonormal basis of that plane.
    p = embed.shape[0]
    angle = 2 * math.pi * k * torch.arange(p, dtype=embed.dtype) / p
    plane = torch.stack([torch.cos(angle), torch.sin(angle)]) @ embed
    q, _ = torch.linalg.qr(plane.T)
    return (embed - embed.mean(0)) @ q


# -- fixed cases -------------------------------------------------------------------------


def _circle_case(p: int = 31, k: int = 4, seed: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    """Points x -> (cos, sin)(2πkx/p) embedded in 6 dims, plus noise, and their labels."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.arange(p)
    angle = 2 * math.pi * k * x / p
    circle = torch.stack([torch.cos(angle), torch.sin(angle)], 1)
    lift = torch.linalg.qr(torch.randn(6, 2, generator=gen)).Q.T  # [2, 6]
    data = 3 * circle @ lift + 0.1 * torch.randn(p, 6, generator=gen) + 5
    return data, x, circle


def _match_signs(got: Tensor, want: Tensor) -> Tensor:
    """Flip each column of `got` to agree in sign with `want` (singular vectors have none)."""
    signs = torch.sign((got * want).sum(0))
    return got * torch.where(signs == 0, torch.ones_like(signs), signs)


# -- checks ----------------------------------------------------------------------------


@exercise("pca_by_svd", reference=_pca_by_svd)
def check_pca_by_svd(fn) -> None:
    """fn(data, n_components) -> (coords [point, component], variance shares [component])."""
    gen = torch.Generator().manual_seed(2)
    data_circle, _, _ = _circle_case()
    cases = [(data_circle, 2), (torch.randn(40, 7, generator=gen) * torch.arange(1, 8), 3)]
    for data, n in cases:
        got = fn(data, n)
        if not isinstance(got, tuple) or len(got) != 2:
            raise ExerciseFailed("return a pair: (coords, share of variance of each component)")
        coords, shares = got
        want_coords, want_shares = _pca_by_svd(data, n)
        if isinstance(coords, Tensor) and coords.shape == want_coords.shape:
            _, _, vh = torch.linalg.svd(data, full_matrices=False)
            uncentred = data @ vh[:n].T
            if torch.allclose(_match_signs(coords, uncentred), uncentred, atol=1e-3):
                raise ExerciseFailed(
                    "subtract the mean of each feature before the SVD: the first direction "
                    "of uncentred data points at the mean, not along the spread"
                )
            coords = _match_signs(coords, want_coords)
        if isinstance(shares, Tensor) and shares.shape == want_shares.shape:
            _, sing, _ = torch.linalg.svd(data - data.mean(0), full_matrices=False)
            if torch.allclose(shares, (sing / sing.sum())[:n], atol=1e-4):
                raise ExerciseFailed(
                    "variance goes with the squared singular values: share_i = s_i² / Σ s_j²"
                )
        assert_tensor(
            coords, want_coords, "coords (up to the sign of each column)", dims="point component"
        )
        assert_tensor(shares, want_shares, "variance shares", dims="component")


@exercise("circularity", reference=_circularity)
def check_circularity(fn) -> None:
    """fn(coords, labels, k, p) -> R² of fitting the 2D points with cos/sin(2πk·label/p)."""
    p, k = 31, 4
    _, x, circle = _circle_case(p, k)
    gen = torch.Generator().manual_seed(3)
    noisy = 2 * circle + 0.6 * torch.randn(p, 2, generator=gen) + 7
    cases = [
        (noisy, x, k, "a noisy circle of frequency 4, off-centre"),
        (noisy, x, 5, "the same circle scored at the wrong frequency 5"),
        (torch.randn(p, 2, generator=gen), x, k, "random points"),
        (circle[torch.randperm(p, generator=gen)], x, k, "a perfect circle in scrambled order"),
    ]
    for coords, labels, freq, what in cases:
        got = fn(coords, labels, freq, p)
        want = _circularity(coords, labels, freq, p)
        value = as_number(got, "circularity(...)")
        if abs(value - want) > 1e-3:
            hint = ""
            no_centre = coords.double()
            angle = 2 * math.pi * freq * labels.double() / p
            waves = torch.stack([torch.cos(angle), torch.sin(angle)], 1)
            fit = waves @ torch.linalg.lstsq(waves, no_centre).solution
            raw = 1 - (no_centre - fit).pow(2).sum().item() / no_centre.pow(2).sum().item()
            if abs(value - raw) < 1e-3:
                hint = (
                    ": centre the points first (subtract their mean); the waves have mean "
                    "zero and cannot fit an offset"
                )
            raise ExerciseFailed(f"for {what}: got R² = {value:.4f}, expected {want:.4f}{hint}")


@exercise("fourier_plane", reference=_fourier_plane)
def check_fourier_plane(fn) -> None:
    """fn(embed, k) -> [p, 2]: centred embeddings in an orthonormal basis of frequency k's plane."""
    data, _, _ = _circle_case()
    gen = torch.Generator().manual_seed(4)
    for embed, k in ((data, 4), (torch.randn(23, 5, generator=gen), 3)):
        got = as_tensor(fn(embed, k), f"fourier_plane(embed, {k})")
        want = _fourier_plane(embed, k)
        if got.shape != want.shape:
            assert_tensor(got, want, f"fourier_plane(embed, {k})", dims="x coord")
        # Any orthonormal basis of the plane is right: compare Gram matrices (rotation-free).
        if torch.allclose(got @ got.T, want @ want.T, atol=1e-3 * (want @ want.T).abs().max()):
            continue
        p = embed.shape[0]
        angle = 2 * math.pi * k * torch.arange(p, dtype=embed.dtype) / p
        plane = torch.stack([torch.cos(angle), torch.sin(angle)]) @ embed
        q, _ = torch.linalg.qr(plane.T)
        if torch.allclose(got, embed @ q, atol=1e-3) or torch.allclose(
            got @ got.T, (embed @ q) @ (embed @ q).T, atol=1e-3
        ):
            raise ExerciseFailed("centre the embeddings (subtract their mean) before projecting")
        if torch.allclose(got, (embed - embed.mean(0)) @ plane.T, atol=1e-3):
            raise ExerciseFailed(
                "you projected on cos_k @ embed and sin_k @ embed as they are; orthonormalise "
                "them first (torch.linalg.qr of the [d, 2] matrix), or distances get distorted"
            )
        raise ExerciseFailed(
            "the points differ from the projection onto the plane spanned by cos_k @ embed "
            "and sin_k @ embed, with cos_k, sin_k the waves cos/sin(2πkx/p) over x = 0..p-1"
        )


# ======================================================================================
# Lesson 11 · multitask
# ======================================================================================


def _logit_frequency_shares(
    logits: Float[Tensor, "a b vocab"], operation: str
) -> Float[Tensor, " freq"]:
    # Each output logit is a function on the grid; remove its mean, then measure how much
    # of what is left lies along cos/sin(w(a ∘ b)) for each frequency k (entry 0 stays 0).
    p = logits.shape[0]
    centred = logits - logits.mean(dim=(0, 1), keepdim=True)
    total = centred.pow(2).sum()
    shares = torch.zeros(p // 2 + 1, dtype=logits.dtype)
    for k in range(1, p // 2 + 1):
        dirs = wave_directions(p, [k], operation).to(logits.dtype)
        coeffs = einops.einsum(dirs, centred, "direction a b, a b vocab -> direction vocab")
        shares[k] = coeffs.pow(2).sum() / total
    return shares


def _sum_diff_shares(acts: Float[Tensor, "a b neuron"]) -> Float[Tensor, "neuron 2"]:
    # Share of each neuron's variance over the grid along every wave of a + b (column 0)
    # and every wave of a - b (column 1), all frequencies pooled.
    p = acts.shape[0]
    centred = acts - acts.mean(dim=(0, 1), keepdim=True)
    total = centred.pow(2).sum(dim=(0, 1)).clamp_min(1e-30)
    freqs = list(range(1, p // 2 + 1))
    out = []
    for operation in ("add", "sub"):
        dirs = wave_directions(p, freqs, operation).to(acts.dtype)
        coeffs = einops.einsum(dirs, centred, "direction a b, a b neuron -> direction neuron")
        out.append(coeffs.pow(2).sum(0) / total)
    return torch.stack(out, dim=-1)


@torch.no_grad()
def _difference_accuracy(
    model: torch.nn.Module, tokens: Int[Tensor, "batch seq"], s_values: Int[Tensor, " batch"]
) -> float:
    # The difference is predicted at position 3, which holds the sum token; put s_values there.
    p = model.task.p
    prompt = torch.cat([tokens[:, :3], s_values[:, None]], dim=1)
    pred = model(prompt)[:, 3].argmax(-1)
    return (pred == (tokens[:, 0] - tokens[:, 1]) % p).float().mean().item()


# -- fixed cases -------------------------------------------------------------------------


def _wave_grid(p: int, parts: list[tuple[str, int, float]], seed: int = 0) -> Tensor:
    """A [p, p, 3] grid: each channel a mix of the waves `(operation, k, weight)` plus noise."""
    gen = torch.Generator().manual_seed(seed)
    channels = []
    for shift in range(3):
        grid = 0.3 * torch.randn(p, p, generator=gen) + 2.0
        for operation, k, weight in parts:
            value = answer_grid(p, operation).double()
            grid = grid + weight * torch.cos(2 * math.pi * k * value / p + shift).float()
        channels.append(grid)
    return torch.stack(channels, dim=-1)


# -- checks ----------------------------------------------------------------------------


@exercise("logit_frequency_shares", reference=_logit_frequency_shares)
def check_logit_frequency_shares(fn) -> None:
    """fn(logits [a, b, vocab], operation) -> share of the centred logits per frequency."""
    p = 23
    cases = [
        (_wave_grid(p, [("add", 3, 2.0), ("add", 7, 1.0)]), "add"),
        (_wave_grid(p, [("sub", 5, 2.0), ("add", 5, 1.5)], seed=1), "sub"),
    ]
    for logits, operation in cases:
        want = _logit_frequency_shares(logits, operation)
        other = _logit_frequency_shares(logits, "sub" if operation == "add" else "add")
        centred_over_raw = (logits - logits.mean((0, 1))).pow(2).sum() / logits.pow(2).sum()
        assert_tensor(
            fn(logits, operation),
            want,
            f"logit_frequency_shares(logits, {operation!r})",
            dims="freq",
            mistakes=[
                (
                    other,
                    f"these are the shares of the other operation; for {operation!r} use waves "
                    f"of {'a + b' if operation == 'add' else 'a - b'}",
                ),
                (
                    want * centred_over_raw,
                    "divide by the variance of the centred logits (mean over the grid removed "
                    "for each vocab entry), not by the raw squared norm",
                ),
            ],
        )


@exercise("sum_diff_shares", reference=_sum_diff_shares)
def check_sum_diff_shares(fn) -> None:
    """fn(acts [a, b, neuron]) -> [neuron, 2]: share of variance in a+b waves, a-b waves."""
    p = 23
    acts = torch.cat(
        [_wave_grid(p, [("add", 4, 2.0)]), _wave_grid(p, [("sub", 9, 1.0), ("add", 2, 1.0)], 2)],
        dim=-1,
    )
    got = fn(acts)
    want = _sum_diff_shares(acts)
    if (
        isinstance(got, Tensor)
        and got.shape == want.shape
        and torch.allclose(got.float(), want.flip(-1).float(), atol=1e-4)
    ):
        raise ExerciseFailed("the columns are swapped: column 0 is a + b, column 1 is a - b")
    assert_tensor(got, want, "sum_diff_shares(acts)", dims="neuron operation")


@exercise("difference_accuracy", reference=_difference_accuracy)
def check_difference_accuracy(fn) -> None:
    """fn(model, tokens, s_values) -> accuracy of d when position 3 holds s_values."""
    model = pretrained_case("mod_add_sub").model
    task = model.task
    tokens = task.generate(300, seed=5).tokens
    gen = torch.Generator().manual_seed(6)
    for s_values, what in (
        (tokens[:, 3], "the true sums"),
        (torch.randint(0, task.p, (len(tokens),), generator=gen), "random sums"),
    ):
        got = fn(model, tokens, s_values)
        want = _difference_accuracy(model, tokens, s_values)
        value = as_number(got, "difference_accuracy(...)")
        if abs(value - want) > 1e-6:
            with torch.no_grad():
                prompt = torch.cat([tokens[:, :3], s_values[:, None]], dim=1)
                at_equals = model(prompt)[:, 2].argmax(-1)
            wrong_pos = (at_equals == (tokens[:, 0] - tokens[:, 1]) % task.p).float().mean()
            hint = (
                ": you read the logits at the `=` position (2), which predicts s; d is "
                "predicted at position 3"
                if abs(value - wrong_pos.item()) < 1e-6
                else ""
            )
            raise ExerciseFailed(f"with {what}: got {value:.4f}, expected {want:.4f}{hint}")
