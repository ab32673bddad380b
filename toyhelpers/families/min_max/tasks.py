"""The minimum or maximum of two integers (seed problem 3.5). Used in lesson 03 (min_max)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from toyhelpers.tasks import Batch, Task, int_setting, register

MAX_VALUES = 1000


@register("min_max")
@dataclass(frozen=True)
class MinMax(Task):
    """The minimum or maximum of two integers: `OP a b SEP answer`, OP in {MIN, MAX}.

    a and b are drawn uniformly from 0..n_values-1 (they may be equal) and OP is MIN or
    MAX with equal probability. The only scored position is the answer after SEP.
    """

    description = "min or max of two ints: MIN a b SEP answer / MAX a b SEP answer"

    n_values: int = int_setting(50, 2, MAX_VALUES)

    @property
    def vocab(self) -> list[str]:
        return [str(v) for v in range(self.n_values)] + ["MIN", "MAX", "SEP"]

    @property
    def seq_len(self) -> int:
        return 5

    def _generate(self, n: int, gen: torch.Generator, device: torch.device) -> Batch:
        is_max = torch.randint(0, 2, (n,), generator=gen, device=device).bool()
        a, b = torch.randint(0, self.n_values, (2, n), generator=gen, device=device)
        answer = torch.where(is_max, torch.maximum(a, b), torch.minimum(a, b))
        op = self.n_values + is_max.long()
        sep = torch.full_like(a, self.n_values + 2)
        tokens = torch.stack([op, a, b, sep, answer], dim=1)
        scored = torch.zeros_like(tokens, dtype=torch.bool)
        scored[:, 4] = True
        return Batch(tokens, scored)
