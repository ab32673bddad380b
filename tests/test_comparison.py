"""The min_max task: its format, its settings' validation, its determinism."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import toyhelpers as th
from toyhelpers.tasks.comparison import MinMax


def test_registered():
    assert "min_max" in th.list_tasks()
    with pytest.raises(ValueError, match="its settings are: n_values"):
        th.get_task("min_max", length=2)


@pytest.mark.parametrize("n_values", [1, 0, 1001, 2.5, "50"])
def test_bad_n_values_say_what_is_allowed(n_values):
    with pytest.raises(ValueError, match="n_values must be an int in 2..1000"):
        th.get_task("min_max", n_values=n_values)


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


def test_same_seed_same_data_and_different_seed_different_data():
    task = th.get_task("min_max")
    a, b, c = task.generate(64, seed=7), task.generate(64, seed=7), task.generate(64, seed=8)
    assert torch.equal(a.tokens, b.tokens)
    assert not torch.equal(a.tokens, c.tokens)


def test_shipped_checkpoint_answers_fresh_pairs():
    model = th.load_pretrained("min_max")
    assert model.task.config() == th.get_recipe("min_max").make_task().config()
    assert th.evaluate(model, model.task, n=2000, seed=31337)["accuracy"] >= 0.999
    size = sum(p.stat().st_size for p in th.checkpoints.pretrained_dir("min_max").iterdir())
    assert size < 1_000_000
