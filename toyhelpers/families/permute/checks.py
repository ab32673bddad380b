"""Checks for 04_permute: each compares the learner's function with a reference."""

from __future__ import annotations

import torch
from jaxtyping import Float, Int
from torch import Tensor
from transformer_lens.model_bridge import TransformerBridge

from toyhelpers.checks import (
    ExerciseFailed,
    assert_per_head,
    assert_tensor,
    exercise,
    pretrained_case,
)
from toyhelpers.families.permute.tasks import Permute

# -- references ------------------------------------------------------------------------


def _routing_attention(
    pattern: Float[Tensor, "batch head seq seq"], length: int
) -> Float[Tensor, "batch head n_out n_in"]:
    # P(p_i) sits at length + 2 + 2i and predicts y_i; the inputs x_j sit at 1 + j.
    queries = slice(length + 2, 3 * length + 2, 2)
    return pattern[:, :, queries, 1 : length + 1]


def _read_permutation(
    tokens: Int[Tensor, "batch seq"], length: int, n_values: int
) -> Int[Tensor, "batch n_out"]:
    return tokens[:, length + 2 : 3 * length + 2 : 2] - n_values


def _routing_rate(
    attention: Float[Tensor, "batch head n_out n_in"], perm: Int[Tensor, "batch n_out"]
) -> Float[Tensor, " head"]:
    top = attention.argmax(dim=-1)  # batch head n_out
    return (top == perm[:, None, :]).float().mean(dim=(0, 2))


def _position_qk(model: TransformerBridge, length: int, n_values: int) -> Float[Tensor, "i j"]:
    # Query: the token P_i at the mean position of the P tokens. Key: the mean value
    # token at input position j. Scores as the layer-0 head computes them.
    p_pos = model.W_pos[length + 2 : 3 * length + 2 : 2].mean(0)
    q = (model.W_E[n_values : n_values + length] + p_pos) @ model.W_Q[0, 0] + model.b_Q[0, 0]
    k_in = model.W_E[:n_values].mean(0) + model.W_pos[1 : length + 1]
    k = k_in @ model.W_K[0, 0] + model.b_K[0, 0]
    return (q @ k.T / model.cfg.d_head**0.5).detach()


# -- fixed cases -------------------------------------------------------------------------


# -- checks ----------------------------------------------------------------------------


@exercise("routing_attention", reference=_routing_attention)
def check_routing_attention(fn) -> None:
    """fn(pattern, length) -> attention from the P positions (predicting y) to x0..x(n-1)."""
    # A random pattern with a second length catches hard-coded positions.
    gen = torch.Generator().manual_seed(0)
    for length in (5, 3):
        seq = 3 * length + 2
        pattern = torch.rand(2, 3, seq, seq, generator=gen)
        got = fn(pattern, length)
        output_rows = pattern[:, :, length + 3 : 3 * length + 2 : 2, 1 : length + 1]
        assert_tensor(
            got,
            _routing_attention(pattern, length),
            f"routing_attention(pattern, {length})",
            dims="batch head n_out n_in",
            mistakes=[
                (
                    output_rows,
                    "you took the rows of the outputs y_i; the logits for y_i come from the "
                    "position before it, the one holding P(p_i)",
                )
            ],
        )


@exercise("read_permutation", reference=_read_permutation)
def check_read_permutation(fn) -> None:
    """fn(tokens, length, n_values) -> the permutation p_i as input indices 0..length-1."""
    for length, n_values in ((5, 10), (4, 7)):
        tokens = Permute(length, n_values).generate(8, seed=3).tokens
        got = fn(tokens, length, n_values)
        want = _read_permutation(tokens, length, n_values)
        if (
            isinstance(got, Tensor)
            and got.shape == want.shape
            and torch.equal(got, want + n_values)
        ):
            raise ExerciseFailed(
                "these are token ids; subtract n_values to turn P_j into the index j"
            )
        assert_tensor(got, want, f"read_permutation(tokens, {length}, {n_values})", dims="batch i")


@exercise("routing_rate", reference=_routing_rate)
def check_routing_rate(fn) -> None:
    """fn(attention, perm) -> per head, how often the top input position is p_i."""
    case = pretrained_case("permute")
    task, tokens, pattern = case.task, case.tokens, case.pattern()
    attention = _routing_attention(pattern, task.length)
    perm = _read_permutation(tokens, task.length, task.n_values)
    # A blurred copy makes mean attention and argmax attention disagree.
    gen = torch.Generator().manual_seed(1)
    noisy = 0.5 * attention + 0.5 * torch.rand(attention.shape, generator=gen)
    for case in (attention, noisy):
        assert_per_head(
            fn(case, perm),
            _routing_rate(case, perm),
            "routing_rate(attention, perm)",
            "For each (sequence, output) take the input position with the most attention and "
            "compare it with p_i; average the matches.",
        )


@exercise("position_qk", reference=_position_qk)
def check_position_qk(fn) -> None:
    """fn(model, length, n_values) -> QK scores, position token P_i vs input position j."""
    case = pretrained_case("permute")
    model, task = case.model, case.task
    got = fn(model, task.length, task.n_values)
    want = _position_qk(model, task.length, task.n_values)
    if isinstance(got, Tensor) and got.shape == want.shape:
        if torch.allclose(got, want.T, rtol=1e-4, atol=1e-4):
            raise ExerciseFailed("rows and columns are swapped: rows are the query tokens P_i")
    assert_tensor(got, want, "position_qk(model, ...)", dims="position_token input_position")
