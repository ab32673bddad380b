"""Exercise checks of lesson 17 (misleading_dla). `checks.py` re-exports them, so the
notebook imports every check of the family from one place.

The references are the analysis functions of `dla.py`, which the notebook uses too.
"""

from __future__ import annotations

import torch
from torch import Tensor

from toyhelpers.checks import (
    ExerciseFailed,
    as_number,
    assert_number,
    assert_tensor,
    exercise,
    hooked_activation,
)
from toyhelpers.families.attention.dla import (
    ablation_effect,
    direct_logprob_effect,
    head_dla,
    logprob_of,
    redirect_attention_hook,
    stacked_z,
)
from toyhelpers.families.attention.ioi import POS_END, POS_X, POS_Y, ToyIOI, logit_diff
from toyhelpers.families.attention.ioi_checks import _ioi_case

# ======================================================================================
# Lesson 17 · misleading_dla
# ======================================================================================


def _dla_inputs():
    case, tokens = _ioi_case()
    model = case.model
    with torch.no_grad():
        logits, cache = model.run_with_cache(tokens)
    z = stacked_z(cache, model.cfg.n_layers, POS_END)
    return model, tokens, logits, z


@exercise("head_dla", reference=head_dla)
def check_head_dla(fn) -> None:
    """fn(z, W_O, W_U, answer) -> [layer head]: each head's mean direct contribution to the
    logit of answer."""
    model, tokens, _, z = _dla_inputs()
    W_O, W_U = model.W_O.detach(), model.W_U.detach()
    io, s = ToyIOI.io_and_s(tokens)
    for what, answer in (("the IO", io), ("S", s)):
        want = head_dla(z, W_O, W_U, answer)
        got = fn(z.clone(), W_O.clone(), W_U.clone(), answer.clone())
        direction = W_U[:, answer].T
        per_prompt = torch.einsum("blhd,lhdm,bm->blh", z, W_O, direction)
        every_logit = torch.einsum("blhd,lhdm,mv->lh", z, W_O, W_U) / len(answer)
        assert_tensor(
            got,
            want,
            f"head_dla with the answer {what}",
            dims="layer head",
            mistakes=[
                (per_prompt.sum(0), "you summed over the prompts; average them"),
                (-want, "the sign is reversed: the DLA is output @ W_U[:, answer]"),
                (
                    every_logit,
                    "you summed over every logit; take each prompt's answer column only",
                ),
            ],
        )


@exercise("direct_logprob_effect", reference=direct_logprob_effect)
def check_direct_logprob_effect(fn) -> None:
    """fn(logits, written, answer) -> number: mean rise of log p(answer) due to written."""
    model, tokens, logits, z = _dla_inputs()
    end = logits[:, POS_END]
    written = torch.einsum("blhd,lhdm,mv->blhv", z, model.W_O.detach(), model.W_U.detach())
    io, s = ToyIOI.io_and_s(tokens)
    rows = torch.arange(len(io))
    gen = torch.Generator().manual_seed(3)
    cases = [
        ("head 2.2's write, answer the IO", end, written[:, 2, 2], io),
        ("head 2.1's write, answer S", end, written[:, 2, 1], s),
        (
            "random logits",
            torch.randn(end.shape, generator=gen),
            torch.randn(end.shape, generator=gen),
            io,
        ),
    ]
    for what, full, part, answer in cases:
        want = direct_logprob_effect(full, part, answer).item()
        number = as_number(fn(full.clone(), part.clone(), answer.clone()), f"on {what}")
        dla = part[rows, answer].mean().item()
        probs = (full.softmax(-1)[rows, answer] - (full - part).softmax(-1)[rows, answer]).mean()
        for wrong, message in (
            (-want, "the sign is reversed: with the write minus without it"),
            (
                dla,
                "that is the DLA, the answer's logit alone; log p moves with the other logits too",
            ),
            (probs.item(), "that is a change of probability; take log-probabilities (log_softmax)"),
        ):
            if abs(number - wrong) < 1e-4 and abs(wrong - want) > 1e-4:
                raise ExerciseFailed(f"on {what}: {message}")
        assert_number(number, want, f"direct_logprob_effect on {what}", tol=1e-4)


