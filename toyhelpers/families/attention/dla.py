"""When direct logit attribution misleads (seed problem 3.27). Used in lesson 17.

Direct logit attribution (DLA) credits each component with the part of a logit it writes
itself: its output, pushed through the unembedding. These tools put that number next to
what the component does to the model's answer when it is taken away (mean ablation), to
what its write does to the log-probability, and to what happens when its attention is
moved. The lesson runs them on the shipped `toy_ioi` model (no LayerNorm: DLA is exact
there) and, for the LayerNorm part, on `add5`.

Importing this module needs torch only; the functions take a TransformerLens model but
never import TransformerLens themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import einops
import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

if TYPE_CHECKING:
    from transformer_lens.model_bridge import TransformerBridge

Metric = Callable[[Float[Tensor, "batch seq d_vocab"], Int[Tensor, "batch seq"]], Tensor]


def stacked_z(cache: Any, n_layers: int, position: int) -> Float[Tensor, "batch layer head d_head"]:
    """Every head's `z` (its attention-weighted values, before `W_O`) at one position."""
    return torch.stack(
        [cache[f"blocks.{layer}.attn.hook_z"][:, position] for layer in range(n_layers)], 1
    )


def head_logits(
    z: Float[Tensor, "batch layer head d_head"],
    W_O: Float[Tensor, "layer head d_head d_model"],
    W_U: Float[Tensor, "d_model d_vocab"],
) -> Float[Tensor, "batch layer head d_vocab"]:
    """What each head writes to every logit directly: z @ W_O @ W_U (no LayerNorm)."""
    out = einsum_heads(z, W_O)
    return out @ W_U


def einsum_heads(
    z: Float[Tensor, "batch layer head d_head"], W_O: Float[Tensor, "layer head d_head d_model"]
) -> Float[Tensor, "batch layer head d_model"]:
    return einops.einsum(
        z, W_O, "batch layer head d_head, layer head d_head d_model -> batch layer head d_model"
    )


def head_dla(
    z: Float[Tensor, "batch layer head d_head"],
    W_O: Float[Tensor, "layer head d_head d_model"],
    W_U: Float[Tensor, "d_model d_vocab"],
    answer: Int[Tensor, " batch"],
) -> Float[Tensor, "layer head"]:
    """Each head's direct logit attribution to `answer` (one token per prompt), averaged
    over the prompts: its output's dot product with the answer's unembedding column."""
    direction = W_U[:, answer].T  # batch d_model
    per_prompt = einops.einsum(
        einsum_heads(z, W_O),
        direction,
        "batch layer head d_model, batch d_model -> batch layer head",
    )
    return per_prompt.mean(0)


def direct_logprob_effect(
    logits: Float[Tensor, "batch d_vocab"],
    written: Float[Tensor, "batch d_vocab"],
    answer: Int[Tensor, " batch"],
) -> Float[Tensor, ""]:
    """How much a component's direct write raises log p(answer), averaged over prompts:
    log p(answer) from `logits`, minus the same with the component's logits `written`
    taken out. Unlike the DLA, this counts what the write does to every *other* logit."""
    rows = torch.arange(len(answer), device=answer.device)
    with_it = logits.log_softmax(-1)[rows, answer]
    without = (logits - written).log_softmax(-1)[rows, answer]
    return (with_it - without).mean()


def ablation_effect(
    model: TransformerBridge,
    tokens: Int[Tensor, "batch seq"],
    layer: int,
    head: int,
    metric: Metric,
) -> Float[Tensor, ""]:
    """Mean change of `metric` when one head's output is replaced, at every position, by
    its mean over `tokens` (mean ablation): ablated minus clean."""
    from toyhelpers.analysis import run_with_ablation  # imports TransformerLens

    ablated = run_with_ablation(model, tokens, [(layer, head)], mean_over=tokens)
    with torch.no_grad():
        clean = model(tokens)
    return (metric(ablated, tokens) - metric(clean, tokens)).mean()


def redirect_attention_hook(
    head: int, query: int, keys: Int[Tensor, " batch"]
) -> Callable[[Tensor, Any], Tensor]:
    """A hook on `hook_pattern` that moves all of `head`'s attention from position `query`
    onto position `keys[b]` in row b; every other head, query and row is left alone."""

    def hook(pattern: Float[Tensor, "batch head query key"], hook: Any) -> Tensor:
        rows = torch.arange(pattern.shape[0], device=pattern.device)
        pattern[:, head, query] = 0.0
        pattern[rows, head, query, keys.to(pattern.device)] = 1.0
        return pattern

    return hook


def logprob_of(
    logits: Float[Tensor, "batch seq d_vocab"], position: int, answer: Int[Tensor, " batch"]
) -> Float[Tensor, " batch"]:
    """log p(answer) at one position, per prompt."""
    rows = torch.arange(len(answer), device=answer.device)
    return logits[:, position].log_softmax(-1)[rows, answer]


# -- LayerNorm: frozen-scale DLA against removing a component -------------------------------


def final_logits(
    model: TransformerBridge,
    resid: Float[Tensor, "n d_model"],
    scale: Float[Tensor, "n 1"] | None = None,
) -> Float[Tensor, "n d_vocab"]:
    """The logits of residual vectors: through the final LayerNorm and the unembedding.

    With `scale`, the LayerNorm divides by that fixed scale instead of the vectors' own,
    and its bias is left out: this is how DLA attributes one component's share of the
    residual stream (the bias belongs to no component)."""
    if scale is None:
        return model.unembed(model.ln_final(resid[:, None]))[:, 0]
    weight = model.ln_final._original_component.weight
    centred = resid - resid.mean(-1, keepdim=True)
    return (centred / scale * weight) @ model.W_U


def layernorm_attributions(
    model: TransformerBridge,
    cache: Any,
    predicting: Bool[Tensor, "batch seq"],
    answer: Int[Tensor, " n"],
    components: dict[str, Float[Tensor, "batch seq d_model"]],
) -> dict[str, tuple[float, float]]:
    """For each component, two measures of what it adds to the answer's logit (centred:
    minus the mean logit, since a shift of every logit changes nothing), averaged over the
    `predicting` positions:

    - frozen: DLA with the final LayerNorm's scale frozen at the clean run's;
    - removed: the clean logit minus the logit of the residual stream without the
      component, normalised again (its scale now differs).

    They agree when removing the component barely changes the residual stream's norm."""
    resid = cache["ln_final.hook_in"][predicting]
    scale = cache["ln_final.hook_scale"][predicting]
    rows = torch.arange(len(answer), device=answer.device)

    def centred(logits: Float[Tensor, "n d_vocab"]) -> Float[Tensor, " n"]:
        return logits[rows, answer] - logits.mean(-1)

    clean = centred(final_logits(model, resid))
    result = {}
    for name, component in components.items():
        part = component[predicting]
        frozen = centred(final_logits(model, part, scale)).mean().item()
        removed = (clean - centred(final_logits(model, resid - part))).mean().item()
        result[name] = (frozen, removed)
    return result
