"""Tools of lesson 20 (automata): per-position accuracy, the same weights read at another
length, and the attention statistics that tell the shortcuts apart."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from toyhelpers.checkpoints import load_weights
from toyhelpers.families.automata.tasks import Automata, last_write_distance
from toyhelpers.models import build_model, core_module, model_config_of


def predicted_states(
    model: torch.nn.Module, tokens: Int[Tensor, "batch seq"], fwd_hooks: Sequence[Any] = ()
) -> Int[Tensor, "batch T"]:
    """The state the model names at positions 1..T (0 for `q0`), optionally with hooks."""
    task = model.task
    with torch.no_grad():
        if fwd_hooks:
            logits = model.run_with_hooks(tokens, fwd_hooks=list(fwd_hooks))
        else:
            logits = core_module(model)(tokens)
    states = logits[:, 1:, task.n_symbols : task.n_symbols + task.n_states]
    return states.argmax(-1)


def accuracy_by_position(
    model: torch.nn.Module, tokens: Int[Tensor, "batch seq"], fwd_hooks: Sequence[Any] = ()
) -> Float[Tensor, " T"]:
    """The fraction of sequences whose state the model names right, at each position 1..T."""
    want = model.task.states(tokens)
    return (predicted_states(model, tokens, fwd_hooks) == want).float().mean(0)


def at_length(model: torch.nn.Module, T: int) -> torch.nn.Module:
    """The same weights, reading sequences of `T` symbols.

    A rotary model has no weight tied to a position (its rotations are computed, not
    learnt), so a longer context is the same function with more positions: a fair test of
    what it does beyond the length it was trained on.
    """
    config = model_config_of(model)
    if config.positional != "rotary":
        raise ValueError("only a model with rotary positions can read another length")
    task = Automata(kind=model.task.kind, T=T, k=model.task.k)
    longer = build_model(type(config)(**{**config.to_dict(), "n_ctx": task.seq_len}))
    load_weights(longer, model.state_dict(), "the model")
    longer.task = task
    return longer.eval()


def attention_to_last_write(
    pattern: Float[Tensor, "batch head query key"], tokens: Int[Tensor, "batch seq"]
) -> Float[Tensor, " head"]:
    """A flip-flop model's mean attention, per head, from each position after the first
    write to the latest write at or before it (BOS and positions before any write left
    out)."""
    symbols = tokens[:, 1:]
    distance = last_write_distance(symbols)
    pos = torch.arange(1, symbols.shape[1] + 1, device=tokens.device).expand_as(symbols)
    key = pos - distance  # the latest write's position (0, BOS, when none)
    valid = key > 0
    on_write = pattern[:, :, 1:, :].gather(
        -1, key[:, None, :, None].expand(-1, pattern.shape[1], -1, 1)
    )
    on_write = on_write[..., 0]  # batch head T
    return (on_write * valid[:, None]).sum((0, 2)) / valid.sum()


def uniform_attention_distance(
    pattern: Float[Tensor, "batch head query key"],
) -> Float[Tensor, " head"]:
    """The mean total-variation distance, per head, between each query's attention and the
    uniform distribution over the positions it can see (BOS included): 0 for a head that
    averages, near 1 for a head that picks one position."""
    seq = pattern.shape[-1]
    causal: Bool[Tensor, "query key"] = torch.ones(seq, seq, device=pattern.device).tril().bool()
    uniform = causal / causal.sum(-1, keepdim=True)
    return 0.5 * (pattern - uniform).abs().sum(-1)[:, :, 1:].mean((0, 2))


# -- interventions: hooks that test a shortcut by breaking it --------------------------------


def zero_heads_hook(heads: Sequence[int]) -> Any:
    """A hook for `blocks.L.attn.hook_z` that silences `heads` (their output is zero)."""

    def hook(z: Float[Tensor, "batch pos head d_head"], hook: Any) -> Tensor:
        z = z.clone()
        z[:, :, list(heads)] = 0.0
        return z

    return hook


def uniform_pattern_hook(heads: Sequence[int]) -> Any:
    """A hook for `blocks.L.attn.hook_pattern` that makes `heads` attend uniformly to every
    position they can see: what a pure counting head would do."""

    def hook(pattern: Float[Tensor, "batch head query key"], hook: Any) -> Tensor:
        seq = pattern.shape[-1]
        causal = torch.ones(seq, seq, device=pattern.device).tril()
        pattern = pattern.clone()
        pattern[:, list(heads)] = causal / causal.sum(-1, keepdim=True)
        return pattern

    return hook


def knock_out_hook(keys: Int[Tensor, "batch T"]) -> Any:
    """A hook for `blocks.L.attn.hook_pattern` that removes, for each query position i >= 1,
    the attention every head pays to key `keys[b, i - 1]` (nothing where it is 0, BOS):
    the information at that key no longer reaches the query through this layer."""

    def hook(pattern: Float[Tensor, "batch head query key"], hook: Any) -> Tensor:
        pattern = pattern.clone()
        batch, heads = pattern.shape[:2]
        index = keys[:, None, :, None].expand(batch, heads, -1, 1)
        body = pattern[:, :, 1:]
        kept = body.gather(-1, index) * (index == 0)
        pattern[:, :, 1:] = body.scatter(-1, index, kept)
        return pattern

    return hook


def previous_write(symbols: Int[Tensor, "batch T"]) -> Int[Tensor, "batch T"]:
    """For a flip-flop: the position of the write *before* the latest one at or before each
    position (0, BOS, when there is none): a control for knocking out the latest write."""
    T = symbols.shape[-1]
    pos = torch.arange(1, T + 1, device=symbols.device).expand_as(symbols)
    latest = pos - last_write_distance(symbols)
    writes = torch.where(symbols < 2, pos, 0)
    # the latest write strictly before `latest`: the running max of writes shifted by one
    # write, read at the latest write's position
    before = torch.cat([torch.zeros_like(writes[:, :1]), writes[:, :-1]], -1).cummax(-1).values
    padded = torch.cat([torch.zeros_like(before[:, :1]), before], -1)
    return torch.where(latest > 0, padded.gather(-1, latest), 0)


def variance_explained_by_count(
    activation: Float[Tensor, "batch T d_model"], tokens: Int[Tensor, "batch seq"]
) -> float:
    """The share of the variance of a parity model's activation at positions 1..T that the
    pair (position, number of 1s so far) explains: 1 when the activation is a function of
    the count and the position alone, whatever the order of the symbols."""
    T = activation.shape[1]
    count = tokens[:, 1:].cumsum(-1)
    position = torch.arange(T, device=tokens.device).expand_as(count)
    group = (position * (T + 1) + count).flatten()
    flat = activation.flatten(0, 1).double()
    sums = torch.zeros(T * (T + 1), flat.shape[-1], dtype=flat.dtype, device=flat.device)
    sums.index_add_(0, group, flat)
    sizes = torch.bincount(group, minlength=T * (T + 1)).clamp(min=1)[:, None]
    fitted = (sums / sizes)[group]
    residual = ((flat - fitted) ** 2).sum()
    return (1 - residual / ((flat - flat.mean(0)) ** 2).sum()).item()


def patched_final_state(
    model: torch.nn.Module,
    tokens: Int[Tensor, "batch seq"],
    donor: Int[Tensor, "batch seq"],
    name: str,
) -> Int[Tensor, " batch"]:
    """The state the model names at the last position of `tokens` when the activation
    `name` there comes from the run on `donor` (an interchange intervention)."""
    with torch.no_grad():
        _, cache = model.run_with_cache(donor, names_filter=lambda n: n == name)

    def hook(activation: Float[Tensor, "batch pos d_model"], hook: Any) -> Tensor:
        activation = activation.clone()
        activation[:, -1] = cache[name][:, -1]
        return activation

    return predicted_states(model, tokens, [(name, hook)])[:, -1]
