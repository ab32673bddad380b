"""Exercise checks of the Othello lessons 24-27."""

from __future__ import annotations

import functools

import torch
from jaxtyping import Bool, Float, Int, Int8
from torch import Tensor

from toyhelpers.checks import (
    ExerciseFailed,
    as_number,
    as_tensor,
    assert_number,
    assert_tensor,
    exercise,
)
from toyhelpers.families.othello.engine import Games, simulate
from toyhelpers.families.othello.probes import IGNORE, Probe, board_labels

# ======================================================================================
# Lesson 24 · othello_world_model
# ======================================================================================


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


@exercise("legal_rate", reference=_legal_rate)
def check_legal_rate(fn) -> None:
    """fn(logits [n, d_vocab], legal [n, square]) -> share of rows whose top token is legal."""
    for logits, legal in _legal_cases():
        got = as_number(fn(logits, legal), "legal_rate(logits, legal)")
        want = _legal_rate(logits, legal)
        squares_only = _legal_rate(logits[:, : legal.shape[-1]], legal)
        if abs(got - squares_only) < 1e-6 and abs(got - want) > 1e-6:
            raise ExerciseFailed(
                "you took the argmax over the squares only; the model can also put START or "
                "PAD on top, and then its move is not legal (argmax over the whole vocabulary)"
            )
        assert_number(got, want, "legal_rate", tol=1e-6)


@exercise("mine_theirs_labels", reference=_mine_theirs_labels)
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


@exercise("accuracy_by_square", reference=_accuracy_by_square)
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
    got = as_tensor(fn(pred, labels), "accuracy_by_square")
    want = _accuracy_by_square(pred, labels)
    if got.shape == want.shape:
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


@exercise("flip_square", reference=_flip_square)
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
            wrong = ~torch.isclose(m1, scale * m0.abs(), atol=1e-3)
            if wrong.any():
                row = int(wrong.nonzero()[0])
                raise ExerciseFailed(
                    f"after the edit the target-minus-source margin of row {row} should be "
                    f"scale * |m| = {scale * m0[row].abs():.4f}, got {m1[row]:.4f} (square "
                    f"{square}, scale {scale}); the margin includes the bias, and the step "
                    "along d is (scale*|m| - m) / |d|^2"
                )
            delta = got - resid
            d = probe.weight[:, square, target] - probe.weight[:, square, source]
            off = delta - (delta @ d)[:, None] * d / d.pow(2).sum()
            if off.norm() > 1e-3 * (1 + delta.norm()):
                raise ExerciseFailed(
                    "the edit should move only along d = w[target] - w[source], nothing else"
                )
        assert_tensor(got, want, f"flip_square(square={square})", dims="batch d_model")


# ======================================================================================
# Lesson 25 · othello_circuits
# ======================================================================================


def _read_cosines(
    w_in: Float[Tensor, "d_model d_mlp"], directions: Float[Tensor, "square d_model"]
) -> Float[Tensor, "d_mlp square"]:
    w = w_in / w_in.norm(dim=0, keepdim=True)
    d = directions / directions.norm(dim=-1, keepdim=True)
    return w.T @ d.T


def _effect_size(acts: Float[Tensor, " rows"], group: Bool[Tensor, " rows"]) -> float:
    inside, outside = acts[group], acts[~group]
    pooled = ((inside.var() + outside.var()) / 2).sqrt()
    return ((inside.mean() - outside.mean()) / pooled).item()


def _square_logit_effect(
    w_out: Float[Tensor, " d_model"], w_u: Float[Tensor, "d_model d_vocab"], n_squares: int
) -> Float[Tensor, " square"]:
    effect = w_out @ w_u[:, :n_squares]
    return effect - effect.mean()


# -- checks ----------------------------------------------------------------------------


