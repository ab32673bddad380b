"""Checks for 26_othello_neurons: each compares the learner's function with a reference."""

from __future__ import annotations

import functools

import torch
from jaxtyping import Bool, Float
from torch import Tensor

from toyhelpers.checks import ExerciseFailed, assert_tensor, exercise
from toyhelpers.othello.engine import Games, simulate

# -- references ------------------------------------------------------------------------


def _legal_next(games: Games) -> Bool[Tensor, "rows square"]:
    # Row (game, t) is the position after move t; the move after it is move t + 1.
    n, _, n_squares = games.legal.shape
    nothing = torch.zeros(n, 1, n_squares, dtype=torch.bool, device=games.legal.device)
    following = torch.cat([games.legal[:, 1:], nothing], dim=1)
    return following[games.mover != 0]


def _auc(acts: Float[Tensor, " rows"], cond: Bool[Tensor, " rows"]) -> float:
    # Mann-Whitney: the chance that a random positive outranks a random negative, ties half.
    acts, cond = acts.double(), cond.bool()
    pos, neg = acts[cond], acts[~cond]
    greater = (pos[:, None] > neg[None, :]).double().sum()
    ties = (pos[:, None] == neg[None, :]).double().sum()
    return ((greater + 0.5 * ties) / (len(pos) * len(neg))).item()


def _best_condition(
    auc: Float[Tensor, "neuron cond"],
) -> tuple[Float[Tensor, " neuron"], Float[Tensor, " neuron"]]:
    score = torch.maximum(auc, 1 - auc).nan_to_num(nan=0.0)
    best, index = score.max(-1)
    return best, index


# -- fixed cases -------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _games() -> Games:
    return simulate(40, 6, torch.Generator().manual_seed(123), record=True)


def _relu_like(n: int, seed: int) -> tuple[Tensor, Tensor]:
    gen = torch.Generator().manual_seed(seed)
    cond = torch.rand(n, generator=gen) < 0.3
    acts = (torch.randn(n, generator=gen) + 1.2 * cond - 0.4).relu()
    return acts, cond


# -- checks ----------------------------------------------------------------------------


@exercise("legal_next")
def check_legal_next(fn) -> None:
    """fn(games) -> [rows, square]: the squares legal for the move after each played move."""
    games = _games()
    got, want = fn(games), _legal_next(games)
    played = games.mover != 0
    if isinstance(got, Tensor) and got.shape == want.shape and not torch.equal(got.bool(), want):
        if torch.equal(got.bool(), games.legal[played]):
            raise ExerciseFailed(
                "these are the squares that were legal for the move just played (legal[:, t]); "
                "the condition is about the next move, legal[:, t + 1]"
            )
        last = played & ~torch.cat([played[:, 1:], torch.zeros_like(played[:, :1])], dim=1)
        if torch.equal(got.bool()[~last[played]], want[~last[played]]):
            raise ExerciseFailed(
                "right except after each game's last move, where no next move exists: every "
                "square should be False there"
            )
    if isinstance(got, Tensor) and got.dtype != torch.bool and got.shape == want.shape:
        got = got.bool()
    assert_tensor(got, want, "legal_next(games)", dims="row square")


@exercise("auc")
def check_auc(fn) -> None:
    """fn(acts, cond) -> float: ROC AUC of `acts` as a score for `cond`, ties counted half."""
    gen = torch.Generator().manual_seed(0)
    cond = torch.rand(300, generator=gen) < 0.4
    continuous = torch.randn(300, generator=gen) + cond.float()
    relu_acts, relu_cond = _relu_like(400, 1)
    for what, acts, c in (
        ("continuous activations", continuous, cond),
        ("ReLU activations (many exact zeros)", relu_acts, relu_cond),
    ):
        got = fn(acts, c)
        got = float(got.item() if isinstance(got, Tensor) else got)
        want = _auc(acts, c)
        if abs(got - (1 - want)) < 1e-6 and abs(want - 0.5) > 1e-3:
            raise ExerciseFailed(
                f"{what}: you got 1 - AUC; high activations should count as predicting cond == True"
            )
        if abs(got - want) > 1e-6:
            hint = (
                " Many activations are exactly 0: a tie between a positive and a negative "
                "counts one half (average the ranks of tied values)."
                if "ReLU" in what
                else ""
            )
            raise ExerciseFailed(f"{what}: got AUC {got:.6f}, expected {want:.6f}.{hint}")


@exercise("best_condition")
def check_best_condition(fn) -> None:
    """fn(auc) -> (score, index): each neuron's cleanest condition, either polarity."""
    gen = torch.Generator().manual_seed(2)
    auc = torch.rand(50, 12, generator=gen) * 0.6 + 0.2
    auc[3, 5], auc[7, 2], auc[9, 4] = 0.99, 0.01, float("nan")
    auc[11, :] = float("nan")
    auc[11, 0] = 0.3
    got = fn(auc)
    want_score, want_index = _best_condition(auc)
    if not (isinstance(got, tuple) and len(got) == 2):
        raise ExerciseFailed("return a pair (score, index), each of shape [neuron]")
    score, index = got
    if isinstance(index, Tensor) and index.shape == want_index.shape and int(index[7]) != 2:
        raise ExerciseFailed(
            "neuron 7 has AUC 0.01 for condition 2: it is silent exactly when the condition "
            "holds, which is just as clean; score each condition by max(AUC, 1 - AUC)"
        )
    if isinstance(score, Tensor) and score.shape == want_score.shape and score.isnan().any():
        raise ExerciseFailed(
            "some scores are NaN: a condition that is never (or always) true has no AUC; "
            "treat it as 0 so it is never chosen"
        )
    assert_tensor(
        score,
        want_score.to(score.dtype) if isinstance(score, Tensor) else want_score,
        "score",
        dims="neuron",
    )
    assert_tensor(
        index,
        want_index.to(index.dtype) if isinstance(index, Tensor) else want_index,
        "index",
        dims="neuron",
    )
