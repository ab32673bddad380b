"""The othello_world_model and othello_circuits checks accept the reference, reject stubs
and common mistakes with a diagnosis."""

import pytest
import torch

from toyhelpers.checks import ExerciseFailed, ExerciseNotAttempted
from toyhelpers.exercises import othello_circuits as oc
from toyhelpers.exercises import othello_world_model as ow


def stub(*args):
    raise NotImplementedError("exercise: write this part")


def test_world_model_reference_answers_pass(capsys):
    ow.check_legal_rate(ow._legal_rate)
    ow.check_mine_theirs_labels(ow._mine_theirs_labels)
    ow.check_accuracy_by_square(ow._accuracy_by_square)
    ow.check_flip_square(ow._flip_square)
    assert capsys.readouterr().out.count("check passed") == 4


def test_circuits_reference_answers_pass(capsys):
    oc.check_read_cosines(oc._read_cosines)
    oc.check_effect_size(oc._effect_size)
    oc.check_square_logit_effect(oc._square_logit_effect)
    assert capsys.readouterr().out.count("check passed") == 3


@pytest.mark.parametrize(
    "check",
    [
        ow.check_legal_rate,
        ow.check_mine_theirs_labels,
        ow.check_accuracy_by_square,
        ow.check_flip_square,
        oc.check_read_cosines,
        oc.check_effect_size,
        oc.check_square_logit_effect,
    ],
)
def test_stubs_are_not_attempted(check):
    with pytest.raises(ExerciseNotAttempted):
        check(stub)
    with pytest.raises(ExerciseNotAttempted):
        check(None)


def test_legal_rate_over_squares_only_is_explained():
    def squares_only(logits, legal):
        return ow._legal_rate(logits[:, : legal.shape[-1]], legal)

    with pytest.raises(ExerciseFailed, match="START or PAD"):
        ow.check_legal_rate(squares_only)


def test_mine_theirs_mistakes_are_explained():
    def to_move(boards, mover):
        return ow._mine_theirs_labels(boards, -mover)

    def colours(boards, mover):
        flat = boards.flatten(1).long()
        return torch.where(flat == 1, 1, torch.where(flat == -1, 2, 0))

    with pytest.raises(ExerciseFailed, match="swapped"):
        ow.check_mine_theirs_labels(to_move)
    with pytest.raises(ExerciseFailed, match="black/white"):
        ow.check_mine_theirs_labels(colours)
    with pytest.raises(ExerciseFailed, match="shape"):
        ow.check_mine_theirs_labels(lambda b, m: ow._mine_theirs_labels(b, m).view(b.shape).long())


def test_accuracy_by_square_mistakes_are_explained():
    def with_padding(pred, labels):
        return (pred == labels).float().mean(0)

    def no_nan(pred, labels):
        return ow._accuracy_by_square(pred, labels).nan_to_num(0.0)

    with pytest.raises(ExerciseFailed, match="NaN"):
        ow.check_accuracy_by_square(with_padding)
    with pytest.raises(ExerciseFailed, match="NaN"):
        ow.check_accuracy_by_square(no_nan)

    def padded_but_nan(pred, labels):
        out = (pred == labels).float().mean(0)
        out[(labels == -1).all(0)] = float("nan")
        return out

    with pytest.raises(ExerciseFailed, match="padded positions"):
        ow.check_accuracy_by_square(padded_but_nan)


def test_flip_square_mistakes_are_explained():
    def to_boundary(resid, probe, square, source, target, scale):
        return ow._flip_square(resid, probe, square, source, target, 0.0)

    def no_bias(resid, probe, square, source, target, scale):
        d = probe.weight[:, square, target] - probe.weight[:, square, source]
        margin = resid @ d
        return resid + ((scale * margin.abs() - margin) / d.pow(2).sum())[:, None] * d

    with pytest.raises(ExerciseFailed, match="boundary"):
        ow.check_flip_square(to_boundary)
    with pytest.raises(ExerciseFailed, match="includes the bias"):
        ow.check_flip_square(no_bias)


def test_read_cosines_mistakes_are_explained():
    with pytest.raises(ExerciseFailed, match="dot products"):
        oc.check_read_cosines(lambda w, d: w.T @ d.T)
    with pytest.raises(ExerciseFailed, match="transposed"):
        oc.check_read_cosines(lambda w, d: oc._read_cosines(w, d).T)


def test_effect_size_mistakes_are_explained():
    def flipped(acts, group):
        return -oc._effect_size(acts, group)

    def overall_sd(acts, group):
        return ((acts[group].mean() - acts[~group].mean()) / acts.std()).item()

    with pytest.raises(ExerciseFailed, match="sign"):
        oc.check_effect_size(flipped)
    with pytest.raises(ExerciseFailed, match="pooled"):
        oc.check_effect_size(overall_sd)


def test_square_logit_effect_mistakes_are_explained():
    with pytest.raises(ExerciseFailed, match="mean over squares"):
        oc.check_square_logit_effect(lambda w, u, n: w @ u[:, :n])
    with pytest.raises(ExerciseFailed, match="first n_squares"):
        oc.check_square_logit_effect(lambda w, u, n: w @ u - (w @ u).mean())

    def whole_vocab_mean(w, u, n):
        effect = w @ u
        return (effect - effect.mean())[:n]

    with pytest.raises(ExerciseFailed, match="squares only"):
        oc.check_square_logit_effect(whole_vocab_mean)
