"""A vectorised Othello engine for square boards of any even size.

Every function works on a whole batch of games at once. A board is a tensor of shape
`[..., size, size]` holding 1 for a black stone, -1 for a white one and 0 for an empty
square; black moves first. Squares are numbered `row * size + col`.

The rules in one place: a move is legal when it lands on an empty square and, along at
least one of the eight directions, the squares next to it hold one or more opponent
stones followed by a stone of the mover's colour; every such run of opponent stones is
flipped. A player with no legal move passes (a pass is not a token); the game ends when
neither player can move, possibly with empty squares left.

Vectorised with whole-board shifts: for one direction, "a run of opponent stones that
starts next to one of mine" is grown one square per step by shifting a boolean board, so a
legal-move search is a few dozen elementwise operations on all games at once, for any size.
Up to 8x8 a board's stones of one colour fit in one int64, and the same shifts run as bit
shifts on one number per game (see `BITBOARD_MAX_SIZE`); larger boards use boolean grids.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Bool, Int, Int8
from torch import Tensor

BLACK, WHITE, EMPTY = 1, -1, 0
DIRECTIONS = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]
MAX_SIZE = 26  # any even size from 4 up works; this bound only keeps mistakes obvious


def check_size(size: int) -> int:
    """Return `size` if it is a playable board size, else raise a clear error."""
    if not isinstance(size, int) or size < 4 or size % 2 or size > MAX_SIZE:
        raise ValueError(f"board size must be an even int from 4 to {MAX_SIZE}, got {size!r}")
    return size


def initial_board(size: int = 8) -> Int8[Tensor, "size size"]:
    """The starting position: two black and two white stones crossed in the centre."""
    check_size(size)
    board = torch.zeros(size, size, dtype=torch.int8)
    m = size // 2
    board[m - 1, m - 1] = board[m, m] = WHITE
    board[m - 1, m] = board[m, m - 1] = BLACK
    return board


def _shift(x: Bool[Tensor, "n size size"], dr: int, dc: int) -> Bool[Tensor, "n size size"]:
    """Move every True one square in direction (dr, dc); what leaves the board is dropped."""
    size = x.shape[-1]
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1))
    return padded[:, 1 - dr : 1 - dr + size, 1 - dc : 1 - dc + size]


def _runs(
    start: Bool[Tensor, "n size size"], through: Bool[Tensor, "n size size"], dr: int, dc: int
) -> Bool[Tensor, "n size size"]:
    """Squares reached from `start` by one or more steps (dr, dc), all of them on `through`."""
    run = _shift(start, dr, dc) & through
    for _ in range(start.shape[-1] - 3):  # a run of opponent stones is at most size - 2 long
        run = run | (_shift(run, dr, dc) & through)
    return run


def legal_moves(
    boards: Int8[Tensor, "n size size"], player: Int8[Tensor, " n"]
) -> Bool[Tensor, "n square"]:
    """Which squares `player` (1 black, -1 white, one per board) may play on each board."""
    if boards.shape[-1] <= BITBOARD_MAX_SIZE:
        return _legal_moves_bits(boards, player)
    mine = boards == player[:, None, None]
    theirs = boards == -player[:, None, None]
    empty = boards == EMPTY
    legal = torch.zeros_like(empty)
    for dr, dc in DIRECTIONS:
        # Empty squares one step beyond a run of their stones that starts next to mine.
        legal |= _shift(_runs(mine, theirs, dr, dc), dr, dc) & empty
    return legal.flatten(1)


def play(
    boards: Int8[Tensor, "n size size"],
    player: Int8[Tensor, " n"],
    moves: Int[Tensor, " n"],
) -> Int8[Tensor, "n size size"]:
    """The boards after `player` plays `moves` (square indices); -1 leaves a board unchanged.

    Raises if any move is illegal, so a caller's bookkeeping error cannot pass silently.
    """
    n, size = boards.shape[0], boards.shape[-1]
    placed = torch.zeros(n, size * size, dtype=torch.bool, device=boards.device)
    active = moves >= 0
    placed[active, moves[active]] = True
    placed = placed.view(n, size, size)
    if (placed & (boards != EMPTY)).any():
        raise ValueError("illegal move: a square that is already occupied")
    if size <= BITBOARD_MAX_SIZE:
        flips = _flips_bits(boards, player, moves)
    else:
        mine = boards == player[:, None, None]
        theirs = boards == -player[:, None, None]
        flips = torch.zeros_like(placed)
        for dr, dc in DIRECTIONS:
            run = _runs(placed, theirs, dr, dc)  # their stones in a line from the new stone
            closed = (_shift(run, dr, dc) & mine).flatten(1).any(-1)  # ...ended by one of mine
            flips |= run & closed[:, None, None]
    if (active & ~flips.flatten(1).any(-1)).any():
        raise ValueError("illegal move: it flips no stone")
    return torch.where(flips | placed, player[:, None, None], boards)


# Boards up to 8x8 have at most 64 squares, so a set of squares fits in one int64 (square i
# is bit i) and a shift of the whole board is one bit shift plus a mask: the same algorithm
# as `_runs`, on one number per game instead of a grid of booleans, and many times faster.
BITBOARD_MAX_SIZE = 8
_BIT_CACHE: dict[tuple[int, torch.device], tuple[Tensor, int, list[tuple[int, int]]]] = {}


def _signed(bits: int) -> int:
    """A 64-bit pattern as the int64 value that holds it."""
    return bits - (1 << 64) if bits >= 1 << 63 else bits


def _bit_tables(size: int, device: torch.device) -> tuple[Tensor, int, list[tuple[int, int]]]:
    """Per size: each square's bit, all squares' bits, and per direction (offset, mask).

    A direction's mask keeps the squares whose neighbour one step back is on the board, so
    a shift never wraps from one row's end to the next row (or in through the sign bit).
    """
    key = (size, device)
    if key not in _BIT_CACHE:
        full = _signed((1 << size * size) - 1)
        weights = torch.tensor([_signed(1 << i) for i in range(size * size)], device=device)
        shifts = []
        for dr, dc in DIRECTIONS:
            mask = sum(
                1 << (r * size + c)
                for r in range(size)
                for c in range(size)
                if 0 <= r - dr < size and 0 <= c - dc < size
            )
            shifts.append((dr * size + dc, _signed(mask)))
        _BIT_CACHE[key] = (weights, full, shifts)
    return _BIT_CACHE[key]


def _to_bits(squares: Bool[Tensor, "n size size"], weights: Tensor) -> Int[Tensor, " n"]:
    """Each board's set of True squares as one int64 (the squares' bits added up)."""
    if squares.device.type == "cpu":  # an integer matmul: CPU only, and twice as fast there
        return squares.flatten(1).long() @ weights
    return (squares.flatten(1).long() * weights).sum(-1)


def _from_bits(bits: Int[Tensor, " n"], weights: Tensor) -> Bool[Tensor, "n square"]:
    return (bits[:, None] & weights) != 0


def _shift_bits(x: Int[Tensor, " n"], offset: int, mask: int) -> Int[Tensor, " n"]:
    return (x << offset if offset > 0 else x >> -offset) & mask


def _runs_bits(start: Tensor, through: Tensor, offset: int, mask: int, size: int) -> Tensor:
    run = _shift_bits(start, offset, mask) & through
    for _ in range(size - 3):  # a run of opponent stones is at most size - 2 long
        run |= _shift_bits(run, offset, mask) & through
    return run


def _legal_bits(mine: Tensor, theirs: Tensor, size: int) -> Int[Tensor, " n"]:
    """The legal squares of the player holding `mine` against `theirs`, as bits."""
    _, full, shifts = _bit_tables(size, mine.device)
    empty = ~(mine | theirs) & full
    legal = torch.zeros_like(mine)
    for offset, mask in shifts:
        legal |= _shift_bits(_runs_bits(mine, theirs, offset, mask, size), offset, mask) & empty
    return legal


def _legal_moves_bits(boards: Tensor, player: Tensor) -> Bool[Tensor, "n square"]:
    size = boards.shape[-1]
    weights, _, _ = _bit_tables(size, boards.device)
    mine = _to_bits(boards == player[:, None, None], weights)
    theirs = _to_bits(boards == -player[:, None, None], weights)
    return _from_bits(_legal_bits(mine, theirs, size), weights)


def _flip_bits(placed: Tensor, mine: Tensor, theirs: Tensor, size: int) -> Int[Tensor, " n"]:
    """The stones of `theirs` that a stone placed on `placed` (one bit, or 0) flips."""
    _, _, shifts = _bit_tables(size, mine.device)
    flips = torch.zeros_like(mine)
    for offset, mask in shifts:
        run = _runs_bits(placed, theirs, offset, mask, size)  # their stones from the new one
        closed = (_shift_bits(run, offset, mask) & mine) != 0  # ...ended by one of mine
        flips |= torch.where(closed, run, 0)
    return flips


def _flips_bits(boards: Tensor, player: Tensor, moves: Tensor) -> Bool[Tensor, "n size size"]:
    size = boards.shape[-1]
    weights, _, _ = _bit_tables(size, boards.device)
    mine = _to_bits(boards == player[:, None, None], weights)
    theirs = _to_bits(boards == -player[:, None, None], weights)
    start = torch.where(moves >= 0, weights[moves.clamp(min=0)], 0)
    return _from_bits(_flip_bits(start, mine, theirs, size), weights).view(boards.shape)


class _BitBoards:
    """The position of `n` games as two int64 bitboards per game (sizes up to 8): the
    move loop of `simulate` works on these and never builds a grid it does not record."""

    def __init__(self, n: int, size: int, device: torch.device) -> None:
        self.size = size
        self.weights, _, _ = _bit_tables(size, device)
        start = initial_board(size).to(device)[None]
        self.black = _to_bits(start == BLACK, self.weights).expand(n).clone()
        self.white = _to_bits(start == WHITE, self.weights).expand(n).clone()

    def _sides(self, player: Tensor) -> tuple[Tensor, Tensor]:
        """(mine, theirs) for each game's `player`."""
        black = player == BLACK
        mine = torch.where(black, self.black, self.white)
        return mine, torch.where(black, self.white, self.black)

    def legal(self, player: Tensor) -> Bool[Tensor, "n square"]:
        return _from_bits(_legal_bits(*self._sides(player), self.size), self.weights)

    def play(self, player: Tensor, moves: Tensor) -> None:
        """Play legal `moves` (-1: no move); legality is the caller's to check."""
        mine, theirs = self._sides(player)
        placed = torch.where(moves >= 0, self.weights[moves.clamp(min=0)], 0)
        flips = _flip_bits(placed, mine, theirs, self.size)
        mine, theirs = mine | placed | flips, theirs & ~flips
        black = player == BLACK
        self.black = torch.where(black, mine, theirs)
        self.white = torch.where(black, theirs, mine)

    def boards(self) -> Int8[Tensor, "n size size"]:
        grid = _from_bits(self.black, self.weights).to(torch.int8)
        grid -= _from_bits(self.white, self.weights).to(torch.int8)
        return grid.view(-1, self.size, self.size)


