"""Checks for 03_min_max: each compares the learner's function with a reference."""

from __future__ import annotations

import torch
from jaxtyping import Float, Int
from torch import Tensor
from transformer_lens.model_bridge import TransformerBridge

from toyhelpers.checks import ExerciseFailed, assert_tensor, exercise, pretrained_case

SEP_POS = 3

# -- references ------------------------------------------------------------------------


def _sep_attention(pattern: Float[Tensor, "batch head seq seq"]) -> Float[Tensor, "batch src"]:
    return pattern[:, 0, SEP_POS, : SEP_POS + 1]


def _op_ramp(model: TransformerBridge, n_values: int) -> Float[Tensor, "op n_values"]:
    ops = model.W_E[n_values : n_values + 2] + model.W_pos[0]
    return (ops @ model.OV[0, 0] @ model.W_U).AB[:, :n_values].detach()


def _logits_without_op_value(
    model: TransformerBridge, tokens: Int[Tensor, "batch seq"]
) -> Float[Tensor, "batch seq d_vocab"]:
    def hook(v: Tensor, hook: object) -> Tensor:
        v = v.clone()
        v[:, 0] = 0.0
        return v

    with torch.no_grad():
        return model.run_with_hooks(tokens, fwd_hooks=[("blocks.0.attn.hook_v", hook)])


# -- fixed cases -------------------------------------------------------------------------


# -- checks ----------------------------------------------------------------------------


@exercise("sep_attention", reference=_sep_attention)
def check_sep_attention(fn) -> None:
    """fn(pattern) -> attention from SEP to OP, a, b and SEP itself, shape [batch 4]."""
    gen = torch.Generator().manual_seed(0)
    pattern = torch.rand(6, 1, 5, 5, generator=gen).tril()
    pattern = pattern / pattern.sum(-1, keepdim=True)
    got = fn(pattern)
    want = _sep_attention(pattern)
    if isinstance(got, Tensor) and got.shape == want.shape:
        if torch.allclose(got, pattern[:, 0, SEP_POS + 1, :4]):
            raise ExerciseFailed(
                "you took the row of the answer position (4); the answer is predicted from SEP "
                "(position 3)"
            )
        if torch.allclose(got, pattern[:, 0, :4, SEP_POS]):
            raise ExerciseFailed("rows and columns are swapped: the query (SEP) is the row")
    assert_tensor(got, want, "sep_attention(pattern)", dims="batch src")


@exercise("op_ramp", reference=_op_ramp)
def check_op_ramp(fn) -> None:
    """fn(model, n_values) -> the number logits MIN and MAX add through the OV circuit."""
    model = pretrained_case("min_max").model
    n_values = model.task.n_values
    got = fn(model, n_values)
    want = _op_ramp(model, n_values)
    if isinstance(got, Tensor) and got.shape == want.shape and not torch.allclose(got, want):
        no_pos = (model.W_E[n_values : n_values + 2] @ model.OV[0, 0] @ model.W_U).AB
        if torch.allclose(got, no_pos[:, :n_values], rtol=1e-4, atol=1e-3):
            raise ExerciseFailed(
                "the positional embedding is missing: the head reads W_E[op] + W_pos[0]"
            )
    assert_tensor(got, want, "op_ramp(model, n_values)", dims="op value")


@exercise("logits_without_op_value", reference=_logits_without_op_value)
def check_logits_without_op_value(fn) -> None:
    """fn(model, tokens) -> logits with the value vector at position 0 (OP) zeroed."""
    case = pretrained_case("min_max")
    model, tokens = case.model, case.tokens
    got = fn(model, tokens)
    want = _logits_without_op_value(model, tokens)
    if isinstance(got, Tensor) and got.shape == want.shape:
        with torch.no_grad():
            clean = model(tokens)
        if torch.allclose(got, clean, atol=1e-4):
            raise ExerciseFailed("the logits are unchanged: is the hook attached and returning v?")
    assert_tensor(
        got.detach() if isinstance(got, Tensor) else got,
        want,
        "logits_without_op_value(model, tokens)",
        dims="batch pos d_vocab",
    )
