import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import toyhelpers as th
from toyhelpers.tasks.sorting import SortFixed


def test_list_tasks_has_sort_fixed():
    assert "sort_fixed" in th.list_tasks()


def test_unknown_task_lists_the_available_ones():
    with pytest.raises(ValueError, match="available tasks: .*sort_fixed"):
        th.get_task("sort_fixd")


def test_unknown_setting_lists_the_allowed_ones():
    with pytest.raises(ValueError, match="its settings are: length, n_values, distinct"):
        th.get_task("sort_fixed", size=4)


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"length": 0}, "length must be an int in 1..64"),
        ({"length": 65}, "length must be an int in 1..64"),
        ({"length": 2.5}, "length must be an int"),
        ({"n_values": 1}, "n_values must be an int in 2..1000"),
        ({"length": 12, "n_values": 10, "distinct": True}, "needs n_values >= 12"),
    ],
)
def test_bad_settings_say_what_is_allowed(settings, message):
    with pytest.raises(ValueError, match=message):
        th.get_task("sort_fixed", **settings)


def test_bad_generate_arguments():
    task = th.get_task("sort_fixed")
    with pytest.raises(ValueError, match="n must be a positive int"):
        task.generate(0)
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        task.generate(4, seed=-1)


@settings(max_examples=40, deadline=None)
@given(
    length=st.integers(1, 20),
    n_values=st.integers(2, 200),
    distinct=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_sort_fixed_format(length, n_values, distinct, seed):
    if distinct and length > n_values:
        with pytest.raises(ValueError):
            SortFixed(length, n_values, distinct)
        return
    task = SortFixed(length, n_values, distinct)
    batch = task.generate(16, seed=seed)
    toks = batch.tokens
    assert toks.shape == (16, task.seq_len) == (16, 2 * length + 2)
    assert (toks[:, 0] == task.token_id("START")).all()
    assert (toks[:, length + 1] == task.token_id("MID")).all()
    xs, ys = toks[:, 1 : length + 1], toks[:, length + 2 :]
    assert (xs < n_values).all() and (xs >= 0).all()
    assert torch.equal(ys, xs.sort(dim=-1).values)
    if distinct:
        assert all(len(set(row.tolist())) == length for row in xs)
    assert batch.scored[:, length + 2 :].all() and not batch.scored[:, : length + 2].any()


def test_same_seed_same_data_and_different_seed_different_data():
    task = th.get_task("sort_fixed")
    a, b, c = task.generate(64, seed=7), task.generate(64, seed=7), task.generate(64, seed=8)
    assert torch.equal(a.tokens, b.tokens)
    assert not torch.equal(a.tokens, c.tokens)


def test_encode_decode_round_trip_and_errors():
    task = th.get_task("sort_fixed", length=3)
    text = "START 4 9 2 MID 2 4 9"
    ids = task.encode(text)
    assert task.decode(ids) == text
    assert task.vocab[int(ids[0])] == "START"
    with pytest.raises(ValueError, match="unknown token"):
        task.encode("START 50 MID")
    with pytest.raises(ValueError, match="outside 0..51"):
        task.decode([0, 99])


def test_duplicates_appear_by_default():
    xs = th.get_task("sort_fixed").generate(2000, seed=0).tokens[:, 1:6]
    has_dup = torch.tensor([len(set(r.tolist())) < 5 for r in xs]).float().mean()
    # P(some duplicate among 5 draws from 50) = 1 - 50*49*48*47*46/50**5, about 0.19
    assert 0.15 < has_dup < 0.23
