"""Checks for 07_mod_sub_transformer: each compares the learner's function with a reference.

The cases are synthetic grids (random values plus planted waves), so the checks are fast
and do not depend on a shipped checkpoint.
"""

from __future__ import annotations

import math
from typing import Any

import einops
import torch
from jaxtyping import Float
from torch import Tensor

from toyhelpers.checks import ExerciseFailed, assert_tensor, exercise
from toyhelpers.fourier import to_fourier_2d, wave_directions

# -- references ------------------------------------------------------------------------


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


@exercise("wave_coefficients")
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


@exercise("wave_share")
def check_wave_share(fn) -> None:
    """fn(logits, freqs, operation) -> the share of the centred logits' squared norm in
    the waves cos(w(a ∘ b)), sin(w(a ∘ b)) of `freqs`."""
    for p, freqs, operation, seed in ((13, [2, 5], "sub", 3), (17, [6], "add", 4)):
        logits = _grid(p, freqs, operation, seed)
        centred_norm = (logits - logits.mean((0, 1), keepdim=True)).pow(2).sum().item()
        for ask in (operation, "add" if operation == "sub" else "sub"):
            want = _wave_share(logits, freqs, ask)
            got = fn(logits, freqs, ask)
            if isinstance(got, Tensor):
                got = got.item()
            if not isinstance(got, float):
                raise ExerciseFailed(f"return a float, got {type(got).__name__}")
            if abs(got - want * centred_norm / logits.pow(2).sum().item()) < 1e-4:
                raise ExerciseFailed(
                    "subtract each output's mean over the grid first: the constant offset "
                    "is not explained by any wave but should not count in the total"
                )
            if abs(got - want) > 1e-4:
                raise ExerciseFailed(
                    f"wave_share(logits, {freqs}, {ask!r}) = {got:.4f}, expected {want:.4f}"
                )


@exercise("first_step_reaching")
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
        ("test_accuracy", 1.5, None),
    ]
    for metric, threshold, want in cases:
        got = fn(history, metric, threshold)
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
