"""The sort_fixed checks accept the reference, reject stubs and common mistakes."""

import pytest
import torch

from toyhelpers.checks import ExerciseFailed, ExerciseNotAttempted
from toyhelpers.exercises import sort_fixed as ex


def test_reference_answers_pass(capsys):
    ex.check_output_attention(ex._output_attention)
    ex.check_copy_rate(ex._copy_rate)
    ex.check_number_ov(ex._number_ov)
    ex.check_qk_by_value(ex._qk_by_value)
    assert capsys.readouterr().out.count("check passed") == 4


def test_stub_is_not_attempted():
    def stub(*args):
        raise NotImplementedError("exercise: write this part")

    with pytest.raises(ExerciseNotAttempted):
        ex.check_output_attention(stub)
    with pytest.raises(ExerciseNotAttempted):
        ex.check_copy_rate(None)


def test_hard_coded_length_is_caught():
    def fixed_length(pattern, length):
        return pattern[:, :, 6:11, 1:6]  # only right for length 5

    with pytest.raises(ExerciseFailed, match="shape"):
        ex.check_output_attention(fixed_length)


def test_off_by_one_queries_are_caught():
    def off_by_one(pattern, length):
        return pattern[:, :, length + 2 : 2 * length + 2, 1 : length + 1]

    with pytest.raises(ExerciseFailed, match="differs first at"):
        ex.check_output_attention(off_by_one)


def test_copy_rate_diagnosis_names_the_head():
    def mean_attention_instead(attention, tokens, length):
        return attention.mean(dim=(0, 2, 3))

    with pytest.raises(ExerciseFailed, match="head 0"):
        ex.check_copy_rate(mean_attention_instead)


def test_swapped_qk_is_explained():
    def swapped(model, head, length, n_values):
        return ex._qk_by_value(model, head, length, n_values).T

    with pytest.raises(ExerciseFailed, match="swapped"):
        ex.check_qk_by_value(swapped)


def test_ov_without_unembedding_fails():
    def no_unembed(model, head, n_values):
        return torch.zeros(n_values, n_values)

    with pytest.raises(ExerciseFailed):
        ex.check_number_ov(no_unembed)
