"""Checks for 23_memorization: each compares the learner's function with a reference."""

from __future__ import annotations

import functools
import math

import torch
from jaxtyping import Int
from torch import Tensor

from toyhelpers.checks import ExerciseFailed, as_number, assert_number, assert_tensor, exercise
from toyhelpers.families.memorization.capacity import (
    ablated_predictions,
    bits_learned,
    hidden_and_labels,
    table_bits,
)

# -- references ------------------------------------------------------------------------


def _table_bits(n: int, n_entries: int) -> float:
    return table_bits(n, n_entries)


def _bits_learned(fit: float, n: int, n_entries: int) -> float:
    return bits_learned(fit, n, n_entries)


def _neuron_flip_counts(model: torch.nn.Module, task) -> Int[Tensor, " d_hidden"]:
    hidden, _ = hidden_and_labels(model, task)
    answers = (hidden @ model.W_out + model.b_out).argmax(-1)
    return (ablated_predictions(model, task) != answers).sum(-1)


@torch.no_grad()
def _carried_by_top_k(model: torch.nn.Module, task, k: int) -> float:
    hidden, _ = hidden_and_labels(model, task)
    answers = (hidden @ model.W_out + model.b_out).argmax(-1)
    top = _neuron_flip_counts(model, task).argsort(descending=True)[:k]
    hidden = hidden.clone()
    hidden[:, top] = 0
    return ((hidden @ model.W_out + model.b_out).argmax(-1) != answers).float().mean().item()


# -- fixed cases -------------------------------------------------------------------------


@functools.cache
def _shipped() -> torch.nn.Module:
    from toyhelpers.checkpoints import load_pretrained

    return load_pretrained("memorize_mlp")


# -- checks ----------------------------------------------------------------------------


@exercise("table_bits", reference=_table_bits)
def check_table_bits(fn) -> None:
    """fn(n, n_entries) -> bits of information in a table of n_entries random labels."""
    for n, n_entries in ((48, 48 * 48), (2, 10), (10, 7)):
        got = as_number(fn(n, n_entries), f"table_bits({n}, {n_entries})")
        want = _table_bits(n, n_entries)
        if abs(got - n_entries * math.log(n)) < 1e-3 * max(1.0, want):
            raise ExerciseFailed("that is in nats (natural log): a bit is log base 2")
        if abs(got - n_entries * n) < 1e-6:
            raise ExerciseFailed("a label among n values holds log2(n) bits, not n")
        assert_number(got, want, f"table_bits({n}, {n_entries})")


@exercise("bits_learned", reference=_bits_learned)
def check_bits_learned(fn) -> None:
    """fn(fit, n, n_entries) -> bits of the table a model with that fit has stored."""
    cases = ((1.0, 48, 2304), (1 / 48, 48, 2304), (0.5, 10, 100), (0.13, 48, 2304))
    for fit, n, n_entries in cases:
        what = f"bits_learned({fit:.4g}, {n}, {n_entries})"
        got = as_number(fn(fit, n, n_entries), what)
        want = _bits_learned(fit, n, n_entries)
        if fit < 1 and abs(got - fit * n_entries * math.log2(n)) < 1e-3 * max(1.0, want + 1):
            raise ExerciseFailed(
                f"{what} = {got:.1f}: fit x table bits counts the entries a model gets right "
                "by chance (1/n of them) as stored. Subtract what it still costs to send the "
                "table given the model's answers: H(fit) + (1 - fit) log2(n - 1) bits an entry"
            )
        assert_number(got, want, what, tol=1e-3)


@exercise("neuron_flip_counts", reference=_neuron_flip_counts)
def check_neuron_flip_counts(fn) -> None:
    """fn(model, task) -> for each hidden neuron, how many entries flip when it is zeroed."""
    model = _shipped()
    got = fn(model, model.task)
    want = _neuron_flip_counts(model, model.task)
    hidden, _ = hidden_and_labels(model, model.task)
    active = (hidden > 0).sum(0)
    assert_tensor(
        got,
        want,
        "neuron_flip_counts(model, task)",
        dims="d_hidden",
        mistakes=[
            (
                active,
                "you counted the entries on which each neuron is active; a neuron carries an "
                "entry only if zeroing it changes the model's answer there",
            )
        ],
    )


@exercise("carried_by_top_k", reference=_carried_by_top_k)
def check_carried_by_top_k(fn) -> None:
    """fn(model, task, k) -> fraction of entries whose answer changes when the k neurons
    with the largest flip counts are zeroed together."""
    model = _shipped()
    for k in (1, 4, 16):
        what = f"carried_by_top_k(model, task, {k})"
        got = as_number(fn(model, model.task, k), what)
        want = _carried_by_top_k(model, model.task, k)
        counts = _neuron_flip_counts(model, model.task)
        summed = counts.sort(descending=True).values[:k].sum().item() / model.task.n**2
        if k > 1 and abs(got - summed) < 1e-4:
            raise ExerciseFailed(
                f"{what} = {got:.3f}: adding the single-neuron counts counts an entry once for "
                "every neuron that carries it; zero the k neurons together and count the "
                "entries whose answer changes"
            )
        assert_number(got, want, what, tol=1e-4)
