"""The recurrence family: the fibonacci task's format, and the checks of lesson 05."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import toyhelpers as th
from toyhelpers.families.recurrence import checks
from toyhelpers.families.recurrence.tasks import Fibonacci


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"a": 17}, r"a must be an int in 0..p-1 = 0..16"),
        ({"p": 5, "a": 7}, r"a must be an int in 0..p-1 = 0..4"),
    ],
)
def test_coefficients_must_be_below_p(settings, message):
    with pytest.raises(ValueError, match=message):
        th.get_task("fibonacci", **settings)


def test_example_is_fibonacci_mod_p():
    task = th.get_task("fibonacci", p=13, length=7)
    text = "START 1 1 2 3 5 8 0"  # 5 + 8 = 13 = 0 mod 13
    assert task.decode(task.encode(text)) == text


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
    assert toks.shape == (8, length + 1)
    assert (toks[:, 0] == task.token_id("START")).all()
    xs = toks[:, 1:]
    assert ((xs >= 0) & (xs < p)).all()
    for t in range(2, length):
        assert torch.equal(xs[:, t], (a * xs[:, t - 1] + b * xs[:, t - 2]) % p)
    assert batch.scored[:, 3:].all() and not batch.scored[:, :3].any()


def test_first_terms_cover_all_values():
    xs = th.get_task("fibonacci").generate(2000, seed=0).tokens[:, 1:3]
    assert set(xs.flatten().tolist()) == set(range(17))


def test_reference_basis_is_orthonormal():
    basis = checks._fourier_basis(17)
    assert torch.allclose(basis @ basis.T, torch.eye(17), atol=1e-5)


# -- the checks: one explained mistake each (tests/contracts/test_checks.py) -------------


def _every_query(pattern):
    return torch.stack(
        [pattern.diagonal(-d, dim1=-2, dim2=-1).mean(dim=(0, 2)) for d in range(3)], -1
    )


def _per_row(weights, basis):
    power = (basis @ weights).pow(2).sum(-1)
    return power / power.sum()


def _no_constant(weights, basis, freqs):
    rows = [r for k in freqs for r in (2 * k - 1, 2 * k)]
    return basis[rows].T @ (basis[rows] @ weights)


MISTAKES = {
    "check_attention_by_offset": (_every_query, "averaged over every query"),
    "check_fourier_basis": (
        lambda p: checks._fourier_basis(p) * p**0.5,
        "row norms should all be 1",
    ),
    "check_frequency_fractions": (_per_row, "pool cos k and sin k"),
    "check_keep_frequencies": (_no_constant, "constant direction"),
}
