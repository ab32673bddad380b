"""Modular arithmetic on Z_p: the grokking tasks (seed problems 3.4, 3.23, 3.26, 3.25, 3.11).

The whole dataset is every pair (a, b) in Z_p x Z_p. A fixed fraction of the pairs,
chosen by `split_seed`, is the training set; the rest is held out. Unlike the other
tasks, data is finite, so these tasks expose both halves:

- `split("train")` / `split("test")` / `split("all")`: every pair of that part, in the
  order a*p + b, as one deterministic batch;
- `generate(n, seed)` draws `n` pairs (with replacement) from the **test** pairs only, so
  `evaluate()` and `toyhelpers eval` measure generalisation, never memorisation;
- `sample(n, gen)` draws from the **train** pairs, so nothing can train on test pairs by
  accident; the training loop uses `split("train")` whole (see `toyhelpers.training`).

Token `str(v)` has id v for v in 0..p-1, and `=` is id p.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from toyhelpers.tasks import (
    Batch,
    Task,
    float_setting,
    int_setting,
    register,
    sequence_metrics,
    shifted,
)

MAX_P = 1000
SplitName = Literal["train", "test", "all"]


def is_prime(n: int) -> bool:
    return n >= 2 and all(n % d for d in range(2, int(n**0.5) + 1))


@dataclass(frozen=True)
class _Modular(Task):
    """Shared settings, validation and split of the modular tasks (not registered)."""

    p: int = int_setting(113, 2, MAX_P)
    train_fraction: float = float_setting(0.3, 0, 1)
    split_seed: int = int_setting(0, 0)

    # The operation behind each scored output, in order ("add": a+b, "sub": a-b mod p).
    operations: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        if not is_prime(self.p):
            raise ValueError(f"p must be a prime int in 2..{MAX_P} (e.g. 113), got {self.p!r}")
        n_train = self.n_train
        if not 1 <= n_train <= self.p**2 - 1:
            raise ValueError(
                f"train_fraction={self.train_fraction} of the {self.p**2} pairs gives {n_train} "
                "training pairs; both the train and the test split need at least one pair"
            )

    # -- what subclasses provide ------------------------------------------------------
    def answers(self, a: Int[Tensor, " n"], b: Int[Tensor, " n"]) -> Int[Tensor, "n out"]:
        raise NotImplementedError

    # -- format -------------------------------------------------------------------------
    @property
    def vocab(self) -> list[str]:
        return [str(v) for v in range(self.p)] + ["="]

    @property
    def seq_len(self) -> int:
        return 3 + len(self.operations)

    @property
    def n_train(self) -> int:
        return round(self.train_fraction * self.p**2)

    # -- the split ----------------------------------------------------------------------
    def train_indices(self) -> Int[Tensor, " n_train"]:
        """Pair indices a*p + b of the training set, sorted; a pure function of split_seed."""
        gen = torch.Generator().manual_seed(self.split_seed)
        perm = torch.randperm(self.p**2, generator=gen)
        return perm[: self.n_train].sort().values

    def train_mask(self) -> Bool[Tensor, "a b"]:
        """True where the pair (a, b) is in the training set."""
        mask = torch.zeros(self.p**2, dtype=torch.bool)
        mask[self.train_indices()] = True
        return mask.view(self.p, self.p)

    def _indices(self, name: SplitName) -> Int[Tensor, " n"]:
        if name == "train":
            return self.train_indices()
        if name == "test":
            return (~self.train_mask()).flatten().nonzero().squeeze(-1)
        if name == "all":
            return torch.arange(self.p**2)
        raise ValueError(f"split name must be 'train', 'test' or 'all', got {name!r}")

    def split(self, name: SplitName, device: torch.device | str = "cpu") -> Batch:
        """Every pair of the train / test split (or all p² pairs), in the order a*p + b."""
        return self._batch(self._indices(name)).to(device)

    def _batch(self, index: Int[Tensor, " n"]) -> Batch:
        a, b = index // self.p, index % self.p
        equals = torch.full_like(a, self.p)
        tokens = torch.cat([torch.stack([a, b, equals], dim=1), self.answers(a, b)], dim=1)
        scored = torch.zeros_like(tokens, dtype=torch.bool)
        scored[:, 3:] = True
        return Batch(tokens, scored)

    def _draw(self, name: SplitName, n: int, gen: torch.Generator) -> Batch:
        index = self._indices(name).to(gen.device)
        pick = torch.randint(0, len(index), (n,), generator=gen, device=gen.device)
        return self._batch(index[pick])

    def _generate(self, n: int, gen: torch.Generator, device: torch.device) -> Batch:
        # generate() and evaluate() see held-out pairs only: they measure generalisation.
        return self._draw("test", n, gen).to(device)

    def train_set(self, device: torch.device | str = "cpu") -> Batch:
        return self.split("train", device)

    def output_logits(
        self, model: torch.nn.Module, tokens: Int[Tensor, "batch seq"]
    ) -> Float[Tensor, "batch output d_vocab_out"]:
        """The logits that predict each answer (one per operation), and only those.

        `model` is a plain module (see `models.core_module`); only the positions that
        predict answers go through the last MLP and the unembedding.
        """
        from toyhelpers.models import tail_logits

        k = len(self.operations)
        return tail_logits(model, tokens[:, : 2 + k], k)

    def training_loss(self, model: torch.nn.Module, batch: Batch) -> Float[Tensor, ""]:
        """Cross-entropy on the answers, computing only the positions that predict them."""
        logits = self.output_logits(model, batch.tokens)
        k = len(self.operations)
        return torch.nn.functional.cross_entropy(
            logits.flatten(0, 1), batch.tokens[:, -k:].flatten()
        )

    def sample(self, n: int, gen: torch.Generator) -> Batch:
        """`n` training pairs drawn with replacement (never a test pair)."""
        return self._draw("train", n, gen)


@register("mod_add")
@dataclass(frozen=True)
class ModAdd(_Modular):
    """`a b = c` with c = (a + b) mod p; c is scored (predicted at the `=` position)."""

    description = "a b = (a+b) mod p, p=113: train on a fraction of all pairs, test on the rest"
    operations = ("add",)

    def answers(self, a: Int[Tensor, " n"], b: Int[Tensor, " n"]) -> Int[Tensor, "n 1"]:
        return ((a + b) % self.p).unsqueeze(-1)


@register("mod_add_mlp")
@dataclass(frozen=True)
class ModAddMLP(ModAdd):
    """The data of `mod_add`, for a one-hidden-layer MLP (`ModularMLP`, in this family's
    `models.py`).

    The model sees only the operands and returns logits `[batch, 1, p]` for the answer,
    so loss and metrics score that single output rather than shifted positions.
    """

    description = "as mod_add, learned by a one-hidden-layer MLP on one-hot(a) + one-hot(b)"

    @property
    def mlp_operand_values(self) -> int:
        """How many values each operand takes: what a `ModularMLP` for this task reads."""
        return self.p

    def _answer_logits(self, logits: Float[Tensor, "batch 1 p"]) -> Float[Tensor, "batch p"]:
        if logits.ndim != 3 or logits.shape[1:] != (1, self.p):
            raise ValueError(
                f"mod_add_mlp expects MLP logits of shape [batch, 1, {self.p}], got "
                f"{tuple(logits.shape)}: train it with a ModularMLP "
                "(toyhelpers.families.modular.models)"
            )
        return logits[:, 0]

    def loss(self, logits: Float[Tensor, "batch 1 p"], batch: Batch) -> Float[Tensor, ""]:
        return torch.nn.functional.cross_entropy(self._answer_logits(logits), batch.tokens[:, 3])

    def output_logits(
        self, model: torch.nn.Module, tokens: Int[Tensor, "batch seq"]
    ) -> Float[Tensor, "batch 1 p"]:
        return model(tokens)

    def training_loss(self, model: torch.nn.Module, batch: Batch) -> Float[Tensor, ""]:
        return self.loss(model(batch.tokens), batch)

    @torch.no_grad()
    def metrics(self, logits: Float[Tensor, "batch 1 p"], batch: Batch) -> dict[str, float]:
        correct = (self._answer_logits(logits).argmax(-1) == batch.tokens[:, 3]).float().mean()
        return {"loss": self.loss(logits, batch).item(), "accuracy": correct.item()}


@register("mod_sub")
@dataclass(frozen=True)
class ModSub(_Modular):
    """`a b = c` with c = (a - b) mod p; c is scored (predicted at the `=` position)."""

    description = "a b = (a-b) mod p, p=113: train on a fraction of all pairs, test on the rest"
    operations = ("sub",)

    def answers(self, a: Int[Tensor, " n"], b: Int[Tensor, " n"]) -> Int[Tensor, "n 1"]:
        return ((a - b) % self.p).unsqueeze(-1)


@register("mod_add_sub")
@dataclass(frozen=True)
class ModAddSub(_Modular):
    """One model, two outputs: `a b = s d` with s = (a + b) mod p and d = (a - b) mod p.

    Both s and d are scored. s is predicted at the `=` position (token 2) and d at the
    position holding s (token 3); under teacher forcing that position sees the true sum,
    so a model may compute d from a, b alone or use s as well: which it does is a
    question for notebook 11. `accuracy` needs both outputs right; `add_accuracy` and
    `sub_accuracy` score each output alone.
    """

    description = "a b = (a+b) (a-b) mod p: one model, two scored outputs"
    operations = ("add", "sub")

    def answers(self, a: Int[Tensor, " n"], b: Int[Tensor, " n"]) -> Int[Tensor, "n 2"]:
        return torch.stack([(a + b) % self.p, (a - b) % self.p], dim=-1)

    @torch.no_grad()
    def metrics(self, logits: Float[Tensor, "batch seq d_vocab"], batch: Batch) -> dict[str, float]:
        result = sequence_metrics(logits, batch)
        pred, target, _ = shifted(logits, batch)
        correct = pred.argmax(-1) == target
        # Shifted position 2 predicts the sum (token 3), position 3 the difference (token 4).
        result["add_accuracy"] = correct[:, 2].float().mean().item()
        result["sub_accuracy"] = correct[:, 3].float().mean().item()
        return result
