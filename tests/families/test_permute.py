"""The permute family: the task's format, and the checks of lesson 04."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import toyhelpers as th
from toyhelpers.checks import ExerciseFailed
from toyhelpers.families.permute import checks
from toyhelpers.families.permute.tasks import Permute


def test_vocabulary_keeps_values_and_positions_apart():
    task = th.get_task("permute", length=4, n_values=6)
    assert task.vocab == [*"012345", "P0", "P1", "P2", "P3", "START", "SEP"]
    assert task.token_id("3") != task.token_id("P3")


def test_example_decodes_as_documented():
    task = th.get_task("permute", length=3, n_values=10)
    text = "START 7 1 4 SEP P2 4 P0 7 P1 1"
    assert task.decode(task.encode(text)) == text


@settings(max_examples=40, deadline=None)
@given(length=st.integers(2, 16), n_values=st.integers(2, 60), seed=st.integers(0, 2**31))
def test_permute_format(length, n_values, seed):
    task = Permute(length, n_values)
    batch = task.generate(16, seed=seed)
    toks = batch.tokens
    assert toks.shape == (16, 3 * length + 2)
    assert (toks[:, 0] == task.token_id("START")).all()
    assert (toks[:, length + 1] == task.token_id("SEP")).all()
    xs = toks[:, list(task.input_positions)]
    perm = toks[:, list(task.permutation_positions)] - n_values
    ys = toks[:, list(task.output_positions)]
    assert ((xs >= 0) & (xs < n_values)).all()
    assert torch.equal(perm.sort(dim=-1).values, torch.arange(length).expand(16, -1))
    assert torch.equal(ys, xs.gather(1, perm))
    want_scored = torch.zeros(task.seq_len, dtype=torch.bool)
    want_scored[list(task.output_positions)] = True
    assert (batch.scored == want_scored).all()
    # Each scored output is predicted from the position just before it, its P token.
    assert [i - 1 for i in task.output_positions] == list(task.permutation_positions)


# -- the checks: one explained mistake each (tests/contracts/test_checks.py) -------------


def _mean_attention_on_named(attention, perm):
    named = attention.gather(-1, perm[:, None, :, None].expand(-1, attention.shape[1], -1, 1))
    return named.mean(dim=(0, 2, 3))


MISTAKES = {
    "check_routing_attention": (
        lambda pattern, length: pattern[:, :, length + 3 : 3 * length + 2 : 2, 1 : length + 1],
        "position before it",
    ),
    "check_read_permutation": (
        lambda tokens, length, n_values: tokens[:, length + 2 : 3 * length + 2 : 2],
        "subtract n_values",
    ),
    "check_routing_rate": (_mean_attention_on_named, "head 0"),
    "check_position_qk": (
        lambda model, length, n_values: checks._position_qk(model, length, n_values).T,
        "swapped",
    ),
}


def test_hard_coded_length_is_caught():
    with pytest.raises(ExerciseFailed, match="shape"):
        checks.check_routing_attention(lambda pattern, length: pattern[:, :, 7:17:2, 1:6])