@exercise("read_cosines", reference=_read_cosines)
def check_read_cosines(fn) -> None:
    """fn(w_in [d_model, d_mlp], directions [square, d_model]) -> [d_mlp, square] cosines."""
    gen = torch.Generator().manual_seed(0)
    w_in = torch.randn(16, 10, generator=gen) * torch.linspace(0.1, 3, 10)
    directions = torch.randn(9, 16, generator=gen) * torch.linspace(0.5, 2, 9)[:, None]
    got = fn(w_in, directions)
    want = _read_cosines(w_in, directions)
    if isinstance(got, Tensor):
        if got.shape == want.T.shape and got.shape != want.shape:
            raise ExerciseFailed("transposed: return one row per neuron, one column per square")
        if got.shape == want.shape and torch.allclose(got, w_in.T @ directions.T, atol=1e-4):
            raise ExerciseFailed(
                "these are dot products; a cosine divides by the norms of both vectors, so a "
                "neuron with big weights does not win just for being big"
            )
        if got.shape == want.shape and got.abs().max() > 1 + 1e-4:
            raise ExerciseFailed(f"a cosine lies in [-1, 1], got {got.abs().max():.3f}")
    assert_tensor(got, want, "read_cosines(w_in, directions)", dims="neuron square")


@exercise("effect_size", reference=_effect_size)
def check_effect_size(fn) -> None:
    """fn(acts [rows], group [rows] bool) -> Cohen's d of group vs the rest (pooled sd)."""
    gen = torch.Generator().manual_seed(1)
    acts = torch.cat([torch.randn(300, generator=gen) + 2, 3 * torch.randn(100, generator=gen)])
    group = torch.arange(400) < 300
    order = torch.randperm(400, generator=gen)
    acts, group = acts[order], group[order]
    got = as_number(fn(acts, group), "effect_size(acts, group)")
    want = _effect_size(acts, group)
    if abs(got + want) < 1e-4:
        raise ExerciseFailed("the sign is flipped: mean inside the group minus mean outside")
    overall = ((acts[group].mean() - acts[~group].mean()) / acts.std()).item()
    if abs(got - overall) < 1e-4:
        raise ExerciseFailed(
            "you divided by the standard deviation of all activations; use the pooled one, "
            "sqrt((var inside + var outside) / 2), which ignores the gap between the groups"
        )
    assert_number(got, want, "effect size")


@exercise("square_logit_effect", reference=_square_logit_effect)
def check_square_logit_effect(fn) -> None:
    """fn(w_out [d_model], w_u [d_model, d_vocab], n_squares) -> centred push on each square."""
    gen = torch.Generator().manual_seed(2)
    w_out = torch.randn(16, generator=gen)
    w_u = torch.randn(16, 11, generator=gen) + 0.5
    w_u[:, 9:] += 3  # START and PAD columns, very different from the squares
    got = fn(w_out, w_u, 9)
    want = _square_logit_effect(w_out, w_u, 9)
    if isinstance(got, Tensor):
        if got.shape == (11,):
            raise ExerciseFailed("keep only the square tokens (the first n_squares columns)")
        raw = w_out @ w_u[:, :9]
        if got.shape == want.shape and torch.allclose(got, raw, atol=1e-4):
            raise ExerciseFailed(
                "subtract the mean over squares: a push shared by every square changes no "
                "move's probability"
            )
        whole = w_out @ w_u
        if got.shape == want.shape and torch.allclose(got, (whole - whole.mean())[:9], atol=1e-4):
            raise ExerciseFailed("centre over the squares only, not the whole vocabulary")
    assert_tensor(got, want, "square_logit_effect(w_out, w_u, n_squares)", dims="square")


# ======================================================================================
# Lesson 26 · othello_neurons
# ======================================================================================


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


@exercise("legal_next", reference=_legal_next)
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


@exercise("auc", reference=_auc)
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
        got = as_number(fn(acts, c), "auc(acts, condition)")
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


@exercise("best_condition", reference=_best_condition)
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


# ======================================================================================
# Lesson 27 · circuit_lab
# ======================================================================================


