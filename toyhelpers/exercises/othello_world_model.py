"""Checks for 24_othello_world_model: each compares the learner's function with a reference."""

from __future__ import annotations

import torch
from jaxtyping import Bool, Float, Int, Int8
from torch import Tensor

from toyhelpers.checks import ExerciseFailed, assert_tensor, exercise
from toyhelpers.othello.engine import simulate
from toyhelpers.othello.probes import IGNORE, Probe, board_labels

# -- references ------------------------------------------------------------------------


def _legal_rate(logits: Float[Tensor, "n d_vocab"], legal: Bool[Tensor, "n square"]) -> float:
    # The top token may be START or PAD (ids past the squares): that is never a legal move.
    top = logits.argmax(-1)
    n_squares = legal.shape[-1]
    on_board = top < n_squares
    hit = legal.gather(-1, top.clamp(max=n_squares - 1)[:, None]).squeeze(-1)
    return (hit & on_board).float().mean().item()


def _mine_theirs_labels(
    boards: Int8[Tensor, "n size size"], mover: Int8[Tensor, " n"]
) -> Int[Tensor, "n square"]:
    flat = boards.flatten(1).long()
    mine = flat == mover.long()[:, None]
    return torch.where(flat == 0, 0, torch.where(mine, 1, 2))


def _accuracy_by_square(
    pred: Int[Tensor, "rows square"], labels: Int[Tensor, "rows square"]
) -> Float[Tensor, " square"]:
    scored = labels != IGNORE
    right = (pred == labels) & scored
    return right.sum(0) / scored.sum(0)


def _flip_square(
    resid: Float[Tensor, "batch d_model"],
    probe: Probe,
    square: int,
    source: int,
    target: int,
    scale: float,
) -> Float[Tensor, "batch d_model"]:
    d = probe.weight[:, square, target] - probe.weight[:, square, source]
    margin = resid @ d + probe.bias[square, target] - probe.bias[square, source]
    step = (scale * margin.abs() - margin) / d.pow(2).sum()
    return resid + step[:, None] * d


# -- fixed cases -------------------------------------------------------------------------


