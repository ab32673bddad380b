"""Checks for 11_multitask: each compares the learner's function with a reference."""

from __future__ import annotations

import functools
import math

import einops
import torch
from jaxtyping import Float, Int
from torch import Tensor

from toyhelpers.checks import ExerciseFailed, assert_tensor, exercise
from toyhelpers.fourier import answer_grid, wave_directions

# -- references ------------------------------------------------------------------------


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


@functools.lru_cache(maxsize=1)
def _model():
    from toyhelpers.checkpoints import load_pretrained

    return load_pretrained("mod_add_sub")


# -- checks ----------------------------------------------------------------------------


@exercise("logit_frequency_shares")
def check_logit_frequency_shares(fn) -> None:
    """fn(logits [a, b, vocab], operation) -> share of the centred logits per frequency."""
    p = 23
    cases = [
        (_wave_grid(p, [("add", 3, 2.0), ("add", 7, 1.0)]), "add"),
        (_wave_grid(p, [("sub", 5, 2.0), ("add", 5, 1.5)], seed=1), "sub"),
    ]
    for logits, operation in cases:
        got = fn(logits, operation)
        want = _logit_frequency_shares(logits, operation)
        if (
            isinstance(got, Tensor)
            and got.shape == want.shape
            and not torch.allclose(got.float(), want.float(), atol=1e-4)
        ):
            other = _logit_frequency_shares(logits, "sub" if operation == "add" else "add")
            if torch.allclose(got.float(), other.float(), atol=1e-4):
                raise ExerciseFailed(
                    f"these are the shares of the other operation; for {operation!r} use waves "
                    f"of {'a + b' if operation == 'add' else 'a - b'}"
                )
            raw = logits.pow(2).sum()
            if torch.allclose(
                got.float() * raw / (logits - logits.mean((0, 1))).pow(2).sum(),
                want.float(),
                atol=1e-4,
            ):
                raise ExerciseFailed(
                    "divide by the variance of the centred logits (mean over the grid removed "
                    "for each vocab entry), not by the raw squared norm"
                )
        assert_tensor(got, want, f"logit_frequency_shares(logits, {operation!r})", dims="freq")


@exercise("sum_diff_shares")
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


@exercise("difference_accuracy")
def check_difference_accuracy(fn) -> None:
    """fn(model, tokens, s_values) -> accuracy of d when position 3 holds s_values."""
    model = _model()
    task = model.task
    tokens = task.generate(300, seed=5).tokens
    gen = torch.Generator().manual_seed(6)
    for s_values, what in (
        (tokens[:, 3], "the true sums"),
        (torch.randint(0, task.p, (len(tokens),), generator=gen), "random sums"),
    ):
        got = fn(model, tokens, s_values)
        want = _difference_accuracy(model, tokens, s_values)
        try:
            value = float(got)
        except (TypeError, ValueError):
            raise ExerciseFailed(f"return a float, got {type(got).__name__}") from None
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
