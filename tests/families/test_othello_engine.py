"""The vectorised Othello engine: the rules on hand-made positions, and agreement with the
one-board-at-a-time reference engine (`families/othello/reference.py`) along random games."""

import random

import pytest
import torch

from toyhelpers.families.othello import engine
from toyhelpers.families.othello import reference as ref
from toyhelpers.families.othello.engine import (
    BLACK,
    WHITE,
    board_states,
    initial_board,
    legal_moves,
    play,
    random_games,
    simulate,
)

STONES = {".": 0, "B": BLACK, "W": WHITE}


def board(*rows: str) -> list[list[int]]:
    """A position from rows of text: B black, W white, . empty."""
    return [[STONES[ch] for ch in row] for row in rows]


def empty_board(size: int) -> list[list[int]]:
    return [[0] * size for _ in range(size)]


def vec_legal(position: list[list[int]], player: int) -> list[int]:
    """The vectorised engine's legal squares for one position."""
    boards = torch.tensor([position], dtype=torch.int8)
    legal = legal_moves(boards, torch.tensor([player], dtype=torch.int8))
    return legal[0].nonzero().flatten().tolist()


def vec_play(position: list[list[int]], player: int, square: int) -> list[list[int]]:
    """The vectorised engine's board after one move on one position."""
    boards = torch.tensor([position], dtype=torch.int8)
    after = play(boards, torch.tensor([player], dtype=torch.int8), torch.tensor([square]))
    return after[0].tolist()


def sq(row: int, col: int, size: int = 6) -> int:
    return row * size + col


# --- the rules on hand-made positions -------------------------------------------------------


@pytest.mark.parametrize("dr, dc", engine.DIRECTIONS)
@pytest.mark.parametrize("run", [1, 2])
def test_capture_in_each_direction(dr, dc, run):
    # Black plays at `start`; `run` white stones follow in direction (dr, dc), then a black one.
    size = 6
    start = (4 if dr < 0 else 1 if dr > 0 else 2, 4 if dc < 0 else 1 if dc > 0 else 2)
    position = empty_board(size)
    line = [(start[0] + k * dr, start[1] + k * dc) for k in range(1, run + 2)]
    for r, c in line[:-1]:
        position[r][c] = WHITE
    position[line[-1][0]][line[-1][1]] = BLACK
    move = sq(*start)
    assert ref.legal_moves(position, BLACK) == [move]
    assert vec_legal(position, BLACK) == [move]
    expected = empty_board(size)
    for r, c in [start, *line]:
        expected[r][c] = BLACK
    assert ref.play(position, BLACK, move) == expected
    assert vec_play(position, BLACK, move) == expected


@pytest.mark.parametrize("size", [6, 8])
def test_capture_of_the_longest_possible_run(size):
    # A whole row of white stones but the two ends: black at one end captures all of them.
    position = empty_board(size)
    position[0] = [0] + [WHITE] * (size - 2) + [BLACK]
    assert vec_legal(position, BLACK) == ref.legal_moves(position, BLACK) == [0]
    assert vec_play(position, BLACK, 0)[0] == [BLACK] * size
    # Without the black stone at the far end there is nothing to capture.
    position[0][-1] = 0
    assert vec_legal(position, BLACK) == ref.legal_moves(position, BLACK) == []


def test_a_run_must_end_on_the_players_own_stone():
    position = board(
        "WWW.B.",  # from (0, 3) the run of white ends at the edge
        "......",
        ".WW.B.",  # from (2, 0) or (2, 3) it ends on an empty square
        "......",
        "......",
        "......",
    )
    assert vec_legal(position, BLACK) == ref.legal_moves(position, BLACK) == []


def test_a_move_that_flips_several_lines_at_once():
    position = board(
        "B.B.B.",
        ".WWW..",
        "BW.WB.",
        ".WWW..",
        "B.B.W.",
        "......",
    )
    # Black at (2, 2) closes seven lines; the eighth, down-right, ends on white (4, 4).
    after = board(
        "B.B.B.",
        ".BBB..",
        "BBBBB.",
        ".BBW..",
        "B.B.W.",
        "......",
    )
    move = sq(2, 2)
    assert move in ref.legal_moves(position, BLACK)
    assert move in vec_legal(position, BLACK)
    assert ref.play(position, BLACK, move) == after
    assert vec_play(position, BLACK, move) == after


def test_a_move_that_flips_nothing_is_illegal():
    position = initial_board(6).tolist()
    # (0, 0) touches nothing; (4, 1) touches only black's own stone.
    for move in [sq(0, 0), sq(4, 1)]:
        assert move not in vec_legal(position, BLACK)
        with pytest.raises(ValueError, match="flips no stone"):
            vec_play(position, BLACK, move)
        with pytest.raises(ValueError, match="illegal move"):
            ref.play(position, BLACK, move)


