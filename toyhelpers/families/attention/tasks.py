"""Tasks solved by attention alone: the previous token (seed problem 3.21) and repeated
segments (3.16). Used in lessons 14 (previous_token) and 15 (induction)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from toyhelpers.tasks import Batch, Task, int_setting, register

MAX_VALUES = 1000
MAX_LENGTH = 256


@register("prev_token")
@dataclass(frozen=True)
class PrevToken(Task):
    """Name the token *before* the current one: `BOS t1 .. tn`, tokens uniform in
    `"0".."n_values-1"` (id == value), `BOS` last.

    The logits at position i (2 <= i <= n) must give t(i-1). So the targets are the
    tokens t1..t(n-1), at positions 1..n-1, and `scored` marks exactly those, as for
    every task; what differs is where a target is read from: the logits one position
    *after* it, not before (`previous_aligned`), and `loss` and `metrics` align them so.
    t_n is never a target (no position follows it), nor is BOS.
    """

    description = "name the previous token: BOS t1 .. tn, the logits at i give t(i-1)"

    n_values: int = int_setting(16, 2, MAX_VALUES)
    length: int = int_setting(20, 2, MAX_LENGTH)

    @property
    def vocab(self) -> list[str]:
        return [str(v) for v in range(self.n_values)] + ["BOS"]

    @property
    def seq_len(self) -> int:
        return self.length + 1

    @property
    def query_positions(self) -> range:
        """The positions whose logits are graded: 2..n, each naming the token before it."""
        return range(2, self.length + 1)

    def _generate(self, n: int, gen: torch.Generator, device: torch.device) -> Batch:
        values = torch.randint(0, self.n_values, (n, self.length), generator=gen, device=device)
        bos = torch.full((n, 1), self.n_values, dtype=torch.long, device=device)
        tokens = torch.cat([bos, values], dim=1)
        scored = torch.zeros_like(tokens, dtype=torch.bool)
        scored[:, 1 : self.length] = True  # t1..t(n-1)
        return Batch(tokens, scored)

    def loss(self, logits: Float[Tensor, "batch seq d_vocab"], batch: Batch) -> Float[Tensor, ""]:
        pred, target, mask = previous_aligned(logits, batch)
        return torch.nn.functional.cross_entropy(pred[mask], target[mask])

    @torch.no_grad()
    def metrics(self, logits: Float[Tensor, "batch seq d_vocab"], batch: Batch) -> dict[str, float]:
        pred, target, mask = previous_aligned(logits, batch)
        correct = (pred.argmax(-1) == target) | ~mask
        return {
            "loss": self.loss(logits, batch).item(),
            "token_accuracy": correct[mask].float().mean().item(),
            "accuracy": correct.all(dim=-1).float().mean().item(),
        }


def previous_aligned(
    logits: Float[Tensor, "batch seq d_vocab"], batch: Batch
) -> tuple[
    Float[Tensor, "batch seq_1 d_vocab"], Int[Tensor, "batch seq_1"], Bool[Tensor, "batch seq_1"]
]:
    """Align the logits at position i + 1 with the target token at i (`prev_token`'s
    direction; `toyhelpers.tasks.shifted` is the usual one, logits at i - 1)."""
    return logits[:, 1:], batch.tokens[:, :-1], batch.scored[:, :-1]


MAX_SEGMENT = 128


@register("repeat_tokens")
@dataclass(frozen=True)
class RepeatTokens(Task):
    """Continue a repeated segment: `BOS p1..pk s1..sL s1..sL`, the second copy cut off at
    the context length, `1 + 2 * max_segment` tokens.

    L is uniform in `min_segment..max_segment`; the prefix length k is then uniform over
    the values that fill the context and leave at least two tokens of the second copy,
    `2 (max_segment - L) .. 2 max_segment - L - 2` (so k = 0 happens when L is
    `max_segment`). The prefix and the segment are `k + L` distinct values, drawn without
    replacement from `"0".."n_values-1"`, so every token of the second copy has exactly one
    earlier occurrence and its successor there is the answer. Scored: the second copy
    from its second token on (its first token cannot be predicted).
    """

    description = "continue a repeated random segment: BOS p1..pk s1..sL s1..sL (cut off)"

    n_values: int = int_setting(30, 2, MAX_VALUES)
    min_segment: int = int_setting(4, 2, MAX_SEGMENT)
    max_segment: int = int_setting(12, 2, MAX_SEGMENT)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.min_segment > self.max_segment:
            raise ValueError(
                f"min_segment must be an int in 2..max_segment={self.max_segment}, "
                f"got {self.min_segment!r}"
            )
        if self.n_values < self.max_distinct:
            raise ValueError(
                f"n_values must be >= 2 * max_segment - 2 = {self.max_distinct} (the prefix and "
                f"the segment use that many distinct values), got {self.n_values!r}"
            )

    @property
    def max_distinct(self) -> int:
        """The most distinct values one sequence uses: k + L <= 2 * max_segment - 2."""
        return 2 * self.max_segment - 2

    @property
    def vocab(self) -> list[str]:
        return [str(v) for v in range(self.n_values)] + ["BOS"]

    @property
    def seq_len(self) -> int:
        return 1 + 2 * self.max_segment

    def _generate(self, n: int, gen: torch.Generator, device: torch.device) -> Batch:
        lo, hi = self.min_segment, self.max_segment
        segment = torch.randint(lo, hi + 1, (n,), generator=gen, device=device)
        k_min, k_max = 2 * (hi - segment), 2 * hi - segment - 2
        u = torch.rand(n, generator=gen, device=device)
        prefix = k_min + (u * (k_max - k_min + 1)).long().clamp(max=k_max - k_min)
        # Distinct values: the first k + L columns of a random permutation per row.
        values = torch.rand(n, self.n_values, generator=gen, device=device).argsort(dim=-1)
        values = values[:, : self.max_distinct]
        pos = torch.arange(1, self.seq_len, device=device).expand(n, -1)  # 1..seq_len-1
        second = pos > (prefix + segment)[:, None]  # positions of the second copy
        source = pos - 1 - second * segment[:, None]  # a second-copy token repeats pos - L
        bos = torch.full((n, 1), self.n_values, dtype=torch.long, device=device)
        tokens = torch.cat([bos, values.gather(1, source)], dim=1)
        scored = torch.zeros_like(tokens, dtype=torch.bool)
        scored[:, 1:] = pos > (prefix + segment + 1)[:, None]
        return Batch(tokens, scored)

    @staticmethod
    def layout(
        tokens: Int[Tensor, "batch seq"],
    ) -> tuple[Int[Tensor, " batch"], Int[Tensor, " batch"]]:
        """The prefix length k and the segment length L of each sequence, read off its
        tokens: the second copy starts at the first token seen before, L positions after
        its first occurrence."""
        seq = tokens.shape[1]
        same = tokens[:, :, None] == tokens[:, None, :]  # [batch query key]
        earlier = torch.ones(seq, seq, dtype=torch.bool, device=tokens.device).tril(-1)
        seen = (same & earlier).any(dim=-1)  # batch seq: this token occurred before
        start = seen.float().argmax(dim=-1)  # first repeated position: the second copy
        first = (same & earlier)[torch.arange(len(tokens)), start].float().argmax(dim=-1)
        segment = start - first
        return start - segment - 1, segment

    def copy_masks(
        self, tokens: Int[Tensor, "batch seq"]
    ) -> tuple[Bool[Tensor, "batch seq"], Bool[Tensor, "batch seq"]]:
        """The targets s2..sL of the first copy, and those of the second copy (as far as it
        goes: the scored ones). s1 is left out of both: nothing predicts it."""
        prefix, segment = self.layout(tokens)
        pos = torch.arange(tokens.shape[1], device=tokens.device)[None, :]
        start = (prefix + 1)[:, None]  # s1 of the first copy
        first = (pos > start) & (pos < start + segment[:, None])
        second = pos > start + segment[:, None]
        return first, second


# Lesson 16's task lives beside its analysis tools; importing it registers `toy_ioi`.
from toyhelpers.families.attention.ioi import ToyIOI  # noqa: E402, F401