def _mean_difference_directions(
    resid: Float[Tensor, "rows d_model"],
    pos: Bool[Tensor, "rows square"],
    neg: Bool[Tensor, "rows square"],
) -> Float[Tensor, "square d_model"]:
    p, n = pos.float(), neg.float()
    mean_pos = (p.T @ resid) / p.sum(0)[:, None]
    mean_neg = (n.T @ resid) / n.sum(0)[:, None]
    diff = mean_pos - mean_neg
    return diff / diff.norm(dim=-1, keepdim=True)


def _writes_along(
    outputs: Float[Tensor, "comp rows d_model"],
    directions: Float[Tensor, "square d_model"],
    pos: Bool[Tensor, "rows square"],
    neg: Bool[Tensor, "rows square"],
) -> Float[Tensor, "comp square"]:
    proj = torch.einsum("crd,sd->crs", outputs, directions)
    p, n = pos.float(), neg.float()
    return (proj * p).sum(1) / p.sum(0) - (proj * n).sum(1) / n.sum(0)


# -- fixed cases -------------------------------------------------------------------------


def _case(seed: int, rows: int = 200, squares: int = 5, d: int = 8):
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 3, (rows, squares), generator=gen)
    pos, neg = labels == 1, labels == 2  # a third class (0) belongs to neither side
    signal = torch.randn(squares, d, generator=gen)
    resid = torch.randn(rows, d, generator=gen) + 0.5 + pos.float() @ signal
    return resid, pos, neg


# -- checks ----------------------------------------------------------------------------


@exercise("mean_difference_directions", reference=_mean_difference_directions)
def check_mean_difference_directions(fn) -> None:
    """fn(resid, pos, neg) -> [square, d_model] unit vectors mean(pos) - mean(neg)."""
    for seed in (0, 1):
        resid, pos, neg = _case(seed)
        got = fn(resid, pos, neg)
        want = _mean_difference_directions(resid, pos, neg)
        if isinstance(got, Tensor) and got.shape == want.shape:
            got = got.float()
            if torch.allclose(got, -want, atol=1e-5):
                raise ExerciseFailed("the directions point the wrong way: mean(pos) - mean(neg)")
            norms = got.norm(dim=-1)
            if not torch.allclose(norms, torch.ones_like(norms), atol=1e-4):
                raise ExerciseFailed(f"each direction should have norm 1; got norms {norms}")
            versus_all = _mean_difference_directions(resid, pos, torch.ones_like(neg))
            if torch.allclose(got, versus_all, atol=1e-5):
                raise ExerciseFailed(
                    "you compared the positives with all rows; compare them with the rows in "
                    "`neg` only (rows in neither set are left out)"
                )
        assert_tensor(got, want, "mean_difference_directions", dims="square d_model")


@exercise("writes_along", reference=_writes_along)
def check_writes_along(fn) -> None:
    """fn(outputs, directions, pos, neg) -> [comp, square] differential write per square."""
    gen = torch.Generator().manual_seed(3)
    resid, pos, neg = _case(4)
    outputs = torch.randn(3, *resid.shape, generator=gen) + resid
    directions = _mean_difference_directions(resid, pos, neg)
    got = fn(outputs, directions, pos, neg)
    want = _writes_along(outputs, directions, pos, neg)
    if isinstance(got, Tensor) and got.shape == want.shape:
        proj = torch.einsum("crd,sd->crs", outputs, directions)
        pos_only = (proj * pos).sum(1) / pos.sum(0)
        if torch.allclose(got.float(), pos_only, atol=1e-4):
            raise ExerciseFailed(
                "you averaged the projection over the positive rows only; subtract its mean "
                "over the negative rows, so that what every row gets alike cancels"
            )
        if torch.allclose(got.float(), -want, atol=1e-4):
            raise ExerciseFailed("the sign is reversed: positives minus negatives")
    assert_tensor(got, want, "writes_along", dims="comp square")
