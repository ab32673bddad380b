import pytest
import torch

from toyhelpers.families.othello.engine import initial_board, legal_moves, simulate
from toyhelpers.families.othello.probes import (
    IGNORE,
    Probe,
    board_labels,
    collect_residuals,
    edit_residual,
    fit_probe,
    flip_cases,
    hook_name,
    intervene,
    intervention_success,
)
from toyhelpers.families.othello.tasks import Othello
from toyhelpers.models import ModelConfig, make_transformer


@pytest.fixture(scope="module")
def task() -> Othello:
    return Othello(size=4)


@pytest.fixture(scope="module")
def model(task):
    config = ModelConfig.for_task(task, n_layers=2, d_model=32, n_heads=2, normalization="LN")
    return make_transformer(config, seed=0).eval()


@pytest.fixture(scope="module")
def games():
    return simulate(64, 4, torch.Generator().manual_seed(1), record=True)


def test_board_labels_on_a_hand_checked_opening():
    # 4x4 start: white on 5 and 10, black on 6 and 9. Black plays 1 (flips 5),
    # then white plays 0 (flips 5 back along the diagonal 0-5-10).
    games = simulate(1, 4, moves=torch.tensor([[1, 0]]), record=True)
    bw = board_labels(games, "black_white")[0]
    mt = board_labels(games, "mine_theirs")[0]
    fl = board_labels(games, "flipped")[0]
    after1 = torch.zeros(16, dtype=torch.long)
    after1[[1, 5, 6, 9]] = 1
    after1[10] = 2
    assert torch.equal(bw[0], after1)
    assert torch.equal(mt[0], after1)  # black just moved, so black is "mine"
    after2_bw = torch.zeros(16, dtype=torch.long)
    after2_bw[[1, 6, 9]] = 1
    after2_bw[[0, 5, 10]] = 2
    assert torch.equal(bw[1], after2_bw)
    after2_mt = torch.zeros(16, dtype=torch.long)
    after2_mt[[0, 5, 10]] = 1  # white just moved
    after2_mt[[1, 6, 9]] = 2
    assert torch.equal(mt[1], after2_mt)
    assert fl[0].nonzero().flatten().tolist() == [5]
    assert fl[1].nonzero().flatten().tolist() == [5]
    assert (bw[2:] == IGNORE).all() and (mt[2:] == IGNORE).all() and (fl[2:] == IGNORE).all()


def test_mine_theirs_is_black_white_swapped_on_white_moves(games):
    bw, mt = board_labels(games, "black_white"), board_labels(games, "mine_theirs")
    swap = torch.tensor([0, 2, 1])
    black, white = games.mover == 1, games.mover == -1
    assert torch.equal(mt[black], bw[black])
    assert torch.equal(mt[white], swap[bw[white]])
    ended = games.mover == 0
    assert (mt[ended] == IGNORE).all() and (bw[ended] == IGNORE).all()


def test_flipped_labels_count_the_stones_gained(games):
    flipped = board_labels(games, "flipped")
    played = games.mover != 0
    boards = games.boards.flatten(2)
    before = torch.cat([initial_board(4).flatten().expand(len(boards), 1, -1), boards[:, :-1]], 1)
    mover = games.mover[..., None]
    n_flips = flipped.clamp(min=0).sum(-1)
    # The mover gains the placed stone plus every flipped one, each taken from the opponent.
    gained = (boards == mover).sum(-1) - (before == mover).sum(-1)
    assert (n_flips[played] >= 1).all()
    assert torch.equal(gained[played], n_flips[played] + 1)
    on = flipped == 1
    assert (boards[on] == mover.expand_as(boards)[on]).all()
    assert (before[on] == -mover.expand_as(boards)[on]).all()


def test_fit_probe_recovers_a_linear_labelling():
    gen = torch.Generator().manual_seed(0)
    d, squares, classes = 16, 5, 3
    W = torch.randn(d, squares, classes, generator=gen)
    X = torch.randn(3000, d, generator=gen) * 4 + 2  # off-centre and not unit scale
    y = torch.einsum("nd,dsc->nsc", X, W).argmax(-1)
    probe = fit_probe(X[:2000], y[:2000], classes, weight_decay=1e-5, frame="test")
    mean, per_square = probe.accuracy(X[2000:], y[2000:])
    assert mean > 0.97 and per_square.min() > 0.95 and per_square.shape == (squares,)
    again = fit_probe(X[:2000], y[:2000], classes, weight_decay=1e-5)
    assert torch.equal(probe.weight, again.weight) and torch.equal(probe.bias, again.bias)
    # Ignored labels are not fitted: scrambling them changes nothing.
    y_ign = y[:2000].clone()
    y_ign[:100] = IGNORE
    assert fit_probe(X[:2000], y_ign, classes, max_iter=20).weight.isfinite().all()
    unit = probe.direction(0, 1, versus=2)
    assert torch.isclose(unit.norm(), torch.tensor(1.0))


