"""The othello_neurons and circuit_lab checks accept the reference, reject stubs and common
mistakes with a diagnosis."""

import pytest
import torch

from toyhelpers.checks import ExerciseFailed, ExerciseNotAttempted
from toyhelpers.exercises import circuit_lab as cl
from toyhelpers.exercises import othello_neurons as on


def stub(*args):
    raise NotImplementedError("exercise: write this part")


def test_othello_neurons_reference_answers_pass(capsys):
    on.check_legal_next(on._legal_next)
    on.check_auc(on._auc)
    on.check_best_condition(on._best_condition)
    assert capsys.readouterr().out.count("check passed") == 3


def test_circuit_lab_reference_answers_pass(capsys):
    cl.check_mean_difference_directions(cl._mean_difference_directions)
    cl.check_writes_along(cl._writes_along)
    assert capsys.readouterr().out.count("check passed") == 2


@pytest.mark.parametrize(
    "check",
    [
        on.check_legal_next,
        on.check_auc,
        on.check_best_condition,
        cl.check_mean_difference_directions,
        cl.check_writes_along,
    ],
)
def test_stubs_are_not_attempted(check):
    with pytest.raises(ExerciseNotAttempted):
        check(stub)
    with pytest.raises(ExerciseNotAttempted):
        check(None)


def test_legal_set_of_the_move_just_played_is_explained():
    def same_move(games):
        return games.legal[games.mover != 0]

    with pytest.raises(ExerciseFailed, match="legal for the move just played"):
        on.check_legal_next(same_move)


def test_legal_next_that_wraps_past_the_game_end_is_explained():
    def wrapped(games):
        # rolls the legal sets, so a game's last move gets the first move's set
        return games.legal.roll(-1, dims=1)[games.mover != 0]

    with pytest.raises(ExerciseFailed, match="last move"):
        on.check_legal_next(wrapped)


def test_auc_without_ties_is_explained():
    def ordinal_ranks(acts, cond):
        ranks = acts.argsort().argsort().double() + 1  # ties broken by position, not averaged
        n_pos = int(cond.sum())
        n_neg = len(cond) - n_pos
        return ((ranks[cond].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)).item()

    with pytest.raises(ExerciseFailed, match="tie"):
        on.check_auc(ordinal_ranks)


def test_auc_of_the_negated_condition_is_explained():
    with pytest.raises(ExerciseFailed, match="1 - AUC"):
        on.check_auc(lambda acts, cond: on._auc(acts, ~cond))


def test_best_condition_with_one_polarity_is_explained():
    def one_sided(auc):
        return auc.nan_to_num(0.0).max(-1)

    with pytest.raises(ExerciseFailed, match="max\\(AUC, 1 - AUC\\)"):
        on.check_best_condition(lambda auc: tuple(one_sided(auc)))


def test_best_condition_with_nan_is_explained():
    def keeps_nan(auc):
        score = torch.maximum(auc, 1 - auc)
        return score.max(-1).values, score.nan_to_num(0.0).argmax(-1)  # max keeps NaN

    with pytest.raises(ExerciseFailed, match="NaN"):
        on.check_best_condition(keeps_nan)


def test_directions_against_all_rows_are_explained():
    def versus_all(resid, pos, neg):
        return cl._mean_difference_directions(resid, pos, torch.ones_like(neg))

    with pytest.raises(ExerciseFailed, match="all rows"):
        cl.check_mean_difference_directions(versus_all)


def test_unnormalised_and_reversed_directions_are_explained():
    def raw(resid, pos, neg):
        p, n = pos.float(), neg.float()
        return (p.T @ resid) / p.sum(0)[:, None] - (n.T @ resid) / n.sum(0)[:, None]

    with pytest.raises(ExerciseFailed, match="norm 1"):
        cl.check_mean_difference_directions(raw)
    with pytest.raises(ExerciseFailed, match="wrong way"):
        cl.check_mean_difference_directions(lambda r, p, n: cl._mean_difference_directions(r, n, p))


def test_writes_without_the_negative_baseline_are_explained():
    def positives_only(outputs, directions, pos, neg):
        proj = torch.einsum("crd,sd->crs", outputs, directions)
        return (proj * pos).sum(1) / pos.sum(0)

    with pytest.raises(ExerciseFailed, match="negative rows"):
        cl.check_writes_along(positives_only)


def test_writes_on_the_wrong_square_are_caught():
    def shifted(outputs, directions, pos, neg):
        return cl._writes_along(outputs, directions.roll(1, dims=0), pos, neg)

    with pytest.raises(ExerciseFailed, match="differs first at"):
        cl.check_writes_along(shifted)
