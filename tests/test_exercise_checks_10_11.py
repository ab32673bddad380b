"""The dimensionality_reduction and multitask checks accept the reference, reject stubs and
common mistakes with a diagnosis."""

import math

import pytest
import torch

from toyhelpers.checkpoints import pretrained_dir
from toyhelpers.checks import ExerciseFailed, ExerciseNotAttempted
from toyhelpers.exercises import dimensionality_reduction as dr
from toyhelpers.exercises import multitask as mt


def stub(*args):
    raise NotImplementedError("exercise: write this part")


def _shipped(name: str) -> bool:
    try:
        pretrained_dir(name)
    except ValueError:
        return False
    return True


needs_add_sub = pytest.mark.skipif(not _shipped("mod_add_sub"), reason="mod_add_sub not shipped")


def test_dimensionality_reduction_reference_answers_pass(capsys):
    dr.check_pca_by_svd(dr._pca_by_svd)
    dr.check_circularity(dr._circularity)
    dr.check_fourier_plane(dr._fourier_plane)
    assert capsys.readouterr().out.count("check passed") == 3


def test_multitask_pure_reference_answers_pass(capsys):
    mt.check_logit_frequency_shares(mt._logit_frequency_shares)
    mt.check_sum_diff_shares(mt._sum_diff_shares)
    assert capsys.readouterr().out.count("check passed") == 2


@needs_add_sub
def test_difference_accuracy_reference_passes(capsys):
    mt.check_difference_accuracy(mt._difference_accuracy)
    assert "check passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "check",
    [
        dr.check_pca_by_svd,
        dr.check_circularity,
        dr.check_fourier_plane,
        mt.check_logit_frequency_shares,
        mt.check_sum_diff_shares,
    ],
)
def test_stubs_are_not_attempted(check):
    with pytest.raises(ExerciseNotAttempted):
        check(stub)
    with pytest.raises(ExerciseNotAttempted):
        check(None)


def test_pca_without_centring_is_explained():
    def uncentred(data, n):
        _, sing, vh = torch.linalg.svd(data, full_matrices=False)
        return data @ vh[:n].T, (sing.pow(2) / sing.pow(2).sum())[:n]

    with pytest.raises(ExerciseFailed, match="subtract the mean"):
        dr.check_pca_by_svd(uncentred)


def test_pca_shares_from_plain_singular_values_are_explained():
    def linear_shares(data, n):
        coords, _ = dr._pca_by_svd(data, n)
        _, sing, _ = torch.linalg.svd(data - data.mean(0), full_matrices=False)
        return coords, (sing / sing.sum())[:n]

    with pytest.raises(ExerciseFailed, match="squared singular values"):
        dr.check_pca_by_svd(linear_shares)


def test_pca_sign_flips_are_accepted(capsys):
    def flipped(data, n):
        coords, shares = dr._pca_by_svd(data, n)
        return -coords, shares

    dr.check_pca_by_svd(flipped)
    assert "check passed" in capsys.readouterr().out


def test_circularity_without_centring_is_explained():
    def uncentred(coords, labels, k, p):
        angle = 2 * math.pi * k * labels.double() / p
        waves = torch.stack([torch.cos(angle), torch.sin(angle)], 1)
        y = coords.double()
        fit = waves @ torch.linalg.lstsq(waves, y).solution
        return 1 - (y - fit).pow(2).sum().item() / y.pow(2).sum().item()

    with pytest.raises(ExerciseFailed, match="centre the points"):
        dr.check_circularity(uncentred)


def test_fourier_plane_mistakes_are_explained():
    def not_orthonormal(embed, k):
        p = embed.shape[0]
        angle = 2 * math.pi * k * torch.arange(p, dtype=embed.dtype) / p
        plane = torch.stack([torch.cos(angle), torch.sin(angle)]) @ embed
        return (embed - embed.mean(0)) @ plane.T

    with pytest.raises(ExerciseFailed, match="orthonormalise"):
        dr.check_fourier_plane(not_orthonormal)

    def rotated(embed, k):
        c, s = math.cos(0.7), math.sin(0.7)
        return dr._fourier_plane(embed, k) @ torch.tensor([[c, -s], [s, c]])

    dr.check_fourier_plane(rotated)  # any orthonormal basis of the plane is fine


def test_logit_shares_of_the_wrong_operation_are_explained():
    def other(logits, operation):
        return mt._logit_frequency_shares(logits, "sub" if operation == "add" else "add")

    with pytest.raises(ExerciseFailed, match="other operation"):
        mt.check_logit_frequency_shares(other)


def test_swapped_sum_diff_columns_are_explained():
    with pytest.raises(ExerciseFailed, match="swapped"):
        mt.check_sum_diff_shares(lambda acts: mt._sum_diff_shares(acts).flip(-1))


@needs_add_sub
def test_difference_read_at_equals_is_explained():
    def at_equals(model, tokens, s_values):
        prompt = torch.cat([tokens[:, :3], s_values[:, None]], dim=1)
        with torch.no_grad():
            pred = model(prompt)[:, 2].argmax(-1)
        return (pred == (tokens[:, 0] - tokens[:, 1]) % model.task.p).float().mean().item()

    with pytest.raises(ExerciseFailed, match="position"):
        mt.check_difference_accuracy(at_equals)