class _GridBoards:
    """The position of `n` games as `[n, size, size]` grids (any size)."""

    def __init__(self, n: int, size: int, device: torch.device) -> None:
        self.grid = initial_board(size).to(device).expand(n, size, size).clone()

    def legal(self, player: Tensor) -> Bool[Tensor, "n square"]:
        return legal_moves(self.grid, player)

    def play(self, player: Tensor, moves: Tensor) -> None:
        self.grid = play(self.grid, player, moves)

    def boards(self) -> Int8[Tensor, "n size size"]:
        return self.grid


def random_games(
    n: int, size: int = 6, seed: int = 0, *, generator: torch.Generator | None = None
) -> Int[Tensor, "n max_moves"]:
    """`n` games of uniformly random legal moves, as square indices padded with -1.

    Each row lists the moves in order (passes are skipped, not written); a game that ends
    early is followed by -1. `max_moves` is `size * size - 4`. The same seed always gives
    the same games; pass a running `generator` instead to draw on its device.
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    check_size(size)
    gen = generator if generator is not None else torch.Generator().manual_seed(seed)
    return simulate(n, size, gen).moves


@dataclass
class Games:
    """A batch of games move by move (T = `size * size - 4`, padded past each game's end).

    `moves[b, t]` is the t-th move (-1 after the end); `boards[b, t]` the board after it;
    `mover[b, t]` who played it (1 black, -1 white, 0 after the end); `legal[b, t]` the
    squares that were legal for that move, i.e. what a perfect next-move model allows.
    `boards` and `legal` are only filled when asked for (`record=True`).
    """

    moves: Int[Tensor, "n T"]
    mover: Int8[Tensor, "n T"]
    boards: Int8[Tensor, "n T size size"] | None = None
    legal: Bool[Tensor, "n T square"] | None = None


def simulate(
    n: int,
    size: int,
    gen: torch.Generator | None = None,
    *,
    moves: Int[Tensor, "n T"] | None = None,
    record: bool = False,
    host_checks: bool | None = None,
) -> Games:
    """Play `n` games at once: random legal moves drawn from `gen`, or the given `moves`.

    Given moves are checked: an illegal one raises, naming the game and move number, and so
    does a move after the game's end (after padding, or when neither player can move).

    `host_checks` says whether the move loop of random games may ask the device a question
    (does any player have to pass? has every game ended?). On a CPU that is free and skips
    work; on a GPU each question waits for the device to finish, so there (the default off
    the CPU) the loop computes passes for every game and looks for the end only every 8
    moves. Both give the same games (the generator may end in another state: the loop
    without checks can run a few moves past the last game's end).
    """
    check_size(size)
    device = moves.device if moves is not None else (gen.device if gen else torch.device("cpu"))
    n_moves = size * size - 4
    if moves is not None:
        if moves.ndim != 2 or moves.shape[1] > n_moves:
            raise ValueError(
                f"moves must be [games, <= {n_moves}] for size {size}, got {tuple(moves.shape)}"
            )
        if ((moves < -1) | (moves >= size * size)).any():
            raise ValueError(f"moves must be squares 0..{size * size - 1} or -1 (padding)")
        n = moves.shape[0]
        moves = torch.nn.functional.pad(moves.long(), (0, n_moves - moves.shape[1]), value=-1)
    elif gen is None:
        raise ValueError("simulate needs a generator (random games) or moves (a replay)")
    state = (_BitBoards if size <= BITBOARD_MAX_SIZE else _GridBoards)(n, size, device)
    player = torch.full((n,), BLACK, dtype=torch.int8, device=device)
    out = Games(
        moves=torch.full((n, n_moves), -1, dtype=torch.long, device=device),
        mover=torch.zeros(n, n_moves, dtype=torch.int8, device=device),
    )
    if record:
        out.boards = torch.zeros(n, n_moves, size, size, dtype=torch.int8, device=device)
        out.legal = torch.zeros(n, n_moves, size * size, dtype=torch.bool, device=device)
    if host_checks is None:
        host_checks = device.type == "cpu"
    host_checks = host_checks or moves is not None  # a replay's checks need the host anyway
    done = torch.zeros(n, dtype=torch.bool, device=device)
    recorded = 0
    for t in range(n_moves):
        legal = state.legal(player)
        stuck = ~legal.any(-1)
        if not host_checks or stuck.any():
            # Stuck players pass; if the opponent is stuck too, the game is over.
            player = torch.where(stuck, -player, player)
            legal = torch.where(stuck[:, None], state.legal(player), legal)
            done |= ~legal.any(-1)
        if moves is None:
            # A uniform choice among legal squares: the argmax of random scores on them.
            scores = torch.rand(n, size * size, generator=gen, device=device)
            move = scores.masked_fill(~legal, -1).argmax(-1)
        else:
            move = moves[:, t]
            _check_not_over(done, moves, t)
            done |= move < 0
            ok = legal.gather(1, move.clamp(min=0)[:, None]).squeeze(1)
            bad = ~done & ~ok
            if bad.any():
                b = int(bad.nonzero()[0])
                raise ValueError(f"game {b}: move {t} ({int(move[b])}) is illegal in that position")
        if (host_checks or t % 8 == 7) and done.all():
            if moves is not None:
                _check_not_over(done, moves, t, to_end=True)
            break
        move = torch.where(done, -1, move)
        out.moves[:, t] = move
        out.mover[:, t] = torch.where(done, 0, player)
        state.play(player, move)
        if record:
            out.boards[:, t] = state.boards()
            out.legal[:, t] = legal & ~done[:, None]
        player = torch.where(done, player, -player)
        recorded = t + 1
    if record:  # after every game has ended, the boards stay in their final position
        out.boards[:, recorded:] = state.boards()[:, None]
    return out


def _check_not_over(done: Tensor, moves: Tensor, t: int, to_end: bool = False) -> None:
    """Raise if a game that is `done` still has a move at step `t` (or at any step from t)."""
    late = done[:, None] & (moves[:, t:] if to_end else moves[:, t : t + 1]).ge(0)
    if late.any():
        b, k = (int(i) for i in late.nonzero()[0])
        raise ValueError(
            f"game {b}: move {t + k} ({int(moves[b, t + k])}) comes after the game ended"
        )


def board_states(
    game: Int[Tensor, " moves"] | list[int], size: int = 6
) -> Int8[Tensor, "moves size size"]:
    """The board after each move of `game`: `[moves, size, size]`, 1 black, -1 white, 0 empty.

    Padding (-1) ends the game; an illegal move raises, naming where it happened.
    """
    game = torch.as_tensor(game, dtype=torch.long).flatten()
    length = int((game >= 0).cumprod(0).sum())
    if length == 0:
        return torch.zeros(0, size, size, dtype=torch.int8)
    games = simulate(1, size, moves=game[None, :length], record=True)
    return games.boards[0, :length]
