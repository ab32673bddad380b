"""Othello next-move prediction (seed problems 3.20, 3.30-3.33).

A sequence is `START m1 m2 ... PAD PAD`: the moves of one random legal game, each the
token `str(row * size + col)` (so a square's token id is its index), padded after the
game ends. Every move is scored: the model predicts move t+1 from the moves before it.

Games are uniformly random, so the next move is uniform over the legal squares. The
training loss is therefore the cross-entropy against that uniform distribution: its
expectation over the sampled move is the same objective as plain next-token prediction,
with far less noise (the model still only ever sees move sequences). The main metric is
`legal_rate`: how often the model's top-1 move is legal.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from toyhelpers.families.othello.engine import MAX_SIZE, check_size, simulate
from toyhelpers.tasks import Batch, Task, int_setting, register, shifted


@dataclass(frozen=True)
class OthelloBatch(Batch):
    """A batch of games plus, per position, the squares that are legal for that move.

    `legal[b, i]` is the set of legal squares when token `i` was played (all False where
    nothing is scored), so the logits at `i - 1` are judged against it.
    """

    legal: Bool[Tensor, "batch seq square"] | None = None

    def to(self, device: torch.device | str) -> OthelloBatch:
        legal = None if self.legal is None else self.legal.to(device)
        return OthelloBatch(self.tokens.to(device), self.scored.to(device), legal)

    def __getitem__(self, index: slice | Tensor) -> OthelloBatch:
        legal = None if self.legal is None else self.legal[index]
        return OthelloBatch(self.tokens[index], self.scored[index], legal)


@register("othello")
@dataclass(frozen=True)
class Othello(Task):
    description = "predict a legal next move in random Othello games (the world-model task)"

    size: int = int_setting(6, 4, MAX_SIZE)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_size(self.size)  # an even size

    @property
    def n_squares(self) -> int:
        return self.size * self.size

    @property
    def vocab(self) -> list[str]:
        return [str(sq) for sq in range(self.n_squares)] + ["START", "PAD"]

    @property
    def seq_len(self) -> int:
        return 1 + self.n_squares - 4

    def _generate(self, n: int, gen: torch.Generator, device: torch.device) -> OthelloBatch:
        games = simulate(n, self.size, gen, record=True)
        return self.from_moves(games.moves, games.legal)

    def from_moves(
        self,
        moves: Int[Tensor, "n T"],
        legal: Bool[Tensor, "n T square"] | None = None,
    ) -> OthelloBatch:
        """Token sequences for games given as move lists (-1 padded); legal sets if known."""
        n, device = moves.shape[0], moves.device
        if legal is None:
            legal = simulate(n, self.size, moves=moves, record=True).legal
        moves = torch.nn.functional.pad(moves, (0, self.seq_len - 1 - moves.shape[1]), value=-1)
        start = torch.full((n, 1), self.n_squares, dtype=torch.long, device=device)
        pad = self.n_squares + 1
        tokens = torch.cat([start, torch.where(moves < 0, pad, moves)], dim=1)
        scored = torch.cat([torch.zeros_like(start, dtype=torch.bool), moves >= 0], dim=1)
        legal = torch.nn.functional.pad(legal, (0, 0, 1, self.seq_len - 1 - legal.shape[1]))
        return OthelloBatch(tokens, scored, legal)

    def _targets(self, batch: Batch) -> Bool[Tensor, "batch seq_1 square"]:
        if not isinstance(batch, OthelloBatch) or batch.legal is None:
            raise ValueError("othello needs the legal-move sets: use task.from_moves(moves)")
        return batch.legal[:, 1:]

    def loss(self, logits: Float[Tensor, "batch seq d_vocab"], batch: Batch) -> Float[Tensor, ""]:
        """Cross-entropy against the uniform distribution over the legal next moves."""
        pred, _, mask = shifted(logits, batch)
        legal = self._targets(batch)[mask].float()
        logp = pred[mask].log_softmax(-1)[:, : self.n_squares]
        return -((legal / legal.sum(-1, keepdim=True)) * logp).sum(-1).mean()

    @torch.no_grad()
    def metrics(self, logits: Float[Tensor, "batch seq d_vocab"], batch: Batch) -> dict[str, float]:
        """`legal_rate`: how often the top-1 move is legal; `accuracy` is its per-game version."""
        pred, _, mask = shifted(logits, batch)
        legal = self._targets(batch)
        top = pred.argmax(-1)
        ok = legal.gather(-1, top.clamp(max=self.n_squares - 1)[..., None]).squeeze(-1)
        ok &= top < self.n_squares
        return {
            "loss": self.loss(logits, batch).item(),
            "legal_rate": ok[mask].float().mean().item(),
            "accuracy": (ok | ~mask).all(-1).float().mean().item(),
        }
