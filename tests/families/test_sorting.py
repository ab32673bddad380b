"""The sorting family: sort_fixed and sort_variable, and the checks of lessons 00-02."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import toyhelpers as th
from toyhelpers.checks import ExerciseFailed
from toyhelpers.families.sorting import checks
from toyhelpers.families.sorting.tasks import SortFixed, SortVariable

# -- the tasks --------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    length=st.integers(1, 20),
    n_values=st.integers(2, 200),
    distinct=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_sort_fixed_format(length, n_values, distinct, seed):
    if distinct and length > n_values:
        with pytest.raises(ValueError, match=f"needs n_values >= {length}"):
            SortFixed(length, n_values, distinct)
        return
    task = SortFixed(length, n_values, distinct)
    batch = task.generate(16, seed=seed)
    toks = batch.tokens
    assert toks.shape == (16, 2 * length + 2)
    assert (toks[:, 0] == task.token_id("START")).all()
    assert (toks[:, length + 1] == task.token_id("MID")).all()
    xs, ys = toks[:, 1 : length + 1], toks[:, length + 2 :]
    assert (xs < n_values).all() and (xs >= 0).all()
    assert torch.equal(ys, xs.sort(dim=-1).values)
    if distinct:
        assert all(len(set(row.tolist())) == length for row in xs)
    assert batch.scored[:, length + 2 :].all() and not batch.scored[:, : length + 2].any()


def test_sort_fixed_has_duplicates_by_default():
    xs = th.get_task("sort_fixed").generate(2000, seed=0).tokens[:, 1:6]
    has_dup = torch.tensor([len(set(r.tolist())) < 5 for r in xs]).float().mean()
    # P(some duplicate among 5 draws from 50) = 1 - 50*49*48*47*46/50**5, about 0.19
    assert 0.15 < has_dup < 0.23


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"min_length": 6}, r"min_length must be an int in 1..max_length=5"),
        ({"pad_length": 4}, r"pad_length must be None or an int in max_length=5..64"),
    ],
)
def test_sort_variable_settings_that_depend_on_each_other(settings, message):
    with pytest.raises(ValueError, match=message):
        th.get_task("sort_variable", **settings)


def test_sort_variable_example_layout():
    task = th.get_task("sort_variable", max_length=3, n_values=10)
    assert task.vocab[-4:] == ["START", "MID", "EOS", "PAD"]
    assert task.seq_len == 9
    batch = task.generate(200, seed=0)
    texts = {task.decode(t) for t in batch.tokens}
    assert any(t.endswith("EOS PAD PAD PAD PAD") for t in texts)  # a list of one
    one = next(i for i, t in enumerate(batch.tokens) if task.decode(t).split()[2] == "MID")
    assert batch.scored[one].nonzero().flatten().tolist() == [3, 4]


@settings(max_examples=40, deadline=None)
@given(
    max_length=st.integers(1, 12),
    min_length=st.integers(1, 12),
    extra=st.integers(0, 4),
    n_values=st.integers(2, 100),
    seed=st.integers(0, 2**31),
)
def test_sort_variable_format(max_length, min_length, extra, n_values, seed):
    if min_length > max_length:
        with pytest.raises(ValueError):
            SortVariable(max_length, n_values, min_length)
        return
    task = SortVariable(max_length, n_values, min_length, max_length + extra)
    batch = task.generate(32, seed=seed)
    start, mid, eos, pad = (task.token_id(t) for t in ("START", "MID", "EOS", "PAD"))
    assert batch.tokens.shape == (32, 2 * (max_length + extra) + 3)
    lengths = task.list_lengths(batch.tokens)
    assert ((lengths >= min_length) & (lengths <= max_length)).all()
    for row, scored, k in zip(batch.tokens.tolist(), batch.scored, lengths.tolist(), strict=True):
        xs, ys = row[1 : k + 1], row[k + 2 : 2 * k + 2]
        assert row[0] == start and row[k + 1] == mid and row[2 * k + 2] == eos
        assert all(0 <= x < n_values for x in xs) and ys == sorted(xs)
        assert all(t == pad for t in row[2 * k + 3 :])
        assert scored.nonzero().flatten().tolist() == list(range(k + 2, 2 * k + 3))


def test_sort_variable_draws_every_length_and_duplicates():
    task = th.get_task("sort_variable")
    lengths = task.list_lengths(task.generate(2000, seed=1).tokens)
    counts = torch.bincount(lengths, minlength=6)[1:]
    assert (counts > 300).all()
    xs = th.get_task("sort_variable", min_length=5).generate(500, seed=2).tokens[:, 1:6]
    assert any(len(set(r.tolist())) < 5 for r in xs)


def test_pad_length_only_adds_padding():
    short = th.get_task("sort_variable", max_length=4).generate(16, seed=3)
    long = th.get_task("sort_variable", max_length=4, pad_length=6).generate(16, seed=3)
    assert torch.equal(long.tokens[:, : short.tokens.shape[1]], short.tokens)
    assert not long.scored[:, short.tokens.shape[1] :].any()


# -- the checks: one explained mistake each (tests/contracts/test_checks.py) -------------


def _next_value_at_least(tokens, length, n_values):
    inputs = tokens[:, 1 : length + 1]
    last = tokens[:, length + 1 : 2 * length + 2]
    last = torch.where(last >= n_values, -1, last)
    ok = inputs[:, None, :] >= last[:, :, None]
    return torch.where(ok, inputs[:, None, :], n_values).min(-1).values


def _zero_position_instead(head):
    def hook(z, hook):
        z = z.clone()
        z[:, head] = 0.0
        return z

    return hook


MISTAKES = {
    "check_scored_targets": (
        lambda batch: batch.tokens[:, -3:],
        "count them from batch.scored rather than slicing a fixed number",
    ),
    "check_attention_to_previous": (
        lambda pattern: pattern.diagonal(dim1=-2, dim2=-1).mean(dim=(0, -1)),
        "attention to itself",
    ),
    "check_zero_ablate_head_hook": (_zero_position_instead, "head is the third axis"),
    "check_output_attention": (
        lambda pattern, length: pattern[:, :, length + 2 : 2 * length + 2, 1 : length + 1],
        "differs first at",
    ),
    "check_copy_rate": (
        lambda attention, tokens, length: attention.mean(dim=(0, 2, 3)),
        "head 0",
    ),
    "check_number_ov": (
        lambda model, head, n_values: torch.zeros(n_values, n_values),
        "differs first at",
    ),
    "check_qk_by_value": (
        lambda model, head, length, n_values: checks._qk_by_value(model, head, length, n_values).T,
        "swapped",
    ),
    "check_rule_next_value": (_next_value_at_least, "strictly greater than the last output"),
    "check_top_attended_token": (
        lambda pattern, tokens, length: checks._top_attended_token(pattern, tokens, length)[
            ..., :-1
        ],
        r"length \+ 1",
    ),
    "check_accuracy_by_length": (
        lambda model, lengths: torch.full((len(lengths),), 0.5),
        "min_length = max_length = k",
    ),
}


def test_more_scored_target_mistakes_are_explained():
    with pytest.raises(ExerciseFailed, match="a bool tensor, a mask"):
        checks.check_scored_targets(lambda batch: batch.scored)
    with pytest.raises(ExerciseFailed, match="one row per sequence"):
        checks.check_scored_targets(lambda batch: batch.tokens[batch.scored])


def test_hard_coded_length_is_caught():
    def fixed_length(pattern, length):
        return pattern[:, :, 6:11, 1:6]  # only right for length 5

    with pytest.raises(ExerciseFailed, match="shape"):
        checks.check_output_attention(fixed_length)
