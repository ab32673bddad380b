"""The in-context family's models: a transformer that reads real vectors, and the
one-layer linear-attention model of the warm-up. Used in lessons 21 (icl_regression) and
22 (icl_function_classes).

`InContextTransformer` is a TransformerLens model whose residual stream starts from a
linear read-in instead of a token embedding. A prompt becomes `2 * n_points` positions,
`x_0 y_0 x_1 y_1 ...`; position `2i` carries `(x_i, 0)` and position `2i + 1` carries
`(0, ..., 0, y_i)`, so x and y enter along different directions of the read-in. The
model's single output at position `2i` is its prediction of `y_i`: causal attention lets
it see `x_i` and every example before it, never `y_i`. `run_with_cache` and `hooks` go
to the TransformerLens bridge, so every hook point of a token model is there
(`blocks.0.hook_resid_pre` is the read-in plus the positional embedding).

`LinearAttention` is the model of von Oswald et al. (2023), "Transformers learn in-context
by gradient descent": one token per example, `e_j = (x_j, y_j)`, a query `(x_i, 0)`, and
one layer of linear attention averaged over the examples before i,
`y_hat_i = (1/i) sum_j (e_j . A q_i)(v . e_j)`: few enough weights to read off whole.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor, nn
from transformer_lens.model_bridge import TransformerBridge

from toyhelpers.models import ModelConfig, Norm, core_module, make_transformer, register_model_kind


def _fits(kind: str, dim: int, n_points: int, task: Any) -> str | None:
    """Why a model reading `dim`-dimensional prompts of `n_points` cannot read `task`."""
    from toyhelpers.families.icl.tasks import InContextTask

    if not isinstance(task, InContextTask):
        return f"the {kind} reads the in-context tasks (icl_linear, ...), not {task}"
    if task.dim != dim:
        return f"the {kind} reads inputs of dim {dim}, but {task} has dim {task.dim}"
    if task.n_points > n_points:
        return (
            f"the {kind} reads prompts of up to {n_points} points (its context), but {task} "
            f"has n_points={task.n_points}"
        )
    return None


def _check_prompts(dim: int, n_points: int, xs: Tensor, ys: Tensor) -> None:
    if xs.ndim != 3 or xs.shape[2] != dim or ys.shape != xs.shape[:2]:
        raise ValueError(
            f"expected xs [batch, points, {dim}] and ys [batch, points], got "
            f"{tuple(xs.shape)} and {tuple(ys.shape)}"
        )
    if xs.shape[1] > n_points:
        raise ValueError(
            f"the model reads at most {n_points} points (its context), got {xs.shape[1]}"
        )


@register_model_kind("icl_transformer")
@dataclass(frozen=True)
class InContextConfig:
    """An `InContextTransformer`: inputs of `dim`, up to `n_points` examples, and the
    transformer's shape. LayerNorm by default: without it these models trained far
    slower here (a GPT-2-like block, as in Garg et al.)."""

    dim: int
    n_points: int
    n_layers: int
    d_model: int
    n_heads: int
    d_mlp: int | None = None
    normalization: Norm = "LN"
    act_fn: str = "gelu"
    attn_only: bool = False
    kind: str = "icl_transformer"

    def __post_init__(self) -> None:
        if self.kind != "icl_transformer":
            raise ValueError(f"an InContextConfig has kind 'icl_transformer', got {self.kind!r}")
        for name in ("dim", "n_points"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.transformer()  # validates the rest

    def transformer(self) -> ModelConfig:
        """The TransformerLens model inside: one output, a context of two per point. Its
        one-token vocabulary is never read (the read-in replaces the embedding)."""
        return ModelConfig(
            n_layers=self.n_layers,
            d_model=self.d_model,
            n_heads=self.n_heads,
            d_vocab=1,
            d_vocab_out=1,
            n_ctx=2 * self.n_points,
            d_mlp=self.d_mlp,
            attn_only=self.attn_only,
            normalization=self.normalization,
            act_fn=self.act_fn,
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def for_task(cls, task: Any, **arch: Any) -> InContextConfig:
        return cls(dim=task.dim, n_points=task.n_points, **arch)

    def mismatch(self, task: Any) -> str | None:
        return _fits("transformer", self.dim, self.n_points, task)

    def build(self, *, seed: int = 0, device: str | torch.device = "cpu") -> InContextTransformer:
        return InContextTransformer(self, seed=seed).to(device)


class InContextTransformer(nn.Module):
    """A read-in `[dim + 1 -> d_model]` feeding a TransformerLens model; see the module
    docstring for the layout. `model(xs, ys)` is the predictions `[batch, point]`."""

    def __init__(self, config: InContextConfig, seed: int = 0) -> None:
        super().__init__()
        self.toy_config = config
        self.bridge: TransformerBridge = make_transformer(config.transformer(), seed=seed)
        gen = torch.Generator().manual_seed(seed + 1)
        self.read_in = nn.Linear(config.dim + 1, config.d_model)
        with torch.no_grad():  # fan-in init from our own stream, so the seed fixes it
            self.read_in.weight.copy_(
                torch.randn(config.d_model, config.dim + 1, generator=gen) / (config.dim + 1) ** 0.5
            )
            self.read_in.bias.zero_()

    def inputs(
        self, xs: Float[Tensor, "batch point dim"], ys: Float[Tensor, "batch point"]
    ) -> Float[Tensor, "batch pos dim_plus_1"]:
        """The vectors the read-in reads: `(x_i, 0)` at `2i`, `(0, y_i)` at `2i + 1`."""
        _check_prompts(self.toy_config.dim, self.toy_config.n_points, xs, ys)
        batch, points, dim = xs.shape
        seq = xs.new_zeros(batch, 2 * points, dim + 1)
        seq[:, 0::2, :dim] = xs
        seq[:, 1::2, dim] = ys
        return seq

    def embed(
        self, xs: Float[Tensor, "batch point dim"], ys: Float[Tensor, "batch point"]
    ) -> Float[Tensor, "batch pos d_model"]:
        return self.read_in(self.inputs(xs, ys))

    def forward(
        self, xs: Float[Tensor, "batch point dim"], ys: Float[Tensor, "batch point"]
    ) -> Float[Tensor, "batch point"]:
        # The plain module, not the bridge: no hook machinery in the training loop.
        out = core_module(self.bridge)(inputs_embeds=self.embed(xs, ys))
        return out[:, 0::2, 0]

    def run_with_cache(
        self, xs: Float[Tensor, "batch point dim"], ys: Float[Tensor, "batch point"], **kwargs: Any
    ) -> tuple[Float[Tensor, "batch point"], Any]:
        """Predictions and the bridge's activation cache (`blocks.0.hook_resid_pre`, ...)."""
        out, cache = self.bridge.run_with_cache(self.embed(xs, ys), **kwargs)
        return out[:, 0::2, 0], cache

    def hooks(self, *args: Any, **kwargs: Any) -> Any:
        """The bridge's `hooks` context manager: `with model.hooks(fwd_hooks=[...]):`."""
        return self.bridge.hooks(*args, **kwargs)

    def with_hooks(
        self,
        xs: Float[Tensor, "batch point dim"],
        ys: Float[Tensor, "batch point"],
        fwd_hooks: list,
    ) -> Float[Tensor, "batch point"]:
        """Predictions with `fwd_hooks` (TransformerLens `(name, hook)` pairs) applied."""
        with self.bridge.hooks(fwd_hooks=fwd_hooks):
            out = self.bridge(self.embed(xs, ys))
        return out[:, 0::2, 0]

    # The bridge's own state dict has TransformerLens's short names (`blocks.0.attn.q.weight`);
    # nn.Module's recursion would record its internal ones instead.
    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Tensor]:  # type: ignore[override]
        read_in = {f"read_in.{k}": v for k, v in self.read_in.state_dict().items()}
        return {**read_in, **self.bridge.state_dict()}

    def load_state_dict(self, state: dict[str, Tensor], strict: bool = True, assign: bool = False):  # type: ignore[override]
        state = dict(state)
        read_in = {
            k.removeprefix("read_in."): state.pop(k)
            for k in list(state)
            if k.startswith("read_in.")
        }
        self.read_in.load_state_dict(read_in, strict=strict)
        return self.bridge.load_state_dict(state, strict=strict)

    def to(self, *args: Any, **kwargs: Any) -> InContextTransformer:  # type: ignore[override]
        self.read_in.to(*args, **kwargs)
        self.bridge.to(*args, **kwargs, print_details=False)
        return self


