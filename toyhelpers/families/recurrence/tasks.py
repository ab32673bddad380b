"""Linear recurrences modulo p, Fibonacci first (seed problem 3.7). Used in lesson 05
(recurrence)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from toyhelpers.tasks import Batch, Task, int_setting, register

MAX_P = 1000
MAX_LENGTH = 64


@register("fibonacci")
@dataclass(frozen=True)
class Fibonacci(Task):
    """A recurrence mod p: `START x0 x1 ... x(length-1)` with
    x_t = (a·x_{t-1} + b·x_{t-2}) mod p; a = b = 1 is Fibonacci.

    x0 and x1 are uniform in 0..p-1; every x_t from x2 on is scored. Token `str(v)` has
    id v, and `START` is id p. x_t sits at token position t + 1, so it is predicted from
    the position holding x_{t-1}.
    """

    description = "x_t = (a x_{t-1} + b x_{t-2}) mod p: START x0 x1 ... (Fibonacci: a=b=1)"

    p: int = int_setting(17, 2, MAX_P)
    length: int = int_setting(10, 3, MAX_LENGTH)
    a: int = int_setting(1, 0, MAX_P - 1)
    b: int = int_setting(1, 0, MAX_P - 1)

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("a", "b"):
            value = getattr(self, name)
            if value >= self.p:
                raise ValueError(
                    f"{name} must be an int in 0..p-1 = 0..{self.p - 1}, got {value!r}"
                )

    @property
    def vocab(self) -> list[str]:
        return [str(v) for v in range(self.p)] + ["START"]

    @property
    def seq_len(self) -> int:
        return self.length + 1

    def _generate(self, n: int, gen: torch.Generator, device: torch.device) -> Batch:
        xs = torch.empty(n, self.length, dtype=torch.long, device=device)
        xs[:, :2] = torch.randint(0, self.p, (n, 2), generator=gen, device=device)
        for t in range(2, self.length):
            xs[:, t] = (self.a * xs[:, t - 1] + self.b * xs[:, t - 2]) % self.p
        start = torch.full((n, 1), self.p, dtype=torch.long, device=device)
        tokens = torch.cat([start, xs], dim=1)
        scored = torch.zeros_like(tokens, dtype=torch.bool)
        scored[:, 3:] = True
        return Batch(tokens, scored)