def _legal_cases() -> list[tuple[Tensor, Tensor]]:
    gen = torch.Generator().manual_seed(0)
    cases = []
    for n, n_squares, d_vocab in ((200, 36, 38), (50, 16, 18)):
        logits = torch.randn(n, d_vocab, generator=gen)
        legal = torch.rand(n, n_squares, generator=gen) < 0.3
        legal[:, 0] = True  # every row has a legal move, as in a real game
        logits[: n // 4, n_squares:] += 5  # some rows pick START or PAD
        cases.append((logits, legal))
    return cases


def _game_positions(size: int, n: int, seed: int) -> tuple[Tensor, Tensor]:
    games = simulate(n, size, torch.Generator().manual_seed(seed), record=True)
    played = games.mover != 0
    return games.boards[played], games.mover[played]


def _random_probe(d_model: int = 16, squares: int = 9, seed: int = 0) -> Probe:
    gen = torch.Generator().manual_seed(seed)
    weight = torch.randn(d_model, squares, 3, generator=gen)
    bias = torch.randn(squares, 3, generator=gen)
    return Probe(weight, bias, layer=1, frame="mine_theirs")


# -- checks ----------------------------------------------------------------------------


@exercise("legal_rate")
def check_legal_rate(fn) -> None:
    """fn(logits [n, d_vocab], legal [n, square]) -> share of rows whose top token is legal."""
    for logits, legal in _legal_cases():
        got = fn(logits, legal)
        want = _legal_rate(logits, legal)
        if isinstance(got, Tensor):
            got = got.item()
        if not isinstance(got, float):
            raise ExerciseFailed(f"return a float, got {type(got).__name__}")
        squares_only = _legal_rate(logits[:, : legal.shape[-1]], legal)
        if abs(got - squares_only) < 1e-6 and abs(got - want) > 1e-6:
            raise ExerciseFailed(
                "you took the argmax over the squares only; the model can also put START or "
                "PAD on top, and then its move is not legal (argmax over the whole vocabulary)"
            )
        if abs(got - want) > 1e-6:
            raise ExerciseFailed(f"legal_rate = {got:.4f}, expected {want:.4f}")


@exercise("mine_theirs_labels")
def check_mine_theirs_labels(fn) -> None:
    """fn(boards [n, size, size], mover [n]) -> [n, square]: 0 empty, 1 mover's, 2 other's."""
    for size, seed in ((4, 0), (6, 1)):
        boards, mover = _game_positions(size, 20, seed)
        got = fn(boards, mover)
        want = _mine_theirs_labels(boards, mover)
        if isinstance(got, Tensor) and got.shape == want.shape:
            swapped = torch.tensor([0, 2, 1])[want]
            if torch.equal(got.long(), swapped):
                raise ExerciseFailed(
                    "mine and theirs are swapped: 'mine' is the player who just moved "
                    "(`mover`), whose stone was just placed"
                )
            colour = torch.where(want == 0, 0, torch.where(boards.flatten(1) == 1, 1, 2))
            if torch.equal(got.long(), colour):
                raise ExerciseFailed("these are black/white labels: compare with `mover`")
        if isinstance(got, Tensor):
            got = got.long()
        assert_tensor(got, want, f"mine_theirs_labels on {size}x{size}", dims="position square")


@exercise("accuracy_by_square")
def check_accuracy_by_square(fn) -> None:
    """fn(pred [rows, square], labels [rows, square] with -1 = ignore) -> [square] accuracy."""
    games = simulate(30, 4, torch.Generator().manual_seed(3), record=True)
    labels = board_labels(games, "mine_theirs").flatten(0, 1)  # keeps the IGNORE rows
    gen = torch.Generator().manual_seed(4)
    pred = torch.where(
        torch.rand(labels.shape, generator=gen) < 0.8,
        labels.clamp(min=0),
        torch.randint(0, 3, labels.shape, generator=gen),
    )
    labels[:, 5] = IGNORE  # a square with nothing to score
    got = fn(pred, labels)
    want = _accuracy_by_square(pred, labels)
    if isinstance(got, Tensor) and got.shape == want.shape:
        if not torch.isnan(got[5]):
            raise ExerciseFailed(
                "square 5 has no scored entry (all labels -1): its accuracy should be NaN"
            )
        naive = (pred == labels).float().mean(0)
        if torch.allclose(got[:5], naive[:5]) and not torch.allclose(got[:5], want[:5]):
            raise ExerciseFailed(
                "you scored the padded positions (label -1) too; count only labels != -1"
            )
        if torch.allclose(got.nan_to_num(-1), want.nan_to_num(-1), atol=1e-5):
            return
    assert_tensor(got, want.nan_to_num(-1), "accuracy_by_square", dims="square")


@exercise("flip_square")
def check_flip_square(fn) -> None:
    """fn(resid, probe, square, source, target, scale) -> resid reflected past the boundary."""
    probe = _random_probe()
    gen = torch.Generator().manual_seed(5)
    resid = torch.randn(8, 16, generator=gen)
    for square, source, target, scale in ((3, 1, 2, 1.0), (7, 2, 1, 4.0), (0, 1, 2, 2.5)):
        got = fn(resid.clone(), probe, square, source, target, scale)
        want = _flip_square(resid, probe, square, source, target, scale)
        if isinstance(got, Tensor) and got.shape == want.shape:
            before = probe.logits(resid)[:, square]
            after = probe.logits(got.float())[:, square]
            m0 = before[:, target] - before[:, source]
            m1 = after[:, target] - after[:, source]
            if torch.allclose(m1, torch.zeros_like(m1), atol=1e-4):
                raise ExerciseFailed(
                    "the edit stops on the boundary (margin 0); go past it until the target "
                    "leads by scale * |margin before|"
                )
            if not torch.allclose(m1, scale * m0.abs(), atol=1e-3):
                raise ExerciseFailed(
                    f"after the edit the target-minus-source margin should be scale * |m| = "
                    f"{(scale * m0.abs())[0]:.3f} (row 0), got {m1[0]:.3f}; the margin includes "
                    "the bias, and the step along d is (scale*|m| - m) / |d|^2"
                )
            delta = got - resid
            d = probe.weight[:, square, target] - probe.weight[:, square, source]
            off = delta - (delta @ d)[:, None] * d / d.pow(2).sum()
            if off.norm() > 1e-3 * (1 + delta.norm()):
                raise ExerciseFailed(
                    "the edit should move only along d = w[target] - w[source], nothing else"
                )
        assert_tensor(got, want, f"flip_square(square={square})", dims="batch d_model")
