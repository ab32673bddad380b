"""Checks for 20_automata: each compares the learner's function with a reference on the
shipped automata models and fixed batches of their task, and explains the usual mistake."""

from __future__ import annotations

import functools

import torch
from jaxtyping import Float, Int
from torch import Tensor

from toyhelpers.checks import ExerciseFailed, as_number, assert_number, assert_tensor, exercise
from toyhelpers.families.automata.analysis import (
    attention_to_last_write,
    predicted_states,
    uniform_attention_distance,
)

# -- references ------------------------------------------------------------------------


def _accuracy_by_position(model, tokens: Int[Tensor, "batch seq"]) -> Float[Tensor, " T"]:
    # The state after x1..xi is read from the logits at position i itself (not i - 1).
    task = model.task
    with torch.no_grad():
        logits = model(tokens)
    states = logits[:, 1:, task.n_symbols : task.n_symbols + task.n_states].argmax(-1)
    return (states == task.states(tokens)).float().mean(0)


def _attention_to_last_write(
    pattern: Float[Tensor, "batch head query key"], tokens: Int[Tensor, "batch seq"]
) -> Float[Tensor, " head"]:
    return attention_to_last_write(pattern, tokens)


def _uniform_attention_distance(
    pattern: Float[Tensor, "batch head query key"],
) -> Float[Tensor, " head"]:
    return uniform_attention_distance(pattern)


def _ablated_accuracy(model, tokens: Int[Tensor, "batch seq"], layer: int, head: int) -> float:
    def zero_head(z: Float[Tensor, "batch pos head d_head"], hook) -> Tensor:
        z = z.clone()
        z[:, :, head] = 0.0
        return z

    right = predicted_states(model, tokens, [(f"blocks.{layer}.attn.hook_z", zero_head)])
    return (right == model.task.states(tokens)).float().mean().item()


# -- fixed cases -------------------------------------------------------------------------


@functools.cache
def _shipped(name: str):
    from toyhelpers.checkpoints import load_pretrained

    return load_pretrained(name)


@functools.cache
def _patterns(name: str, layer: int) -> tuple[Tensor, Tensor]:
    """A fixed batch of `name`'s task and the attention pattern of `layer` on it."""
    model = _shipped(name)
    tokens = model.task.generate(200, seed=20).tokens
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens, names_filter=lambda n: n.endswith("hook_pattern"))
    return tokens, cache[f"blocks.{layer}.attn.hook_pattern"]


# -- checks ----------------------------------------------------------------------------


@exercise("accuracy_by_position", reference=_accuracy_by_position)
def check_accuracy_by_position(fn) -> None:
    """fn(model, tokens) -> [T]: the fraction of sequences whose state the model names right
    at each position 1..T."""
    for name in ("automata_parity", "automata_flipflop"):
        model = _shipped(name)
        tokens = model.task.generate(300, seed=3).tokens
        want = _accuracy_by_position(model, tokens)
        with torch.no_grad():
            logits = model(tokens)
        task = model.task
        early = logits[:, :-1, task.n_symbols : task.n_symbols + task.n_states].argmax(-1)
        shifted = (early == task.states(tokens)).float().mean(0)
        assert_tensor(
            fn(model, tokens),
            want,
            f"accuracy_by_position({name}, tokens)",
            dims="position",
            mistakes=[
                (
                    shifted,
                    "you read the state after x1..xi from the logits at position i - 1 (the "
                    "usual next-token alignment); here the state is not a token of the "
                    "sequence, and position i's own logits name it: logits[:, 1:]",
                )
            ],
        )


@exercise("uniform_attention_distance", reference=_uniform_attention_distance)
def check_uniform_attention_distance(fn) -> None:
    """fn(pattern) -> [head]: the mean total-variation distance between each query's
    attention (queries 1..T) and the uniform distribution over the keys it can see."""
    for layer in (0, 1):
        _, pattern = _patterns("automata_parity", layer)
        want = _uniform_attention_distance(pattern)
        seq = pattern.shape[-1]
        flat = 0.5 * (pattern - 1 / seq).abs().sum(-1)[:, :, 1:].mean((0, 2))
        assert_tensor(
            fn(pattern),
            want,
            f"uniform_attention_distance(parity layer {layer} pattern)",
            dims="head",
            mistakes=[
                (
                    flat,
                    "you compared with a uniform spread over all the positions: query i can "
                    "only see keys 0..i (the causal mask), so its uniform attention is 1/(i+1) "
                    "on each of those",
                )
            ],
        )


@exercise("attention_to_last_write", reference=_attention_to_last_write)
def check_attention_to_last_write(fn) -> None:
    """fn(pattern, tokens) -> [head]: each head's mean attention from a position to the
    latest write at or before it, over the positions that have had a write."""
    for layer in (0, 1):
        tokens, pattern = _patterns("automata_flipflop", layer)
        want = _attention_to_last_write(pattern, tokens)
        swapped = _attention_to_last_write(pattern.transpose(-1, -2), tokens)
        assert_tensor(
            fn(pattern, tokens),
            want,
            f"attention_to_last_write(flip-flop layer {layer} pattern, tokens)",
            dims="head",
            mistakes=[
                (
                    swapped,
                    "query and key are swapped: pattern is [batch head query key], so the "
                    "attention from position i to the write at j is pattern[:, :, i, j]",
                )
            ],
        )


@exercise("ablated_accuracy", reference=_ablated_accuracy)
def check_ablated_accuracy(fn) -> None:
    """fn(model, tokens, layer, head) -> the fraction of states (all sequences, positions
    1..T) named right when head `head` of `layer` writes nothing (its hook_z zeroed)."""
    model = _shipped("automata_flipflop")
    tokens = model.task.generate(300, seed=4).tokens
    for layer, head in ((0, 0), (0, 1), (1, 2)):
        what = f"ablated_accuracy(flip-flop, tokens, layer={layer}, head={head})"
        got = as_number(fn(model, tokens, layer, head), what)
        want = _ablated_accuracy(model, tokens, layer, head)
        if abs(got - want) > 1e-6:

            def position(z: Tensor, hook, head=head) -> Tensor:
                z = z.clone()
                z[:, head] = 0.0
                return z

            hooks = [(f"blocks.{layer}.attn.hook_z", position)]
            wrong = predicted_states(model, tokens, hooks) == model.task.states(tokens)
            if abs(got - wrong.float().mean().item()) < 1e-6:
                raise ExerciseFailed(
                    f"{what} = {got:.4f}: you zeroed position {head}, not head {head}: "
                    "hook_z is [batch pos head d_head], so a head is z[:, :, head]"
                )
        assert_number(got, want, what, tol=1e-6)
