"""Checks for 01_sort_fixed: each compares the learner's function with a reference."""

from __future__ import annotations

import functools

import torch
from jaxtyping import Float, Int
from torch import Tensor
from transformer_lens.model_bridge import TransformerBridge

from toyhelpers.checks import ExerciseFailed, assert_tensor, exercise
from toyhelpers.tasks.sorting import SortFixed

# -- references ------------------------------------------------------------------------


def _output_attention(
    pattern: Float[Tensor, "batch head seq seq"], length: int
) -> Float[Tensor, "batch head n_out n_in"]:
    # Position length+1+i (MID, then y1..) predicts y_{i+1}; inputs sit at 1..length.
    queries = slice(length + 1, 2 * length + 1)
    return pattern[:, :, queries, 1 : length + 1]


def _copy_rate(
    attention: Float[Tensor, "batch head n_out n_in"], tokens: Int[Tensor, "batch seq"], length: int
) -> Float[Tensor, " head"]:
    inputs = tokens[:, 1 : length + 1]
    emitted = tokens[:, length + 2 :]
    top = attention.argmax(dim=-1)  # batch head n_out
    landed_on = inputs.gather(1, top.flatten(1)).view_as(top)
    return (landed_on == emitted[:, None, :]).float().mean(dim=(0, 2))


def _number_ov(model: TransformerBridge, head: int, n_values: int) -> Float[Tensor, "n_in n_out"]:
    full = model.W_E @ model.OV[0, head] @ model.W_U
    return full.AB[:n_values, :n_values].detach()


def _qk_by_value(
    model: TransformerBridge, head: int, length: int, n_values: int
) -> Float[Tensor, "q_value k_value"]:
    out_pos = model.W_pos[length + 2 : 2 * length + 1].mean(0)
    in_pos = model.W_pos[1 : length + 1].mean(0)
    q = (model.W_E[:n_values] + out_pos) @ model.W_Q[0, head] + model.b_Q[0, head]
    k = (model.W_E[:n_values] + in_pos) @ model.W_K[0, head] + model.b_K[0, head]
    return (q @ k.T / model.cfg.d_head**0.5).detach()


# -- fixed cases -------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _case() -> tuple[TransformerBridge, SortFixed, Tensor, Tensor]:
    from toyhelpers.checkpoints import load_pretrained

    model = load_pretrained("sort_fixed")
    task = model.task
    tokens = task.generate(64, seed=99).tokens
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens)
    return model, task, tokens, cache["blocks.0.attn.hook_pattern"]


# -- checks ----------------------------------------------------------------------------


@exercise("output_attention")
def check_output_attention(fn) -> None:
    """fn(pattern, length) -> attention from the positions that predict y1..yn to x1..xn."""
    # A random pattern with a different length catches hard-coded positions.
    gen = torch.Generator().manual_seed(0)
    for length in (5, 3):
        pattern = torch.rand(2, 3, 2 * length + 2, 2 * length + 2, generator=gen)
        got = fn(pattern, length)
        assert_tensor(
            got,
            _output_attention(pattern, length),
            f"output_attention(pattern, {length})",
            dims="batch head n_out n_in",
        )


@exercise("copy_rate")
def check_copy_rate(fn) -> None:
    """fn(attention, tokens, length) -> per head, how often the top input holds the output."""
    _, task, tokens, pattern = _case()
    attention = _output_attention(pattern, task.length)
    got = fn(attention, tokens, task.length)
    want = _copy_rate(attention, tokens, task.length)
    if isinstance(got, Tensor) and got.shape == want.shape and not torch.allclose(got, want):
        for head in range(len(want)):
            if abs(got[head] - want[head]) > 1e-5:
                raise ExerciseFailed(
                    f"head {head}: got {got[head]:.3f}, expected {want[head]:.3f}. Compare the "
                    "token at the most-attended input position with the token emitted at that "
                    "output position (y1 is predicted from MID, y2 from y1, ...)."
                )
    assert_tensor(got, want, "copy_rate(...)", dims="head")


@exercise("number_ov")
def check_number_ov(fn) -> None:
    """fn(model, head, n_values) -> the full OV circuit between number tokens."""
    model, task, _, _ = _case()
    for head in range(model.cfg.n_heads):
        got = fn(model, head, task.n_values)
        assert_tensor(
            got,
            _number_ov(model, head, task.n_values),
            f"number_ov(model, {head})",
            dims="input_value output_value",
        )


@exercise("qk_by_value")
def check_qk_by_value(fn) -> None:
    """fn(model, head, length, n_values) -> QK scores, output-token value vs input value."""
    model, task, _, _ = _case()
    for head in range(model.cfg.n_heads):
        got = fn(model, head, task.length, task.n_values)
        want = _qk_by_value(model, head, task.length, task.n_values)
        if isinstance(got, Tensor) and got.shape == want.shape:
            if torch.allclose(got, want.T, rtol=1e-4, atol=1e-4):
                raise ExerciseFailed("rows and columns are swapped: rows are query values")
        assert_tensor(got, want, f"qk_by_value(model, {head}, ...)", dims="query_value key_value")
