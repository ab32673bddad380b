"""The mod_add_mlp and mod_sub_transformer checks accept the reference, reject stubs and
common mistakes with a diagnosis."""

import math

import pytest
import torch

from toyhelpers.checks import ExerciseFailed, ExerciseNotAttempted
from toyhelpers.exercises import mod_add_mlp as mlp
from toyhelpers.exercises import mod_sub_transformer as sub


def stub(*args):
    raise NotImplementedError("exercise: write this part")


def test_mod_add_mlp_reference_answers_pass(capsys):
    mlp.check_input_frequency_fractions(mlp._input_frequency_fractions)
    mlp.check_neuron_frequencies(mlp._neuron_frequencies)
    mlp.check_frequencies_covering(mlp._frequencies_covering)
    assert capsys.readouterr().out.count("check passed") == 3


def test_mod_sub_reference_answers_pass(capsys):
    sub.check_wave_coefficients(sub._wave_coefficients)
    sub.check_wave_share(sub._wave_share)
    sub.check_first_step_reaching(sub._first_step_reaching)
    assert capsys.readouterr().out.count("check passed") == 3


@pytest.mark.parametrize(
    "check",
    [
        mlp.check_input_frequency_fractions,
        mlp.check_neuron_frequencies,
        mlp.check_frequencies_covering,
        sub.check_wave_coefficients,
        sub.check_wave_share,
        sub.check_first_step_reaching,
    ],
)
def test_stubs_are_not_attempted(check):
    with pytest.raises(ExerciseNotAttempted):
        check(stub)
    with pytest.raises(ExerciseNotAttempted):
        check(None)


def test_planted_waves_are_found_by_the_references():
    W_in = mlp._planted_weights(31, 40, [4, 11], seed=0)
    fractions = mlp._input_frequency_fractions(W_in, 31)
    assert fractions[:, [4, 11]].sum(-1).min() > 0.5
    freq, share = mlp._neuron_frequencies(W_in, 31)
    assert set(freq.tolist()) == {4, 11} and share.min() > 0.3


def test_input_fractions_with_the_constant_are_explained():
    def with_constant(W_in, p):
        rows = []
        for half in (W_in[:p], W_in[p:]):
            power = mlp._power_by_frequency(half).sum(-1)
            rows.append(power / power.sum())
        return torch.stack(rows).float()

    with pytest.raises(ExerciseFailed, match="constant"):
        mlp.check_input_frequency_fractions(with_constant)


def test_input_fractions_normalised_jointly_are_explained():
    def joint(W_in, p):
        both = mlp._input_frequency_fractions(W_in, p)
        return both / both.sum()

    with pytest.raises(ExerciseFailed, match="each row should sum to 1"):
        mlp.check_input_frequency_fractions(joint)


def test_input_fractions_with_swapped_operands_are_explained():
    with pytest.raises(ExerciseFailed, match="rows swapped"):
        mlp.check_input_frequency_fractions(
            lambda W, p: mlp._input_frequency_fractions(W, p).flip(0)
        )


def test_neuron_frequencies_from_one_operand_are_explained():
    def only_a(W_in, p):
        return mlp._neuron_frequencies(torch.cat([W_in[:p], torch.zeros_like(W_in[:p])]), p)

    with pytest.raises(ExerciseFailed, match="only operand a"):
        mlp.check_neuron_frequencies(only_a)


def test_neuron_frequencies_counting_the_constant_are_explained():
    def with_constant(W_in, p):
        power = mlp._power_by_frequency(W_in[:p]) + mlp._power_by_frequency(W_in[p:])
        best = (power / power.sum(0, keepdim=True)).max(0)
        return best.indices, best.values.float()

    with pytest.raises(ExerciseFailed, match="constant"):
        mlp.check_neuron_frequencies(with_constant)


def test_covering_one_short_is_explained():
    with pytest.raises(ExerciseFailed, match="one frequency short"):
        mlp.check_frequencies_covering(lambda s, t: mlp._frequencies_covering(s, t)[:-1])


def test_covering_counting_the_constant_is_explained():
    with pytest.raises(ExerciseFailed, match="constant"):
        mlp.check_frequencies_covering(lambda s, t: [0] + mlp._frequencies_covering(s, t))


def test_wave_coefficients_with_the_wrong_signs_are_explained():
    def swapped(coeffs, k, operation):
        return sub._wave_coefficients(coeffs, k, "add" if operation == "sub" else "sub")

    with pytest.raises(ExerciseFailed, match="'add' waves for operation 'sub'"):
        sub.check_wave_coefficients(swapped)


def test_wave_coefficients_without_the_root_two_are_explained():
    def unscaled(coeffs, k, operation):
        return sub._wave_coefficients(coeffs, k, operation) * math.sqrt(2)

    with pytest.raises(ExerciseFailed, match="√2"):
        sub.check_wave_coefficients(unscaled)


def test_wave_share_without_centring_is_explained():
    def uncentred(logits, freqs, operation):
        dirs = sub.wave_directions(logits.shape[0], freqs, operation)
        coeffs = torch.einsum("dab,abv->dv", dirs, logits)
        return (coeffs.pow(2).sum() / logits.pow(2).sum()).item()

    with pytest.raises(ExerciseFailed, match="mean over the grid"):
        sub.check_wave_share(uncentred)


def test_wave_share_separates_sub_from_add():
    logits = sub._grid(13, [2, 5], "sub", seed=3)
    assert sub._wave_share(logits, [2, 5], "sub") > 0.5
    assert sub._wave_share(logits, [2, 5], "add") < 0.05


def test_first_step_as_an_index_is_explained():
    def index(history, metric, threshold):
        return next((i for i, v in enumerate(history[metric]) if v >= threshold), None)

    with pytest.raises(ExerciseFailed, match="index"):
        sub.check_first_step_reaching(index)
