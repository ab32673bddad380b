"""The check framework: answers in a standard form, and the shared comparison helpers."""

from collections import namedtuple

import numpy as np
import pytest
import torch

from toyhelpers.checks import (
    ExerciseFailed,
    ExerciseNotAttempted,
    as_number,
    assert_number,
    assert_per_head,
    assert_tensor,
    exercise,
    hooked_activation,
    standardise,
)


def test_standardise_puts_every_answer_in_one_form():
    assert standardise(torch.ones(2, dtype=torch.float64)).dtype == torch.float32
    assert standardise(torch.ones(2, dtype=torch.int32)).dtype == torch.int64
    assert standardise(torch.ones(2, dtype=torch.bool)).dtype == torch.bool
    assert torch.equal(standardise(np.arange(3)), torch.arange(3))
    assert standardise(np.float32(0.5)) == 0.5 and isinstance(standardise(np.int64(3)), int)
    assert standardise(np.array(2.0)) == 2.0
    pair = namedtuple("Pair", "a b")(torch.ones(1, dtype=torch.float64), 3)
    assert standardise(pair).a.dtype == torch.float32 and standardise(pair).b == 3
    best = standardise(torch.tensor([[1.0, 2.0]], dtype=torch.float64).max(-1))
    assert best.values.dtype == torch.float32 and best.indices.tolist() == [1]
    assert standardise({"x": [np.float64(1.5)]}) == {"x": [1.5]}
    returns_a_hook = standardise(lambda: lambda: torch.zeros(1, dtype=torch.float16))
    assert returns_a_hook()().dtype == torch.float32


def test_a_check_sees_standard_answers_and_reports_stubs():
    seen = []

    @exercise("dtype", reference=lambda: torch.ones(2))
    def check_dtype(fn):
        seen.append(fn().dtype)

    check_dtype(lambda: torch.ones(2, dtype=torch.float64))
    assert seen == [torch.float32] and check_dtype.reference().shape == (2,)
    with pytest.raises(ExerciseNotAttempted, match="still None"):
        check_dtype(None)


@pytest.mark.parametrize("got", [0.5, np.float32(0.5), torch.tensor(0.5), torch.tensor([0.5]), 1])
def test_numbers_come_in_many_forms(got):
    assert as_number(got, "x") == pytest.approx(float(got))


@pytest.mark.parametrize("got", [[0.5], "0.5", True, torch.ones(2), None])
def test_what_is_not_a_number_is_named(got):
    with pytest.raises(ExerciseFailed, match="x should be a number, got"):
        as_number(got, "x")


def test_assert_number_says_what_was_expected():
    assert_number(1.00001, 1.0, "rate")
    with pytest.raises(ExerciseFailed, match="rate = 0.9, expected 1"):
        assert_number(0.9, 1.0, "rate")


def test_assert_tensor_accepts_lists_and_explains_known_mistakes():
    want = torch.tensor([1.0, 2.0, 3.0])
    assert_tensor([1.0, 2.0, 3.0], want, "v")
    with pytest.raises(ExerciseFailed, match="reversed"):
        assert_tensor(want.flip(0), want, "v", mistakes=[(want.flip(0), "reversed")])
    with pytest.raises(ExerciseFailed, match="v differs first at i=2: got 4.0, expected 3.0"):
        assert_tensor([1.0, 2.0, 4.0], want, "v", dims="i", mistakes=[(want.flip(0), "no")])
    with pytest.raises(ExerciseFailed, match=r"v has shape \(2,\), expected \(3,\) \[i\]"):
        assert_tensor(want[:2], want, "v", dims="i")
    with pytest.raises(ExerciseFailed, match="v should be a torch.Tensor, got str"):
        assert_tensor("abc", want, "v")


def test_assert_per_head_names_the_first_head_that_differs():
    with pytest.raises(ExerciseFailed, match="rate, head 1: got 0.500, expected 0.900. why"):
        assert_per_head([0.1, 0.5], torch.tensor([0.1, 0.9]), "rate", "why")
    # A known wrong answer gets its own explanation instead; the right one still passes.
    known = [(torch.tensor([0.1, 0.5]), "averaged over every query")]
    with pytest.raises(ExerciseFailed, match="averaged over every query"):
        assert_per_head([0.1, 0.5], torch.tensor([0.1, 0.9]), "rate", "why", mistakes=known)
    assert_per_head([0.1, 0.9], torch.tensor([0.1, 0.9]), "rate", "why", mistakes=known)


def test_hooked_activation_accepts_in_place_edits_returns_and_other_dtypes():
    from toyhelpers.checkpoints import load_pretrained

    model = load_pretrained("sort_fixed")
    tokens = model.task.generate(4, seed=0).tokens
    name = "blocks.0.attn.hook_z"

    def in_place(z, hook):
        z[:, :, 0] = 0.0

    def returned_float64(z, hook):
        out = z.double()
        out[:, :, 0] = 0.0
        return out

    for hook in (in_place, returned_float64):
        got = hooked_activation(model, tokens, name, hook, hook.__name__)
        assert got.dtype == torch.float32 and (got[:, :, 0] == 0).all()
        assert (got[:, :, 1] != 0).any()