def test_an_occupied_square_is_illegal():
    position = initial_board(6).tolist()
    for move in [sq(2, 2), sq(2, 3)]:  # a white and a black stone
        assert move not in vec_legal(position, BLACK)
        with pytest.raises(ValueError, match="already occupied"):
            vec_play(position, BLACK, move)
        with pytest.raises(ValueError, match="illegal move"):
            ref.play(position, BLACK, move)


def test_play_leaves_a_board_with_move_minus_one_unchanged():
    boards = initial_board(6).expand(2, 6, 6).clone()
    players = torch.tensor([BLACK, WHITE], dtype=torch.int8)
    after = play(boards, players, torch.tensor([sq(1, 2), -1]))
    assert torch.equal(after[1], boards[1])
    assert after[0].tolist() == ref.play(boards[0].tolist(), BLACK, sq(1, 2))


@pytest.mark.parametrize("size", [4, 6, 8])
def test_initial_position(size):
    start = initial_board(size)
    m = size // 2
    assert start.dtype == torch.int8 and start.shape == (size, size)
    assert start[m - 1, m - 1] == start[m, m] == WHITE
    assert start[m - 1, m] == start[m, m - 1] == BLACK
    assert int((start != 0).sum()) == 4
    assert start.tolist() == ref.initial_board(size)
    # Black's four opening moves, as on the standard 8x8 board.
    expected = sorted([sq(m - 2, m - 1, size), sq(m - 1, m - 2, size)])
    expected += sorted([sq(m, m + 1, size), sq(m + 1, m, size)])
    assert vec_legal(start.tolist(), BLACK) == expected


def test_a_forced_pass_lets_the_opponent_move_twice():
    # 4x4: after the first four moves black has no move, so white plays again (move 4).
    game = [4, 8, 14, 0, 15, 11, 13, 12, 7, 1, 2, 3]
    before_pass = board(
        "W...",
        "WBB.",
        "WBB.",
        "..B.",
    )
    states = board_states(game, 4)
    assert states[3].tolist() == before_pass
    assert vec_legal(before_pass, BLACK) == ref.legal_moves(before_pass, BLACK) == []
    assert vec_legal(before_pass, WHITE) == ref.legal_moves(before_pass, WHITE) != []
    games = simulate(1, 4, moves=torch.tensor([game]), record=True)
    movers = [BLACK, WHITE, BLACK, WHITE, WHITE, BLACK, WHITE, BLACK, WHITE, BLACK, WHITE, BLACK]
    assert games.mover[0].tolist() == movers
    assert ref.replay(game, 4)[1] == movers
    assert [b.tolist() for b in states] == ref.replay(game, 4)[0]


def test_a_game_ends_when_neither_player_can_move():
    # 4x4 in six moves (white passes before the last): six squares stay empty.
    game = [14, 13, 12, 15, 7, 0]
    final = board(
        "B...",
        ".BBB",
        ".BB.",
        "BBBW",
    )
    games = simulate(1, 4, moves=torch.tensor([game]), record=True)
    assert games.mover[0].tolist() == [BLACK, WHITE, BLACK, WHITE, BLACK, BLACK, 0, 0, 0, 0, 0, 0]
    assert games.boards[0, 5].tolist() == final
    assert (games.boards[0, 6:] == games.boards[0, 5]).all()  # the final board is kept
    assert not games.legal[0, 6:].any()
    for player in (BLACK, WHITE):
        assert vec_legal(final, player) == ref.legal_moves(final, player) == []
    # A random game that gets there stops there too: 6x6, black wipes white out in nine.
    wipeout = [13, 19, 25, 7, 1, 26, 27, 16, 17]
    assert (board_states(wipeout, 6)[-1] >= 0).all()
    with pytest.raises(ValueError, match="after the game ended"):
        simulate(1, 6, moves=torch.tensor([wipeout + [0]]))


@pytest.mark.parametrize("size", [5, 2, 6.0, "6", 28, True])
def test_check_size_says_what_is_allowed(size):
    message = "board size must be an even int from 4 to 26, got"
    for call in [
        lambda: engine.check_size(size),
        lambda: initial_board(size),
        lambda: random_games(2, size),
        lambda: simulate(2, size, torch.Generator()),
    ]:
        with pytest.raises(ValueError, match=message):
            call()


def test_simulate_names_the_game_and_move_of_an_illegal_move():
    moves = torch.tensor([[8, 7, 6], [8, 7, 0]])  # game 1, move 2: (0, 0) flips nothing
    with pytest.raises(ValueError, match=r"game 1: move 2 \(0\) is illegal"):
        simulate(2, 6, moves=moves)
    with pytest.raises(ValueError, match=r"game 0: move 1 \(8\) is illegal"):
        board_states([8, 8], 6)  # an occupied square
    with pytest.raises(ValueError, match=r"game 0: move 2 \(7\) comes after the game ended"):
        simulate(1, 6, moves=torch.tensor([[8, -1, 7]]))  # a move after the padding


