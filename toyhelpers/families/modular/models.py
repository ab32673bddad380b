"""The modular family's own kind of model: a one-hidden-layer MLP on two operands (lesson 06).

`ModularMLP` reads the two operands `a`, `b` of a sequence `a b = c` as one-hot vectors,
concatenates them and applies one hidden layer: `logits = W_out act(W_in [onehot(a);
onehot(b)] + b_in) + b_out`. Multiplying a one-hot vector by `W_in` just picks a row, so
the input weights are two embedding tables, `W_in[:p]` for `a` and `W_in[p:]` for `b`:
the tensors the Fourier analysis of notebook 06 looks at.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor, nn

from toyhelpers.models import register_model_kind

MLP_ACTIVATIONS = {"relu": torch.relu, "gelu": nn.functional.gelu, "square": torch.square}


@register_model_kind("mlp")
@dataclass(frozen=True)
class MLPConfig:
    """Architecture of a `ModularMLP`: `n_values` per operand (p), hidden width, activation."""

    n_values: int
    d_hidden: int
    act_fn: str = "relu"
    kind: str = "mlp"  # tells checkpoints which factory rebuilds the model

    def __post_init__(self) -> None:
        for name in ("n_values", "d_hidden"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.act_fn not in MLP_ACTIVATIONS:
            raise ValueError(
                f"act_fn must be one of {', '.join(MLP_ACTIVATIONS)}, got {self.act_fn!r}"
            )
        if self.kind != "mlp":
            raise ValueError(f"an MLPConfig has kind 'mlp', got {self.kind!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def for_task(cls, task: Any, **arch: Any) -> MLPConfig:
        """A config whose operands fit `task` (one whose `mlp_operand_values` is set:
        `mod_add_mlp`, whose p it is, or lesson 23's `memorize`, whose n it is)."""
        return cls(n_values=task.mlp_operand_values, **arch)

    def mismatch(self, task: Any) -> str | None:
        """Why this MLP cannot read `task`, or None if it can."""
        if getattr(task, "mlp_operand_values", None) == self.n_values:
            return None
        return (
            f"the MLP reads operands 0..{self.n_values - 1} of mod_add_mlp or memorize, not {task}"
        )

    def build(self, *, seed: int = 0, device: str | torch.device = "cpu") -> ModularMLP:
        return make_mlp(self, seed=seed, device=device)


class ModularMLP(nn.Module):
    """One hidden layer on one-hot(a) ⊕ one-hot(b); logits for the answer, `[batch, 1, p]`.

    The output keeps a position axis of length 1 so that, like a transformer's, the
    logits are indexed `[batch, position, vocab]`; the position is the `=` sign's.
    """

    def __init__(self, config: MLPConfig, seed: int = 0) -> None:
        super().__init__()
        p, d = config.n_values, config.d_hidden
        gen = torch.Generator().manual_seed(seed)
        # Standard (fan-in) initialisation: each pre-activation sums 2 rows of W_in.
        self.W_in = nn.Parameter(torch.randn(2 * p, d, generator=gen) / 2**0.5)
        self.b_in = nn.Parameter(torch.zeros(d))
        self.W_out = nn.Parameter(torch.randn(d, p, generator=gen) / d**0.5)
        self.b_out = nn.Parameter(torch.zeros(p))
        self.act = MLP_ACTIVATIONS[config.act_fn]
        self.toy_config = config

    def hidden(self, tokens: Int[Tensor, "batch seq"]) -> Float[Tensor, "batch d_hidden"]:
        """Hidden-layer activations for the operands in `tokens[:, 0]` and `tokens[:, 1]`."""
        p = self.toy_config.n_values
        a, b = tokens[:, 0], tokens[:, 1]
        if (a >= p).any() or (b >= p).any():
            raise ValueError(f"operands must be values 0..{p - 1}")
        return self.act(self.W_in[a] + self.W_in[p + b] + self.b_in)

    def forward(self, tokens: Int[Tensor, "batch seq"]) -> Float[Tensor, "batch 1 p"]:
        return (self.hidden(tokens) @ self.W_out + self.b_out).unsqueeze(1)


def make_mlp(config: MLPConfig, *, seed: int = 0, device: str | torch.device = "cpu") -> ModularMLP:
    """A freshly initialised `ModularMLP`; the same seed gives the same weights."""
    return ModularMLP(config, seed=seed).to(device)
