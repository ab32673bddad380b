"""The sort_variable and min_max checks accept the reference, reject stubs and common
mistakes with a diagnosis."""

import pytest
import torch

from toyhelpers.checks import ExerciseFailed, ExerciseNotAttempted
from toyhelpers.exercises import min_max as mm
from toyhelpers.exercises import sort_variable as sv


def stub(*args):
    raise NotImplementedError("exercise: write this part")


def test_sort_variable_reference_answers_pass(capsys):
    sv.check_rule_next_value(sv._rule_next_value)
    sv.check_top_attended_token(sv._top_attended_token)
    sv.check_accuracy_by_length(sv._accuracy_by_length)
    assert capsys.readouterr().out.count("check passed") == 3


def test_min_max_reference_answers_pass(capsys):
    mm.check_sep_attention(mm._sep_attention)
    mm.check_op_ramp(mm._op_ramp)
    mm.check_logits_without_op_value(mm._logits_without_op_value)
    assert capsys.readouterr().out.count("check passed") == 3


@pytest.mark.parametrize(
    "check",
    [
        sv.check_rule_next_value,
        sv.check_top_attended_token,
        sv.check_accuracy_by_length,
        mm.check_sep_attention,
        mm.check_op_ramp,
        mm.check_logits_without_op_value,
    ],
)
def test_stubs_are_not_attempted(check):
    with pytest.raises(ExerciseNotAttempted):
        check(stub)
    with pytest.raises(ExerciseNotAttempted):
        check(None)


def test_rule_with_greater_or_equal_is_explained():
    def at_least(tokens, length, n_values):
        inputs = tokens[:, 1 : length + 1]
        last = tokens[:, length + 1 : 2 * length + 2]
        last = torch.where(last >= n_values, -1, last)
        ok = inputs[:, None, :] >= last[:, :, None]
        return torch.where(ok, inputs[:, None, :], n_values).min(-1).values

    with pytest.raises(ExerciseFailed, match="strictly greater than the last output"):
        sv.check_rule_next_value(at_least)


def test_top_attended_token_without_the_eos_query_is_explained():
    def one_short(pattern, tokens, length):
        return sv._top_attended_token(pattern, tokens, length)[..., :-1]

    with pytest.raises(ExerciseFailed, match="length \\+ 1"):
        sv.check_top_attended_token(one_short)


def test_accuracy_over_mixed_lengths_is_caught():
    def mixed(model, lengths):
        return torch.full((len(lengths),), 0.5)

    with pytest.raises(ExerciseFailed, match="min_length = max_length = k"):
        sv.check_accuracy_by_length(mixed)


def test_sep_attention_mistakes_are_explained():
    with pytest.raises(ExerciseFailed, match="answer position"):
        mm.check_sep_attention(lambda p: p[:, 0, 4, :4])
    with pytest.raises(ExerciseFailed, match="swapped"):
        mm.check_sep_attention(lambda p: p[:, 0, :4, 3])


def test_op_ramp_without_position_is_explained():
    def no_pos(model, n_values):
        ops = model.W_E[n_values : n_values + 2]
        return (ops @ model.OV[0, 0] @ model.W_U).AB[:, :n_values].detach()

    with pytest.raises(ExerciseFailed, match="positional embedding is missing"):
        mm.check_op_ramp(no_pos)


def test_unhooked_logits_are_explained():
    def clean(model, tokens):
        with torch.no_grad():
            return model(tokens)

    with pytest.raises(ExerciseFailed, match="unchanged"):
        mm.check_logits_without_op_value(clean)