# --- random games, and agreement with the reference engine ----------------------------------


def test_random_games_are_deterministic_and_padded():
    games = random_games(64, 6, seed=0)
    assert games.shape == (64, 32) and games.dtype == torch.long
    assert torch.equal(games, random_games(64, 6, seed=0))
    assert not torch.equal(games, random_games(64, 6, seed=1))
    played = games >= 0
    # Padding only at the end: once a row hits -1 it stays -1.
    assert torch.equal(played, played.cumprod(1).bool())
    assert ((games >= -1) & (games < 36)).all()


@pytest.mark.parametrize("size", [4, 6, 8])
def test_the_loop_without_host_checks_plays_the_same_games(size):
    """The GPU's loop (passes computed for every game, the end looked for every 8 moves)
    against the CPU's, on the CPU: the same moves, boards and legal sets. Many 4x4 games end
    before the board is full (passes, and games that end with squares left)."""
    with_checks = simulate(200, size, torch.Generator().manual_seed(size), record=True)
    without = simulate(
        200, size, torch.Generator().manual_seed(size), record=True, host_checks=False
    )
    for name in ("moves", "mover", "boards", "legal"):
        assert torch.equal(getattr(with_checks, name), getattr(without, name)), name
    if size == 4:
        assert (with_checks.moves[:, -1] == -1).float().mean() > 0.1


def test_random_games_are_complete_legal_games():
    games = random_games(40, 6, seed=3)
    for row in games.tolist():
        game = [m for m in row if m >= 0]
        boards, movers = ref.replay(game, 6)  # raises on an illegal move
        assert len(set(game)) == len(game)
        # The game stopped because neither player could move, not earlier.
        assert ref.legal_moves(boards[-1], BLACK) == ref.legal_moves(boards[-1], WHITE) == []


def test_board_states_match_a_replay_with_the_reference_engine():
    for size, seed in [(4, 0), (6, 1), (8, 2)]:
        game = random_games(1, size, seed=seed)[0]
        states = board_states(game, size)
        length = int((game >= 0).sum())
        assert states.shape == (length, size, size) and states.dtype == torch.int8
        expected = ref.replay([m for m in game.tolist() if m >= 0], size)[0]
        assert [b.tolist() for b in states] == expected
    assert board_states([], 6).shape == (0, 6, 6)


@pytest.mark.parametrize("size, n", [(4, 100), (6, 200), (8, 50), (10, 10)])
def test_legal_sets_agree_with_the_reference_along_random_games(size, n):
    games = simulate(n, size, torch.Generator().manual_seed(size), record=True)
    for b in range(n):
        position, player = ref.initial_board(size), BLACK
        for t, move in enumerate(games.moves[b].tolist()):
            if move < 0:
                assert ref.legal_moves(position, player) == []
                assert ref.legal_moves(position, -player) == []
                assert games.mover[b, t:].eq(0).all() and not games.legal[b, t:].any()
                break
            options = ref.legal_moves(position, player)
            if not options:  # a pass
                player = -player
                options = ref.legal_moves(position, player)
            assert games.legal[b, t].nonzero().flatten().tolist() == options, (b, t)
            assert int(games.mover[b, t]) == player
            position = ref.play(position, player, move)
            assert games.boards[b, t].tolist() == position
            player = -player


@pytest.mark.parametrize("size", [4, 6, 8, 10])
def test_legal_moves_and_play_agree_on_random_positions(size):
    # Positions no game reaches (random stones everywhere), so edges and long runs get tried.
    # Sizes up to 8 take the engine's int64 bitboard path, 10 its boolean-grid path.
    rng = random.Random(size)
    positions, players = [], []
    for _ in range(150):
        empty = rng.uniform(0.1, 0.7)
        positions.append(
            [
                [0 if rng.random() < empty else rng.choice([1, -1]) for _ in range(size)]
                for _ in range(size)
            ]
        )
        players.append(rng.choice([BLACK, WHITE]))
    boards = torch.tensor(positions, dtype=torch.int8)
    player = torch.tensor(players, dtype=torch.int8)
    legal = legal_moves(boards, player)
    rows, moves = [], []
    for b, (position, p) in enumerate(zip(positions, players, strict=True)):
        options = ref.legal_moves(position, p)
        assert legal[b].nonzero().flatten().tolist() == options
        rows += [b] * len(options)
        moves += options
    assert len(moves) > 100
    after = play(boards[rows], player[rows], torch.tensor(moves))
    for i, (b, move) in enumerate(zip(rows, moves, strict=True)):
        assert after[i].tolist() == ref.play(positions[b], players[b], move)


def test_reference_random_game_is_a_complete_legal_game():
    game = ref.random_game(6, random.Random(0))
    states = board_states(game, 6)
    assert len(states) == len(game)
    assert [b.tolist() for b in states] == ref.replay(game, 6)[0]
