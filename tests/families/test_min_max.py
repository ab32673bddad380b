"""The min_max family: the task's format and balance, and the checks of lesson 03."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import toyhelpers as th
from toyhelpers.checks import ExerciseFailed
from toyhelpers.families.min_max.checks import check_sep_attention
from toyhelpers.families.min_max.tasks import MinMax


def test_example():
    task = th.get_task("min_max", n_values=10)
    assert task.vocab == [str(v) for v in range(10)] + ["MIN", "MAX", "SEP"]
    assert task.seq_len == 5
    assert task.decode(task.encode("MAX 3 7 SEP 7")) == "MAX 3 7 SEP 7"


@settings(max_examples=40, deadline=None)
@given(n_values=st.integers(2, 300), seed=st.integers(0, 2**31))
def test_format(n_values, seed):
    task = MinMax(n_values)
    batch = task.generate(64, seed=seed)
    op, a, b, sep, answer = batch.tokens.T
    assert batch.tokens.shape == (64, 5)
    assert ((op == task.token_id("MIN")) | (op == task.token_id("MAX"))).all()
    assert (sep == task.token_id("SEP")).all()
    assert ((a < n_values) & (b < n_values) & (a >= 0) & (b >= 0)).all()
    want = torch.where(op == task.token_id("MAX"), torch.maximum(a, b), torch.minimum(a, b))
    assert torch.equal(answer, want)
    assert batch.scored[:, 4].all() and not batch.scored[:, :4].any()


def test_both_operations_and_ties_occur():
    task = th.get_task("min_max", n_values=5)
    tokens = task.generate(2000, seed=0).tokens
    is_max = (tokens[:, 0] == task.token_id("MAX")).float().mean()
    assert 0.45 < is_max < 0.55
    assert (tokens[:, 1] == tokens[:, 2]).any()


# -- the checks: one explained mistake each (tests/contracts/test_checks.py) -------------


def _op_ramp_without_position(model, n_values):
    ops = model.W_E[n_values : n_values + 2]
    return (ops @ model.OV[0, 0] @ model.W_U).AB[:, :n_values].detach()


def _unhooked_logits(model, tokens):
    with torch.no_grad():
        return model(tokens)


MISTAKES = {
    "check_sep_attention": (lambda pattern: pattern[:, 0, 4, :4], "answer position"),
    "check_op_ramp": (_op_ramp_without_position, "positional embedding is missing"),
    "check_logits_without_op_value": (_unhooked_logits, "unchanged"),
}


def test_swapped_sep_attention_is_explained():
    with pytest.raises(ExerciseFailed, match="swapped"):
        check_sep_attention(lambda p: p[:, 0, :4, 3])
