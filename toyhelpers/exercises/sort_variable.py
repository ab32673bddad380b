"""Checks for 02_sort_variable: each compares the learner's function with a reference."""

from __future__ import annotations

import functools

import torch
from jaxtyping import Float, Int
from torch import Tensor
from transformer_lens.model_bridge import TransformerBridge

from toyhelpers.checks import ExerciseFailed, assert_tensor, exercise
from toyhelpers.tasks.base import get_task

# -- references ------------------------------------------------------------------------


def _rule_next_value(
    tokens: Int[Tensor, "batch seq"], length: int, n_values: int
) -> Int[Tensor, "batch n_query"]:
    # Queries MID, y1..yk sit at length+1 .. 2*length+1; MID counts as "nothing written".
    inputs = tokens[:, 1 : length + 1]
    last = tokens[:, length + 1 : 2 * length + 2]
    last = torch.where(last >= n_values, -1, last)
    bigger = inputs[:, None, :] > last[:, :, None]
    candidates = torch.where(bigger, inputs[:, None, :], n_values)
    return candidates.min(dim=-1).values


def _top_attended_token(
    pattern: Float[Tensor, "batch head seq seq"], tokens: Int[Tensor, "batch seq"], length: int
) -> Int[Tensor, "batch head n_query"]:
    top = pattern[:, :, length + 1 : 2 * length + 2].argmax(dim=-1)
    per_head = tokens[:, None, :].expand(-1, pattern.shape[1], -1)
    return per_head.gather(2, top)


def _accuracy_by_length(
    model: TransformerBridge, lengths: list[int], n: int = 1_000, seed: int = 0
) -> Float[Tensor, " n_lengths"]:
    from toyhelpers.evaluation import evaluate

    trained = model.task
    accs = []
    for k in lengths:
        task = get_task(
            "sort_variable",
            n_values=trained.n_values,
            min_length=k,
            max_length=k,
            pad_length=trained.room,
        )
        accs.append(evaluate(model, task, n=n, seed=seed)["accuracy"])
    return torch.tensor(accs)


# -- fixed cases -------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _model() -> TransformerBridge:
    from toyhelpers.checkpoints import load_pretrained

    return load_pretrained("sort_variable")


def _tokens(length: int, n: int = 64, seed: int = 99) -> Tensor:
    task = get_task("sort_variable", min_length=length, max_length=length, pad_length=8)
    return task.generate(n, seed=seed).tokens


# -- checks ----------------------------------------------------------------------------


@exercise("rule_next_value")
def check_rule_next_value(fn) -> None:
    """fn(tokens, length, n_values) -> the value the rule predicts after MID, y1..yk."""
    n_values = 20
    for length in (4, 2, 1):
        tokens = _tokens(length)
        got = fn(tokens, length, n_values)
        want = _rule_next_value(tokens, length, n_values)
        if isinstance(got, Tensor) and got.shape == want.shape and not torch.equal(got, want):
            row, query = (int(i) for i in (got != want).nonzero()[0])
            task = get_task("sort_variable", max_length=length, pad_length=8)
            raise ExerciseFailed(
                f"for length {length}, list {task.decode(tokens[row])!r}: after the "
                f"{'MID' if query == 0 else f'output y{query}'} you give {int(got[row, query])}, "
                f"the rule gives {int(want[row, query])}. The rule: the smallest input value "
                f"strictly greater than the last output (any input after MID), and n_values "
                "when there is none."
            )
        assert_tensor(got, want, f"rule_next_value(tokens, {length}, 20)", dims="batch query")


@exercise("top_attended_token")
def check_top_attended_token(fn) -> None:
    """fn(pattern, tokens, length) -> the token at the most-attended key of each query."""
    gen = torch.Generator().manual_seed(0)
    for length in (4, 2):
        tokens = _tokens(length, n=8)
        seq = tokens.shape[1]
        pattern = torch.rand(8, 2, seq, seq, generator=gen).tril()
        pattern = pattern / pattern.sum(-1, keepdim=True)
        got = fn(pattern, tokens, length)
        want = _top_attended_token(pattern, tokens, length)
        if isinstance(got, Tensor) and got.shape == (8, 2, length):
            raise ExerciseFailed(
                f"shape {tuple(got.shape)}: there are length + 1 = {length + 1} queries "
                "(MID, y1..yk: the last output predicts EOS)"
            )
        assert_tensor(
            got, want, f"top_attended_token(pattern, tokens, {length})", dims="batch head query"
        )


@exercise("accuracy_by_length")
def check_accuracy_by_length(fn) -> None:
    """fn(model, lengths) -> whole-list accuracy for lists of exactly each length."""
    model = _model()
    lengths = [1, 3, 6]
    got = fn(model, lengths)
    want = _accuracy_by_length(model, lengths)
    if not isinstance(got, Tensor) or got.shape != want.shape:
        assert_tensor(got, want, "accuracy_by_length(model, [1, 3, 6])", dims="length")
    far = (got - want).abs() > 0.05
    if far.any():
        i = int(far.nonzero()[0])
        raise ExerciseFailed(
            f"length {lengths[i]}: got accuracy {got[i]:.3f}, expected about {want[i]:.3f}. "
            "Build the task with min_length = max_length = k and the model's pad_length, so "
            "every list has length k and the sequence fits the model's n_ctx."
        )
