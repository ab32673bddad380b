"""The sort_variable task: its format, its settings' validation, its determinism."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import toyhelpers as th
from toyhelpers.tasks.sorting import SortVariable


def test_registered_with_its_settings():
    assert "sort_variable" in th.list_tasks()
    with pytest.raises(ValueError, match="its settings are: max_length, n_values, min_length"):
        th.get_task("sort_variable", length=4)


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"max_length": 0}, "max_length must be an int in 1..64"),
        ({"max_length": 65}, "max_length must be an int in 1..64"),
        ({"max_length": 3.0}, "max_length must be an int"),
        ({"min_length": 0}, r"min_length must be an int in 1..max_length=5"),
        ({"min_length": 6}, r"min_length must be an int in 1..max_length=5"),
        ({"n_values": 1}, "n_values must be an int in 2..1000"),
        ({"pad_length": 4}, r"pad_length must be None or an int in max_length=5..64"),
        ({"pad_length": 65}, r"pad_length must be None or an int in max_length=5..64"),
    ],
)
def test_bad_settings_say_what_is_allowed(settings, message):
    with pytest.raises(ValueError, match=message):
        th.get_task("sort_variable", **settings)


def test_example_layout():
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
def test_format(max_length, min_length, extra, n_values, seed):
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


def test_all_lengths_appear_and_duplicates_are_allowed():
    task = th.get_task("sort_variable")
    lengths = task.list_lengths(task.generate(2000, seed=1).tokens)
    counts = torch.bincount(lengths, minlength=6)[1:]
    assert (counts > 300).all()
    xs = th.get_task("sort_variable", min_length=5).generate(500, seed=2).tokens[:, 1:6]
    assert any(len(set(r.tolist())) < 5 for r in xs)


def test_same_seed_same_data_and_different_seed_different_data():
    task = th.get_task("sort_variable")
    a, b, c = task.generate(64, seed=7), task.generate(64, seed=7), task.generate(64, seed=8)
    assert torch.equal(a.tokens, b.tokens) and torch.equal(a.scored, b.scored)
    assert not torch.equal(a.tokens, c.tokens)


def test_pad_length_only_adds_padding():
    short = th.get_task("sort_variable", max_length=4).generate(16, seed=3)
    long = th.get_task("sort_variable", max_length=4, pad_length=6).generate(16, seed=3)
    assert torch.equal(long.tokens[:, : short.tokens.shape[1]], short.tokens)
    assert not long.scored[:, short.tokens.shape[1] :].any()


def test_shipped_checkpoint_sorts_fresh_lists():
    model = th.load_pretrained("sort_variable")
    assert model.task.config() == th.get_recipe("sort_variable").make_task().config()
    assert th.evaluate(model, model.task, n=2000, seed=31337)["accuracy"] >= 0.99
    size = sum(p.stat().st_size for p in th.checkpoints.pretrained_dir("sort_variable").iterdir())
    assert size < 1_000_000