@register_model_kind("linear_attention")
@dataclass(frozen=True)
class LinearAttentionConfig:
    """A `LinearAttention` model for inputs of `dim` and up to `n_points` examples."""

    dim: int
    n_points: int
    kind: str = "linear_attention"

    def __post_init__(self) -> None:
        if self.kind != "linear_attention":
            raise ValueError(
                f"a LinearAttentionConfig has kind 'linear_attention', got {self.kind!r}"
            )
        for name in ("dim", "n_points"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def for_task(cls, task: Any, **arch: Any) -> LinearAttentionConfig:
        return cls(dim=task.dim, n_points=task.n_points, **arch)

    def mismatch(self, task: Any) -> str | None:
        return _fits("linear-attention model", self.dim, self.n_points, task)

    def build(self, *, seed: int = 0, device: str | torch.device = "cpu") -> LinearAttention:
        return LinearAttention(self, seed=seed).to(device)


class LinearAttention(nn.Module):
    """One layer of linear self-attention over example tokens `e_j = (x_j, y_j)`:
    `y_hat_i = (1/i) sum_{j<i} (e_j . A q_i)(v . e_j)`, `q_i = (x_i, 0)`; `y_hat_0 = 0`.

    `A` (`[dim + 1, dim + 1]`) plays the keys and queries, `v` (`[dim + 1]`) the values
    and output. One step of gradient descent on the examples' squared error, from w = 0
    with step size eta, predicts `(eta/i) sum_j y_j x_j . x_i`: this model with
    `A = eta * [[I, 0], [0, 0]]` and `v = (0, ..., 0, 1)`.
    """

    def __init__(self, config: LinearAttentionConfig, seed: int = 0) -> None:
        super().__init__()
        self.toy_config = config
        gen = torch.Generator().manual_seed(seed)
        size = config.dim + 1
        self.A = nn.Parameter(torch.randn(size, size, generator=gen) / size)
        self.v = nn.Parameter(torch.randn(size, generator=gen) / size**0.5)

    def forward(
        self, xs: Float[Tensor, "batch point dim"], ys: Float[Tensor, "batch point"]
    ) -> Float[Tensor, "batch point"]:
        _check_prompts(self.toy_config.dim, self.toy_config.n_points, xs, ys)
        examples = torch.cat([xs, ys[..., None]], dim=-1)  # e_j
        queries = torch.cat([xs, torch.zeros_like(ys)[..., None]], dim=-1)  # q_i
        scores = torch.einsum("bjd,de,bie->bij", examples, self.A, queries)
        values = examples @ self.v
        points = xs.shape[1]
        before = torch.ones(points, points, device=xs.device).tril(-1)  # j < i
        count = before.sum(1).clamp(min=1)
        return torch.einsum("bij,ij,bj->bi", scores, before, values) / count
