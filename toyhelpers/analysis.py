"""Analysis tools shared by the notebooks: circuits from weights, ablations, attention.

All functions take a TransformerLens `TransformerBridge`; names of dimensions follow
TransformerLens (`batch pos d_model`, `head`, `d_vocab`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from jaxtyping import Float, Int
from torch import Tensor
from transformer_lens.model_bridge import TransformerBridge

from toyhelpers.tasks import Batch, Task


def full_ov_circuit(
    model: TransformerBridge, layer: int, head: int
) -> Float[Tensor, "d_vocab d_vocab_out"]:
    """W_E W_V W_O W_U of one head: the logits a key token adds if the head attends to it."""
    return (model.W_E @ model.OV[layer, head] @ model.W_U).AB.detach()


def run_with_ablation(
    model: TransformerBridge,
    tokens: Int[Tensor, "batch pos"],
    heads: list[tuple[int, int]],
    mean_over: Int[Tensor, "batch pos"] | None = None,
) -> Float[Tensor, "batch pos d_vocab"]:
    """Logits with the given (layer, head) outputs zero-ablated, or mean-ablated over
    `mean_over` (a reference batch) when it is given."""
    means: dict[int, Tensor] = {}
    if mean_over is not None:
        _, cache = model.run_with_cache(mean_over)
        means = {layer: cache[f"blocks.{layer}.attn.hook_z"].mean(0) for layer, _ in heads}

    def hook_for(layer: int) -> Callable[[Tensor, object], Tensor]:
        which = [h for lay, h in heads if lay == layer]

        def hook(z: Float[Tensor, "batch pos head d_head"], hook: object) -> Tensor:
            z = z.clone()
            z[:, :, which] = means[layer][:, which] if layer in means else 0.0
            return z

        return hook

    layers = sorted({layer for layer, _ in heads})
    hooks = [(f"blocks.{layer}.attn.hook_z", hook_for(layer)) for layer in layers]
    with torch.no_grad():
        return model.run_with_hooks(tokens, fwd_hooks=hooks)


def ablation_metrics(
    model: TransformerBridge, task: Task, batch: Batch, heads: list[tuple[int, int]]
) -> dict[str, float]:
    """The task's metrics with `heads` mean-ablated (means over `batch` itself)."""
    logits = run_with_ablation(model, batch.tokens, heads, mean_over=batch.tokens)
    return task.metrics(logits, batch)


def patch_positions_hook(
    source: Float[Tensor, "batch pos ..."],
    positions: Int[Tensor, "batch k"] | Int[Tensor, " batch"],
) -> Callable[[Tensor, object], Tensor]:
    """A hook that overwrites the activation at each row's `positions` with `source`, the
    same hook's activation from another run (activation patching). `positions` holds one
    position per row, or k of them."""
    rows = torch.arange(len(source), device=source.device)
    if positions.ndim == 2:
        rows = rows[:, None].expand_as(positions)

    def hook(activation: Float[Tensor, "batch pos ..."], hook: object) -> Tensor:
        activation = activation.clone()
        activation[rows, positions] = source[rows, positions]
        return activation

    return hook
