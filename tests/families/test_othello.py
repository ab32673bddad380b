"""The othello family: the checks of lessons 24-27. The engine and the next-move task are
tested in test_othello_engine.py, the probes and interventions in test_othello_probes.py."""

import pytest
import torch

from toyhelpers.checks import ExerciseFailed
from toyhelpers.families.othello import checks


def _mine_theirs_for_the_player_to_move(boards, mover):
    return checks._mine_theirs_labels(boards, -mover)


def _writes_positives_only(outputs, directions, pos, neg):
    proj = torch.einsum("crd,sd->crs", outputs, directions)
    return (proj * pos).sum(1) / pos.sum(0)


MISTAKES = {
    # 24 othello_world_model
    "check_legal_rate": (
        lambda logits, legal: checks._legal_rate(logits[:, : legal.shape[-1]], legal),
        "START or PAD",
    ),
    "check_mine_theirs_labels": (_mine_theirs_for_the_player_to_move, "swapped"),
    "check_accuracy_by_square": (lambda pred, labels: (pred == labels).float().mean(0), "NaN"),
    "check_flip_square": (
        lambda resid, probe, square, source, target, scale: checks._flip_square(
            resid, probe, square, source, target, 0.0
        ),
        "boundary",
    ),
    # 25 othello_circuits
    "check_read_cosines": (lambda w, d: w.T @ d.T, "dot products"),
    "check_effect_size": (lambda acts, group: -checks._effect_size(acts, group), "sign"),
    "check_square_logit_effect": (lambda w, u, n: w @ u[:, :n], "mean over squares"),
    # 26 othello_neurons
    "check_legal_next": (lambda games: games.legal[games.mover != 0], "legal for the move just"),
    "check_auc": (lambda acts, cond: checks._auc(acts, ~cond), "1 - AUC"),
    "check_best_condition": (
        lambda auc: tuple(auc.nan_to_num(0.0).max(-1)),
        r"max\(AUC, 1 - AUC\)",
    ),
    # 27 circuit_lab
    "check_mean_difference_directions": (
        lambda resid, pos, neg: checks._mean_difference_directions(
            resid, pos, torch.ones_like(neg)
        ),
        "all rows",
    ),
    "check_writes_along": (_writes_positives_only, "negative rows"),
}


def _colours_not_players(boards, mover):
    flat = boards.flatten(1).long()
    return torch.where(flat == 1, 1, torch.where(flat == -1, 2, 0))


def _accuracy_padded_but_nan(pred, labels):
    out = (pred == labels).float().mean(0)
    out[(labels == -1).all(0)] = float("nan")
    return out


def _flip_without_bias(resid, probe, square, source, target, scale):
    d = probe.weight[:, square, target] - probe.weight[:, square, source]
    margin = resid @ d
    return resid + ((scale * margin.abs() - margin) / d.pow(2).sum())[:, None] * d


def _whole_vocab_mean(w, u, n):
    effect = w @ u
    return (effect - effect.mean())[:n]


def _auc_with_ordinal_ranks(acts, cond):
    ranks = acts.argsort().argsort().double() + 1  # ties broken by position, not averaged
    n_pos = int(cond.sum())
    n_neg = len(cond) - n_pos
    return ((ranks[cond].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)).item()


def _best_condition_keeps_nan(auc):
    score = torch.maximum(auc, 1 - auc)
    return score.max(-1).values, score.nan_to_num(0.0).argmax(-1)  # max keeps NaN


def _raw_directions(resid, pos, neg):
    p, n = pos.float(), neg.float()
    return (p.T @ resid) / p.sum(0)[:, None] - (n.T @ resid) / n.sum(0)[:, None]


@pytest.mark.parametrize(
    "check, wrong, message",
    [
        ("check_mine_theirs_labels", _colours_not_players, "black/white"),
        (
            "check_mine_theirs_labels",
            lambda b, m: checks._mine_theirs_labels(b, m).view(b.shape).long(),
            "shape",
        ),
        (
            "check_accuracy_by_square",
            lambda pred, labels: checks._accuracy_by_square(pred, labels).nan_to_num(0.0),
            "NaN",
        ),
        ("check_accuracy_by_square", _accuracy_padded_but_nan, "padded positions"),
        ("check_flip_square", _flip_without_bias, "includes the bias"),
        ("check_read_cosines", lambda w, d: checks._read_cosines(w, d).T, "transposed"),
        (
            "check_effect_size",
            lambda acts, g: ((acts[g].mean() - acts[~g].mean()) / acts.std()).item(),
            "pooled",
        ),
        ("check_square_logit_effect", lambda w, u, n: w @ u - (w @ u).mean(), "first n_squares"),
        ("check_square_logit_effect", _whole_vocab_mean, "squares only"),
        (
            "check_legal_next",
            lambda games: games.legal.roll(-1, dims=1)[games.mover != 0],
            "last move",
        ),
        ("check_auc", _auc_with_ordinal_ranks, "tie"),
        ("check_best_condition", _best_condition_keeps_nan, "NaN"),
        ("check_mean_difference_directions", _raw_directions, "norm 1"),
        (
            "check_mean_difference_directions",
            lambda r, p, n: checks._mean_difference_directions(r, n, p),
            "wrong way",
        ),
        (
            "check_writes_along",
            lambda o, d, p, n: checks._writes_along(o, d.roll(1, dims=0), p, n),
            "differs first at",
        ),
    ],
)
def test_more_mistakes_are_explained(check, wrong, message):
    with pytest.raises(ExerciseFailed, match=message):
        getattr(checks, check)(wrong)
