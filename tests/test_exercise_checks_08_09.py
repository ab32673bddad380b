"""The gelu_vs_relu and weights_and_neurons checks accept the reference, reject stubs and
common mistakes with a diagnosis."""

import pytest
import torch

from toyhelpers.checks import ExerciseFailed, ExerciseNotAttempted
from toyhelpers.exercises import gelu_vs_relu as gr
from toyhelpers.exercises import weights_and_neurons as wn
from toyhelpers.fourier import component_frequency, to_fourier_2d


def stub(*args):
    raise NotImplementedError("exercise: write this part")


def test_reference_answers_pass(capsys):
    gr.check_participation_ratio(gr._participation_ratio)
    gr.check_neuron_sparsity(gr._neuron_sparsity)
    wn.check_mean_ablate_head(wn._mean_ablate_head)
    wn.check_best_frequency(wn._best_frequency)
    assert capsys.readouterr().out.count("check passed") == 4


@pytest.mark.parametrize(
    "check",
    [
        gr.check_participation_ratio,
        gr.check_neuron_sparsity,
        wn.check_mean_ablate_head,
        wn.check_best_frequency,
    ],
)
def test_stubs_are_not_attempted(check):
    with pytest.raises(ExerciseNotAttempted):
        check(stub)
    with pytest.raises(ExerciseNotAttempted):
        check(None)


def test_participation_ratio_mistakes_are_explained():
    def unnormalised(shares):
        return shares.pow(2).sum(-1)

    def inverse_only(shares):
        return 1 / shares.pow(2).sum(-1)

    def wrong_dim(shares):
        return shares.sum(0).pow(2) / shares.pow(2).sum(0)

    with pytest.raises(ExerciseFailed, match="one frequency must score 1"):
        gr.check_participation_ratio(unnormalised)
    with pytest.raises(ExerciseFailed, match="own total"):
        gr.check_participation_ratio(inverse_only)
    with pytest.raises(ExerciseFailed, match="last dim"):
        gr.check_participation_ratio(wrong_dim)


def test_neuron_sparsity_mistakes_are_explained():
    def signed(acts, eps):
        near = acts <= eps
        return near.reshape(-1, acts.shape[-1]).all(
            0
        ).float().mean().item(), near.float().mean().item()

    def per_input(acts, eps):
        near = acts.abs() <= eps
        return near.reshape(-1, acts.shape[-1]).all(
            -1
        ).float().mean().item(), near.float().mean().item()

    with pytest.raises(ExerciseFailed, match="negative"):
        gr.check_neuron_sparsity(signed)
    with pytest.raises(ExerciseFailed, match="every input"):
        gr.check_neuron_sparsity(per_input)


def test_mean_ablate_head_mistakes_are_explained():
    def over_positions(z, head):
        out = z.clone()
        out[:, :, head] = z[:, :, head].mean((0, 1), keepdim=True)
        return out

    def zeroed(z, head):
        out = z.clone()
        out[:, :, head] = 0
        return out

    def in_place(z, head):
        z[:, :, head] = z[:, :, head].mean(0, keepdim=True)
        return z

    def every_head(z, head):
        return z.mean(0, keepdim=True).expand_as(z).clone()

    with pytest.raises(ExerciseFailed, match="batch only"):
        wn.check_mean_ablate_head(over_positions)
    with pytest.raises(ExerciseFailed, match="zero-ablation"):
        wn.check_mean_ablate_head(zeroed)
    with pytest.raises(ExerciseFailed, match="in place"):
        wn.check_mean_ablate_head(in_place)
    with pytest.raises(ExerciseFailed, match="other heads"):
        wn.check_mean_ablate_head(every_head)


def _shares(acts, include_constant=False, linear=True):
    power = to_fourier_2d(acts).pow(2)
    comp = component_frequency(acts.shape[0])
    fa, fb = comp[:, None], comp[None, :]
    total = power.sum((0, 1)) - (0 if include_constant else power[0, 0])
    out = torch.zeros(acts.shape[-1], acts.shape[0] // 2 + 1)
    for k in range(1, acts.shape[0] // 2 + 1):
        terms = (fa == k) & (fb == k)
        if linear:
            terms = terms | ((fa == k) & (fb == 0)) | ((fa == 0) & (fb == k))
        out[:, k] = power[terms].sum(0) / total
    return out


def test_best_frequency_mistakes_are_explained():
    def with_constant(acts):
        best = _shares(acts, include_constant=True).max(-1)
        return best.indices, best.values

    def products_only(acts):
        # the right best frequency, but only the product terms counted in its share
        k = _shares(acts).argmax(-1)
        return k, _shares(acts, linear=False).gather(-1, k[:, None])[:, 0]

    with pytest.raises(ExerciseFailed, match="constant term"):
        wn.check_best_frequency(with_constant)
    with pytest.raises(ExerciseFailed, match="alone"):
        wn.check_best_frequency(products_only)
