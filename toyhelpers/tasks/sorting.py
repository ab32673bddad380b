"""Sorting tasks (seed problems 3.1 and 3.2)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Int
from torch import Tensor

from toyhelpers.tasks.base import Batch, Task, register

MAX_VALUES = 1000
MAX_LENGTH = 64


def _random_lists(
    n: int, length: int, n_values: int, distinct: bool, gen: torch.Generator, device: torch.device
) -> Int[Tensor, "n length"]:
    if distinct:
        # A random permutation's prefix: distinct values, uniformly chosen.
        return torch.rand(n, n_values, generator=gen, device=device).argsort(dim=-1)[:, :length]
    return torch.randint(0, n_values, (n, length), generator=gen, device=device)


@register("sort_fixed")
@dataclass(frozen=True)
class SortFixed(Task):
    """Sort a list of `length` integers: `START x1..xn MID y1..yn`, y sorted ascending.

    Values are drawn uniformly from 0..n_values-1, duplicates allowed unless `distinct`.
    The scored positions are y1..yn.
    """

    description = "sort a fixed-length list: START x1..xn MID y1..yn"

    length: int = 5
    n_values: int = 50
    distinct: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.length, int) or not 1 <= self.length <= MAX_LENGTH:
            raise ValueError(f"length must be an int in 1..{MAX_LENGTH}, got {self.length!r}")
        if not isinstance(self.n_values, int) or not 2 <= self.n_values <= MAX_VALUES:
            raise ValueError(f"n_values must be an int in 2..{MAX_VALUES}, got {self.n_values!r}")
        if self.distinct and self.length > self.n_values:
            raise ValueError(
                f"a list of {self.length} distinct values needs n_values >= {self.length}, "
                f"got n_values={self.n_values}; lower length or allow duplicates"
            )

    @property
    def vocab(self) -> list[str]:
        return [str(v) for v in range(self.n_values)] + ["START", "MID"]

    @property
    def seq_len(self) -> int:
        return 2 * self.length + 2

    @property
    def output_positions(self) -> range:
        """Token positions of y1..yn."""
        return range(self.length + 2, 2 * self.length + 2)

    def _generate(self, n: int, gen: torch.Generator, device: torch.device) -> Batch:
        xs = _random_lists(n, self.length, self.n_values, self.distinct, gen, device)
        start = torch.full((n, 1), self.n_values, dtype=torch.long, device=device)
        mid = torch.full((n, 1), self.n_values + 1, dtype=torch.long, device=device)
        tokens = torch.cat([start, xs, mid, xs.sort(dim=-1).values], dim=1)
        scored = torch.zeros_like(tokens, dtype=torch.bool)
        scored[:, self.length + 2 :] = True
        return Batch(tokens, scored)