def test_collect_residuals_aligns_with_moves(model, task, games):
    layers = [0, 1, 2]
    X = collect_residuals(model, task, games, layers, batch_size=20)
    played = games.mover != 0
    assert X.shape == (3, int(played.sum()), 32)
    assert hook_name(0) == "blocks.0.hook_resid_pre"
    assert hook_name(2) == "blocks.1.hook_resid_post"
    tokens = task.from_moves(games.moves).tokens
    _, cache = model.run_with_cache(tokens[:1])
    # First row: game 0, token position 1 (its first move).
    assert torch.allclose(X[2, 0], cache["blocks.1.hook_resid_post"][0, 1], atol=1e-5)
    n0 = int(played[0].sum())
    assert torch.allclose(X[0, n0 - 1], cache["blocks.0.hook_resid_pre"][0, n0], atol=1e-5)


def test_edit_residual_reflects_the_margin():
    gen = torch.Generator().manual_seed(0)
    probe = Probe(torch.randn(8, 4, 3, generator=gen), torch.randn(4, 3, generator=gen), 0, "t")
    x = torch.randn(50, 8, generator=gen)
    source, target = torch.full((50,), 1), torch.full((50,), 2)
    edited = edit_residual(x, probe, 3, target, scale=1.0, source=source)
    before, after = probe.logits(x)[:, 3], probe.logits(edited)[:, 3]
    m_before = before[:, 2] - before[:, 1]
    m_after = after[:, 2] - after[:, 1]
    assert torch.allclose(m_after, m_before.abs(), atol=1e-4)
    d = probe.weight[:, 3, 2] - probe.weight[:, 3, 1]
    delta = edited - x  # the change lies along d only
    assert torch.allclose(delta - (delta @ d)[:, None] * d / d.dot(d), torch.zeros(8), atol=1e-5)
    # With two classes, a flip always makes the probe read the target (when it did not).
    two = Probe(probe.weight[..., :2], probe.bias[..., :2], 0, "t")
    reads = two.predict(x)[:, 0]
    flipped = edit_residual(x, two, 0, 1 - reads, scale=0.5)
    assert torch.equal(two.predict(flipped)[:, 0], 1 - reads)
    assert torch.equal(edit_residual(x, two, 0, reads), x)  # already the target: no change


def test_intervene_edits_only_the_chosen_position(model, task, games):
    tokens = task.from_moves(games.moves[:4]).tokens
    with torch.no_grad():
        clean = model(tokens)
    same = intervene(model, tokens, [0, 1, 2], 3, lambda r, layer: r)
    assert torch.allclose(same, clean, atol=1e-5)
    push = torch.randn(32, generator=torch.Generator().manual_seed(0)) * 5
    mid = intervene(model, tokens, 1, 3, lambda r, layer: r + push)
    assert torch.allclose(mid[:, :3], clean[:, :3], atol=1e-5)  # earlier positions: causal
    assert (mid[:, 3] - clean[:, 3]).abs().amax() > 1e-2
    last = intervene(model, tokens, 2, 3, lambda r, layer: r + push)  # after the last block
    changed = (last - clean).abs().amax(-1) > 1e-4
    assert changed[:, 3].all() and not changed[:, :3].any() and not changed[:, 4:].any()
    per_row = intervene(model, tokens, 2, torch.tensor([1, 2, 3, 4]), lambda r, layer: r + push)
    changed = (per_row - clean).abs().amax(-1) > 1e-4
    assert torch.equal(changed.nonzero()[:, 1], torch.tensor([1, 2, 3, 4]))


def test_flip_cases_change_the_legal_moves(games):
    game, position, square, legal = flip_cases(games, 20, seed=0)
    assert len(game) == 20
    for g, p, s, new in zip(game, position, square, legal, strict=True):
        board = games.boards[g, p - 1].clone().flatten()
        assert board[s] != 0
        board[s] = -board[s]
        player = games.mover[g, p : p + 1]
        expect = legal_moves(board.view(1, 4, 4), player)[0]
        assert torch.equal(new, expect) and not torch.equal(new, games.legal[g, p]) and new.any()


def test_intervention_success_reports_rates(model, task, games):
    X = collect_residuals(model, task, games, [1])[0]
    y = board_labels(games, "mine_theirs")[games.mover != 0]
    probe = fit_probe(X, y, 3, max_iter=30, layer=1, frame="mine_theirs")
    result = intervention_success(model, task, games, probe, n_cases=40)
    rates = (result.success_rate, result.null_success_rate, result.exact_rate)
    assert all(0.0 <= rate <= 1.0 for rate in (*rates, result.baseline_exact_rate))
    assert result.success.shape == (40,) and result.errors_edited >= 0
    # The edited top-k set has exactly as many squares as the edited board has legal moves.
    assert torch.equal(result.predicted.sum(-1), result.legal_edited.sum(-1))
    assert not (result.legal_edited == result.legal_original).all(-1).any()
    with pytest.raises(ValueError):
        intervention_success(model, task, games, Probe(probe.weight, probe.bias, 1, "flipped"))
