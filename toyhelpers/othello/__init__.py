"""Othello: a vectorised engine, the board-state probes and residual-stream interventions."""

from toyhelpers.othello.engine import (
    BLACK,
    EMPTY,
    WHITE,
    Games,
    board_states,
    initial_board,
    legal_moves,
    play,
    random_games,
    simulate,
)

__all__ = [
    "BLACK",
    "EMPTY",
    "WHITE",
    "Games",
    "board_states",
    "initial_board",
    "legal_moves",
    "play",
    "random_games",
    "simulate",
]
