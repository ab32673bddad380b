"""The fibonacci task (problem 05), its shipped model, and the checks of its exercises."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import toyhelpers as th
from toyhelpers.checks import ExerciseFailed, ExerciseNotAttempted
from toyhelpers.exercises import recurrence as ex
from toyhelpers.tasks.recurrence import Fibonacci


def test_fibonacci_is_listed():
    assert "fibonacci" in th.list_tasks()


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"p": 1}, "p must be an int in 2..1000"),
        ({"p": 17.0}, "p must be an int"),
        ({"length": 2}, "length must be an int in 3..64"),
        ({"length": 65}, "length must be an int in 3..64"),
        ({"a": 17}, r"a must be an int in 0..p-1 = 0..16"),
        ({"b": -1}, r"b must be an int in 0..p-1"),
        ({"p": 5, "a": 7}, r"a must be an int in 0..p-1 = 0..4"),
    ],
)
def test_bad_settings_say_what_is_allowed(settings, message):
    with pytest.raises(ValueError, match=message):
        th.get_task("fibonacci", **settings)


def test_example_is_fibonacci_mod_p():
    task = th.get_task("fibonacci", p=13, length=7)
    text = "START 1 1 2 3 5 8 0"  # 5 + 8 = 13 = 0 mod 13
    assert task.decode(task.encode(text)) == text
    batch = task.generate(1, seed=0)
    assert batch.tokens.shape == (1, 8)


@settings(max_examples=40, deadline=None)
@given(
    p=st.integers(2, 60),
    length=st.integers(3, 20),
    a=st.integers(0, 59),
    b=st.integers(0, 59),
    seed=st.integers(0, 2**31),
)
def test_recurrence_format(p, length, a, b, seed):
    a, b = a % p, b % p
    task = Fibonacci(p, length, a, b)
    batch = task.generate(8, seed=seed)
    toks = batch.tokens
    assert toks.shape == (8, task.seq_len) == (8, length + 1)
    assert (toks[:, 0] == task.token_id("START")).all()
    xs = toks[:, 1:]
    assert ((xs >= 0) & (xs < p)).all()
    for t in range(2, length):
        assert torch.equal(xs[:, t], (a * xs[:, t - 1] + b * xs[:, t - 2]) % p)
    assert batch.scored[:, 3:].all() and not batch.scored[:, :3].any()


def test_same_seed_same_data_and_different_seed_different_data():
    task = th.get_task("fibonacci")
    a, b, c = task.generate(64, seed=7), task.generate(64, seed=7), task.generate(64, seed=8)
    assert torch.equal(a.tokens, b.tokens)
    assert not torch.equal(a.tokens, c.tokens)


def test_first_terms_cover_all_values():
    xs = th.get_task("fibonacci").generate(2000, seed=0).tokens[:, 1:3]
    assert set(xs.flatten().tolist()) == set(range(17))


def test_shipped_fibonacci_meets_its_target_on_fresh_data():
    model = th.load_pretrained("fibonacci")
    metrics = th.evaluate(model, model.task, n=2000, seed=777)
    assert metrics["token_accuracy"] >= 0.99
    size = sum(p.stat().st_size for p in th.checkpoints.pretrained_dir("fibonacci").iterdir())
    assert size < 1_000_000


# -- the exercise checks -----------------------------------------------------------------


def test_reference_answers_pass(capsys):
    ex.check_attention_by_offset(ex._attention_by_offset)
    ex.check_fourier_basis(ex._fourier_basis)
    ex.check_frequency_fractions(ex._frequency_fractions)
    ex.check_keep_frequencies(ex._keep_frequencies)
    assert capsys.readouterr().out.count("check passed") == 4


def test_reference_basis_is_orthonormal():
    basis = ex._fourier_basis(17)
    assert torch.allclose(basis @ basis.T, torch.eye(17), atol=1e-5)


def test_stubs_are_not_attempted():
    def stub(*args):
        raise NotImplementedError("exercise: write this part")

    for check in (ex.check_attention_by_offset, ex.check_fourier_basis):
        with pytest.raises(ExerciseNotAttempted):
            check(stub)
    with pytest.raises(ExerciseNotAttempted):
        ex.check_keep_frequencies(None)


def test_averaging_every_query_is_explained():
    def every_query(pattern):
        return torch.stack(
            [pattern.diagonal(-d, dim1=-2, dim2=-1).mean(dim=(0, 2)) for d in range(3)], -1
        )

    with pytest.raises(ExerciseFailed, match="averaged over every query"):
        ex.check_attention_by_offset(every_query)


def test_unnormalised_basis_is_explained():
    def raw(p):
        return ex._fourier_basis(p) * p**0.5

    with pytest.raises(ExerciseFailed, match="row norms should all be 1"):
        ex.check_fourier_basis(raw)


def test_unpooled_frequencies_are_explained():
    def per_row(weights, basis):
        power = (basis @ weights).pow(2).sum(-1)
        return power / power.sum()

    with pytest.raises(ExerciseFailed, match="pool cos k and sin k"):
        ex.check_frequency_fractions(per_row)


def test_dropping_the_constant_is_explained():
    def no_constant(weights, basis, freqs):
        rows = [r for k in freqs for r in (2 * k - 1, 2 * k)]
        return basis[rows].T @ (basis[rows] @ weights)

    with pytest.raises(ExerciseFailed, match="constant direction"):
        ex.check_keep_frequencies(no_constant)
