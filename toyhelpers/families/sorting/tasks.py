"""Sorting tasks (seed problems 3.1 and 3.2). Used in lessons 00-02."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Int
from torch import Tensor

from toyhelpers.tasks import Batch, Task, bool_setting, int_setting, register

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

    length: int = int_setting(5, 1, MAX_LENGTH)
    n_values: int = int_setting(50, 2, MAX_VALUES)
    distinct: bool = bool_setting(False)

    def __post_init__(self) -> None:
        super().__post_init__()
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


@register("sort_variable")
@dataclass(frozen=True)
class SortVariable(Task):
    """Sort a list of 1..max_length integers: `START x1..xk MID y1..yk EOS PAD..`.

    Each list length k is drawn uniformly from min_length..max_length and values from
    0..n_values-1 (duplicates allowed). Every sequence is padded with PAD to the room of a
    `pad_length`-long list (default max_length), so a model trained with a larger
    `pad_length` can be shown longer lists than it was trained on. The scored positions
    are y1..yk and EOS, never PAD.
    """

    description = "sort a list of variable length: START x1..xk MID y1..yk EOS PAD.."

    max_length: int = int_setting(5, 1, MAX_LENGTH)
    n_values: int = int_setting(20, 2, MAX_VALUES)
    min_length: int = int_setting(1, 1, MAX_LENGTH)
    pad_length: int | None = int_setting(None, 1, MAX_LENGTH)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.min_length > self.max_length:
            raise ValueError(
                f"min_length must be an int in 1..max_length={self.max_length}, "
                f"got {self.min_length!r}"
            )
        if self.pad_length is not None and self.pad_length < self.max_length:
            raise ValueError(
                f"pad_length must be None or an int in max_length={self.max_length}.."
                f"{MAX_LENGTH}, got {self.pad_length!r}"
            )

    @property
    def vocab(self) -> list[str]:
        return [str(v) for v in range(self.n_values)] + ["START", "MID", "EOS", "PAD"]

    @property
    def room(self) -> int:
        """The longest list the sequence layout has room for."""
        return self.max_length if self.pad_length is None else self.pad_length

    @property
    def seq_len(self) -> int:
        return 2 * self.room + 3

    def _generate(self, n: int, gen: torch.Generator, device: torch.device) -> Batch:
        start, mid, eos, pad = (self.n_values + i for i in range(4))
        span = self.max_length - self.min_length + 1
        lengths = self.min_length + torch.randint(0, span, (n,), generator=gen, device=device)
        values = torch.randint(0, self.n_values, (n, self.max_length), generator=gen, device=device)
        slot = torch.arange(self.max_length, device=device)
        present = slot[None, :] < lengths[:, None]
        # Values past the list's end sort last (n_values is larger than any value), so the
        # first k sorted entries are exactly the sorted list.
        ordered = values.masked_fill(~present, self.n_values).sort(dim=-1).values
        tokens = torch.full((n, self.seq_len), pad, dtype=torch.long, device=device)
        scored = torch.zeros_like(tokens, dtype=torch.bool)
        rows = torch.arange(n, device=device)
        tokens[:, 0] = start
        tokens[:, 1 : self.max_length + 1] = torch.where(present, values, pad)
        tokens[rows, lengths + 1] = mid
        for i in range(self.max_length):
            keep = i < lengths
            pos = lengths[keep] + 2 + i
            tokens[rows[keep], pos] = ordered[keep, i]
            scored[rows[keep], pos] = True
        tokens[rows, 2 * lengths + 2] = eos
        scored[rows, 2 * lengths + 2] = True
        return Batch(tokens, scored)

    def list_lengths(self, tokens: Int[Tensor, "batch seq"]) -> Int[Tensor, " batch"]:
        """The length k of each list: MID sits at position k + 1."""
        return (tokens == self.n_values + 1).int().argmax(dim=-1) - 1
