"""Permuting a list by a given permutation (seed problem 3.6). Used in lesson 04 (permute)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from toyhelpers.tasks import Batch, Task, int_setting, register

MAX_VALUES = 1000
MAX_LENGTH = 32


@register("permute")
@dataclass(frozen=True)
class Permute(Task):
    """Apply a permutation to a list, the permutation interleaved with the answer:
    `START x0..x(n-1) SEP P(p0) y0 P(p1) y1 ... P(p(n-1)) y(n-1)`, with y_i = x_{p_i}.

    Each position token `P(p_i)` names the input position the next output must copy, so
    the model reads "which position" and must fetch "what is there". Values are the tokens
    `"0".."n_values-1"` (duplicates allowed); positions are the distinct tokens
    `"P0".."P(n-1)"`, so a value 3 and a position P3 never share an id. Ids: values first,
    then positions, then `START`, `SEP`. Scored: y0..y(n-1), each predicted from its `P`.
    """

    description = "permute a list: START x0..x(n-1) SEP P(p0) y0 .. P(p(n-1)) y(n-1)"

    length: int = int_setting(5, 2, MAX_LENGTH)
    n_values: int = int_setting(10, 2, MAX_VALUES)

    @property
    def vocab(self) -> list[str]:
        values = [str(v) for v in range(self.n_values)]
        positions = [f"P{i}" for i in range(self.length)]
        return values + positions + ["START", "SEP"]

    @property
    def seq_len(self) -> int:
        return 3 * self.length + 2

    @property
    def input_positions(self) -> range:
        """Token positions of x0..x(n-1)."""
        return range(1, self.length + 1)

    @property
    def permutation_positions(self) -> range:
        """Token positions of P(p0)..P(p(n-1)): the positions that predict y0..y(n-1)."""
        return range(self.length + 2, 3 * self.length + 2, 2)

    @property
    def output_positions(self) -> range:
        """Token positions of y0..y(n-1)."""
        return range(self.length + 3, 3 * self.length + 2, 2)

    def _generate(self, n: int, gen: torch.Generator, device: torch.device) -> Batch:
        xs = torch.randint(0, self.n_values, (n, self.length), generator=gen, device=device)
        perm = torch.rand(n, self.length, generator=gen, device=device).argsort(dim=-1)
        ys = xs.gather(1, perm)
        start = torch.full((n, 1), self.n_values + self.length, dtype=torch.long, device=device)
        sep = torch.full((n, 1), self.n_values + self.length + 1, dtype=torch.long, device=device)
        pairs = torch.stack([perm + self.n_values, ys], dim=-1).flatten(1)  # P(p0) y0 P(p1) ...
        tokens = torch.cat([start, xs, sep, pairs], dim=1)
        scored = torch.zeros_like(tokens, dtype=torch.bool)
        scored[:, self.output_positions] = True
        return Batch(tokens, scored)