@exercise("redirect_attention_hook", reference=redirect_attention_hook)
def check_redirect_attention_hook(fn) -> None:
    """fn(head, query, keys) -> a hook on hook_pattern sending that head's attention from
    query to keys[b] in row b."""
    case, tokens = _ioi_case()
    model = case.model
    tokens = tokens[:16]
    io, _ = ToyIOI.io_and_s(tokens)
    io_position = torch.where(tokens[:, POS_X] == io, POS_X, POS_Y)
    name = "blocks.2.attn.hook_pattern"
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens, names_filter=name)
    clean = cache[name]
    for head, query, keys in ((2, POS_END, io_position), (0, 3, torch.full_like(io, 1))):
        hook = fn(head, query, keys.clone())
        if not callable(hook):
            raise ExerciseFailed("redirect_attention_hook should return a hook (a function)")
        got = hooked_activation(
            model, tokens, name, hook, f"redirect_attention_hook({head}, {query}, keys)"
        )
        want = redirect_attention_hook(head, query, keys)(clean.clone(), None)
        rows = torch.arange(len(keys))
        added = clean.clone()
        added[rows, head, query, keys] += 1.0
        every_head = clean.clone()
        every_head[:, :, query] = 0.0
        every_head[rows, :, query, keys] = 1.0
        every_query = clean.clone()
        every_query[:, head] = 0.0
        every_query[rows, head, :, keys] = 1.0
        assert_tensor(
            got,
            want,
            f"the pattern after redirect_attention_hook(head={head}, query={query}, keys)",
            dims="batch head query key",
            mistakes=[
                (added, "you added attention without taking the old away: the row must sum to 1"),
                (every_head, f"you moved every head's attention; only head {head} moves"),
                (every_query, f"you moved every query's attention; only query {query} moves"),
                (clean, "nothing changed: write into the pattern (or return the new one)"),
            ],
        )


def _ablated_change(model, tokens, name: str, value: Tensor, heads, metric) -> float:
    """The metric's mean change when `heads` of hook `name` are set to `value` (one of
    the wrong ablations a learner might write)."""

    def hook(z: Tensor, hook) -> Tensor:
        z[:, :, heads] = value[:, :, heads] if value.ndim == 4 else value
        return z

    with torch.no_grad():
        ablated = model.run_with_hooks(tokens, fwd_hooks=[(name, hook)])
        clean = model(tokens)
    return (metric(ablated, tokens) - metric(clean, tokens)).mean().item()


@exercise("ablation_effect", reference=ablation_effect)
def check_ablation_effect(fn) -> None:
    """fn(model, tokens, layer, head, metric) -> number: the mean change of metric when the
    head's output is mean-ablated (ablated minus clean)."""
    case, tokens = _ioi_case()
    model = case.model

    def io_logprob(logits: Tensor, toks: Tensor) -> Tensor:
        return logprob_of(logits, POS_END, ToyIOI.io_and_s(toks)[0])

    for layer, head, metric, label in (
        (2, 2, logit_diff, "logit difference"),
        (1, 1, io_logprob, "log p(IO)"),
    ):
        want = ablation_effect(model, tokens, layer, head, metric).item()
        what = f"ablating head {layer}.{head}, on the {label}"
        number = as_number(fn(model, tokens.clone(), layer, head, metric), what)
        name = f"blocks.{layer}.attn.hook_z"

        with torch.no_grad():
            _, cache = model.run_with_cache(tokens, names_filter=name)
        z = cache[name]
        for wrong, message in (
            (-want, "the sign is reversed: ablated minus clean"),
            (
                _ablated_change(model, tokens, name, torch.zeros(()), head, metric),
                "you zeroed the head; replace it with its mean",
            ),
            (
                _ablated_change(model, tokens, name, z.mean((0, 1), keepdim=True), head, metric),
                "you averaged over positions too; the mean is over the prompts, per position",
            ),
            (
                _ablated_change(model, tokens, name, z.mean(0, keepdim=True), slice(None), metric),
                "you ablated every head of the layer",
            ),
        ):
            if abs(number - wrong) < 1e-4 and abs(wrong - want) > 1e-4:
                raise ExerciseFailed(f"{what}: {message}")
        assert_number(number, want, what, tol=1e-4)
