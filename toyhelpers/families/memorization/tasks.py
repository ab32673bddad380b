"""A random lookup table to memorise (seed problem 3.24, lesson 23).

`memorize` pairs every (a, b) in 0..n-1 x 0..n-1 with a label drawn uniformly from
0..n-1, once, from `table_seed`. There is no rule to find: the only way to answer is to
store the table. All n² pairs are the training set (`train_set()`), and `generate(n,
seed)` draws pairs from that same table, so `evaluate()` measures how much of the table a
model has stored (its fit), not generalisation.

Sequences are written `a b = c` (token `str(v)` has id v, `=` has id n); c is scored. The
shipped model, `memorize_mlp`, is the one-hidden-layer MLP of lesson 06 (`ModularMLP`),
which reads a and b as one-hot vectors and returns logits `[batch, 1, n]`; a transformer
reading the same tokens is scored at the `=` position as usual.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor

from toyhelpers.tasks import Batch, Task, int_setting, register, scored_loss, sequence_metrics

MAX_N = 1000


@register("memorize")
@dataclass(frozen=True)
class Memorize(Task):
    """`a b = c`, c a random label of the pair (a, b) fixed by `table_seed`; c is scored."""

    description = "a b = c with c a random label per pair: memorise an n x n table"
    n: int = int_setting(48, 2, MAX_N)
    table_seed: int = int_setting(0, 0)

    @property
    def vocab(self) -> list[str]:
        return [str(v) for v in range(self.n)] + ["="]

    @property
    def seq_len(self) -> int:
        return 4

    @property
    def mlp_operand_values(self) -> int:
        """How many values each operand takes: what a `ModularMLP` for this task reads."""
        return self.n

    def table(self) -> Int[Tensor, "a b"]:
        """The label of every pair, `table()[a, b]`; a pure function of `table_seed`."""
        gen = torch.Generator().manual_seed(self.table_seed)
        return torch.randint(0, self.n, (self.n, self.n), generator=gen)

    def _batch(self, index: Int[Tensor, " batch"]) -> Batch:
        a, b = index // self.n, index % self.n
        labels = self.table().to(index.device)[a, b]
        tokens = torch.stack([a, b, torch.full_like(a, self.n), labels], dim=1)
        scored = torch.zeros_like(tokens, dtype=torch.bool)
        scored[:, 3] = True
        return Batch(tokens, scored)

    def train_set(self, device: torch.device | str = "cpu") -> Batch:
        """Every pair of the table, in the order a*n + b: the whole training set."""
        return self._batch(torch.arange(self.n**2)).to(device)

    def _generate(self, n: int, gen: torch.Generator, device: torch.device) -> Batch:
        # Pairs drawn with replacement from the table itself: evaluation measures the fit.
        index = torch.randint(0, self.n**2, (n,), generator=gen, device=gen.device)
        return self._batch(index).to(device)

    # -- scoring: the MLP's logits [batch, 1, n], or a transformer's [batch, 4, d_vocab] --
    def loss(self, logits: Float[Tensor, "batch seq d_vocab"], batch: Batch) -> Float[Tensor, ""]:
        if logits.shape[1] == 1:
            return torch.nn.functional.cross_entropy(logits[:, 0], batch.tokens[:, 3])
        return scored_loss(logits, batch)

    @torch.no_grad()
    def metrics(self, logits: Float[Tensor, "batch seq d_vocab"], batch: Batch) -> dict[str, float]:
        if logits.shape[1] != 1:
            return sequence_metrics(logits, batch)
        correct = (logits[:, 0].argmax(-1) == batch.tokens[:, 3]).float().mean()
        return {"loss": self.loss(logits, batch).item(), "accuracy": correct.item()}
