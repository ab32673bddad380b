"""A plain, one-board-at-a-time Othello engine: the cross-check for the vectorised one.

Nothing clever happens here: a board is a list of rows (lists of ints, 1 black, -1 white,
0 empty), and every rule is a loop that walks the eight directions square by square. It is
slow but easy to read and to trust, so the tests compare
`toyhelpers.families.othello.engine` against it and the benchmark uses it as the baseline.

Squares are numbered `row * size + col`, black moves first, a player with no legal move
passes, and the game ends when neither player can move.
"""

from __future__ import annotations

import random

BLACK, WHITE, EMPTY = 1, -1, 0
DIRECTIONS = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]

Board = list[list[int]]


def initial_board(size: int = 8) -> Board:
    """The starting position: white on the main diagonal of the centre, black on the other."""
    board = [[EMPTY] * size for _ in range(size)]
    m = size // 2
    board[m - 1][m - 1] = board[m][m] = WHITE
    board[m - 1][m] = board[m][m - 1] = BLACK
    return board


def flips(board: Board, player: int, square: int) -> list[int]:
    """The squares whose stones turn over if `player` plays `square` (empty if illegal).

    An occupied square flips nothing. Along each direction, walk over the opponent's
    stones; they flip only if the walk then lands on one of the player's own stones.
    """
    size = len(board)
    row, col = divmod(square, size)
    if board[row][col] != EMPTY:
        return []
    flipped = []
    for dr, dc in DIRECTIONS:
        line = []
        r, c = row + dr, col + dc
        while 0 <= r < size and 0 <= c < size and board[r][c] == -player:
            line.append(r * size + c)
            r, c = r + dr, c + dc
        if line and 0 <= r < size and 0 <= c < size and board[r][c] == player:
            flipped.extend(line)
    return flipped


def legal_moves(board: Board, player: int) -> list[int]:
    """The squares `player` may play, in increasing order."""
    size = len(board)
    return [sq for sq in range(size * size) if flips(board, player, sq)]


def play(board: Board, player: int, square: int) -> Board:
    """A new board after `player` plays `square`; raises ValueError if the move is illegal."""
    size = len(board)
    flipped = flips(board, player, square)
    if not flipped:
        raise ValueError(f"illegal move {square} for player {player}")
    new = [row[:] for row in board]
    for sq in [square, *flipped]:
        new[sq // size][sq % size] = player
    return new


def replay(moves: list[int], size: int) -> tuple[list[Board], list[int]]:
    """Play `moves` from the start, passing when needed: (board after each move, mover)."""
    board, player = initial_board(size), BLACK
    boards, movers = [], []
    for square in moves:
        if not legal_moves(board, player):  # a pass
            player = -player
        board = play(board, player, square)
        boards.append(board)
        movers.append(player)
        player = -player
    return boards, movers


def random_game(size: int, rng: random.Random) -> list[int]:
    """One game of uniformly random legal moves, as the list of squares played."""
    board, player = initial_board(size), BLACK
    moves = []
    while True:
        options = legal_moves(board, player)
        if not options:
            player = -player  # pass
            options = legal_moves(board, player)
            if not options:  # neither side can move: the game is over
                return moves
        square = rng.choice(options)
        board = play(board, player, square)
        moves.append(square)
        player = -player
