"""Measuring what a model has memorised: bits of a table, and which neurons hold them.

Used in lesson 23 (memorization). The model is a `ModularMLP` (lesson 06) on the task
`memorize`: `logits = W_out relu(W_in[a] + W_in[n + b] + b_in) + b_out`.
"""

from __future__ import annotations

import math

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor


def table_bits(n: int, n_entries: int) -> float:
    """Bits in `n_entries` labels drawn uniformly from n values: each holds log2(n)."""
    return n_entries * math.log2(n)


def bits_learned(fit: float, n: int, n_entries: int) -> float:
    """Bits of the table a model with this fit holds: how much shorter the table's shortest
    description becomes once one has the model.

    Given the model's answers, the table is sent as: for each entry, whether the model is
    right (H(fit) bits), and for a wrong one the true label among the n - 1 others. That
    costs `H(fit) + (1 - fit) log2(n - 1)` bits an entry instead of log2(n): zero bits are
    learned at chance (fit = 1/n), all of them at fit = 1.
    """
    if not 0 <= fit <= 1:
        raise ValueError(f"fit must be a fraction in 0..1, got {fit}")
    q = fit
    h = 0.0 if q in (0.0, 1.0) else -(q * math.log2(q) + (1 - q) * math.log2(1 - q))
    per_entry = math.log2(n) - h - (1 - q) * math.log2(n - 1)
    return max(per_entry, 0.0) * n_entries


@torch.no_grad()
def hidden_and_labels(
    model: torch.nn.Module, task
) -> tuple[Float[Tensor, "entry d_hidden"], Int[Tensor, " entry"]]:
    """Hidden activations on every pair of the table (order a*n + b), and the labels."""
    tokens = task.train_set(next(model.parameters()).device).tokens
    return model.hidden(tokens), tokens[:, 3]


@torch.no_grad()
def fitted(model: torch.nn.Module, task) -> Bool[Tensor, " entry"]:
    """Whether the model's argmax is the table's label, for every entry (order a*n + b)."""
    hidden, labels = hidden_and_labels(model, task)
    return (hidden @ model.W_out + model.b_out).argmax(-1) == labels


@torch.no_grad()
def ablated_predictions(model: torch.nn.Module, task) -> Int[Tensor, "d_hidden entry"]:
    """The model's answer on every entry with each hidden neuron zeroed, one at a time."""
    hidden, _ = hidden_and_labels(model, task)
    logits = hidden @ model.W_out + model.b_out
    # Zeroing neuron i removes its term hidden[:, i] * W_out[i] from every logit.
    without = logits - hidden.T[:, :, None] * model.W_out[:, None, :]
    return without.argmax(-1)
