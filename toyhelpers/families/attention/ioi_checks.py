"""Exercise checks of lesson 16 (toy_ioi). `checks.py` re-exports them, so the notebook
imports every check of the family from one place.

The references are the analysis functions of `ioi.py`, which the notebook and the sweep
use too.
"""

from __future__ import annotations

import torch
from jaxtyping import Int
from torch import Tensor

from toyhelpers.checks import (
    ExerciseFailed,
    as_number,
    assert_number,
    assert_per_head,
    assert_tensor,
    exercise,
    hooked_activation,
    pretrained_case,
)
from toyhelpers.families.attention.ioi import (
    POS_END,
    POS_Z,
    ToyIOI,
    add_to_input_hook,
    attention_to,
    duplicate_token_score,
    logit_diff,
    name_copy_score,
    patch_head_hook,
)

# ======================================================================================
# Lesson 16 · toy_ioi
# ======================================================================================


def _ioi_case() -> tuple[object, Int[Tensor, "batch seq"]]:
    """The shipped model and IOI prompts only (the checks' fixed batch, distractors out)."""
    case = pretrained_case("toy_ioi")
    tokens = case.tokens[ToyIOI.is_ioi(case.tokens)]
    return case, tokens


@exercise("logit_diff", reference=logit_diff)
def check_logit_diff(fn) -> None:
    """fn(logits, tokens) -> [batch]: logit(IO) - logit(S) at MID, per IOI prompt."""
    case, tokens = _ioi_case()
    gen = torch.Generator().manual_seed(4)
    with torch.no_grad():
        model_logits = case.model(tokens)
    random_logits = torch.randn(model_logits.shape, generator=gen)
    for what, logits in (("random logits", random_logits), ("the model's logits", model_logits)):
        want = logit_diff(logits, tokens)
        io, s = ToyIOI.io_and_s(tokens)
        rows = torch.arange(len(tokens))
        at_answer = logits[rows, -1, io] - logits[rows, -1, s]
        y_minus_x = logits[rows, POS_END, tokens[:, 2]] - logits[rows, POS_END, tokens[:, 1]]
        assert_tensor(
            fn(logits.clone(), tokens.clone()),
            want,
            f"logit_diff on {what}",
            dims="batch",
            mistakes=[
                (-want, "the sign is reversed: the score is logit(IO) - logit(S)"),
                (
                    at_answer,
                    "you read the logits at the answer position; the answer is predicted by "
                    f"the logits at MID (position {POS_END})",
                ),
                (
                    y_minus_x,
                    "that is logit(Y) - logit(X); the IO is whichever of X, Y that Z is not",
                ),
            ],
        )


@exercise("patch_head_hook", reference=patch_head_hook)
def check_patch_head_hook(fn) -> None:
    """fn(source, head, position) -> a hook on hook_z taking that head's value from source."""
    case, tokens = _ioi_case()
    model = case.model
    tokens = tokens[:16]
    name = "blocks.1.attn.hook_z"
    with torch.no_grad():
        _, clean_cache = model.run_with_cache(tokens, names_filter=name)
        other = model.task.generate(len(tokens), seed=12).tokens
        _, source_cache = model.run_with_cache(other, names_filter=name)
    clean, source = clean_cache[name], source_cache[name]
    for head, position in ((0, POS_END), (model.cfg.n_heads - 1, None), (1, POS_Z)):
        hook = fn(source.clone(), head, position)
        if not callable(hook):
            raise ExerciseFailed("patch_head_hook should return a hook (a function)")
        what = f"patch_head_hook(source, {head}, {position})"
        got = hooked_activation(model, tokens, name, hook, what)
        want = patch_head_hook(source, head, position)(clean, None)
        every_head = clean.clone()
        where = slice(None) if position is None else position
        every_head[:, where] = source[:, where]
        every_pos = patch_head_hook(source, head, None)(clean, None)
        assert_tensor(
            got,
            want,
            f"hook_z after patch_head_hook(source, head={head}, position={position})",
            dims="batch pos head d_head",
            mistakes=[
                (every_head, f"you patched every head; only head {head} takes the source value"),
                (every_pos, f"you patched every position; only position {position} changes"),
                (clean, "nothing changed: write the source value into z (or return it)"),
            ],
        )


@exercise("add_to_input_hook", reference=add_to_input_hook)
def check_add_to_input_hook(fn) -> None:
    """fn(delta, weight, head, position) -> a hook on hook_q/k/v adding delta @ weight at
    position, for that head only."""
    case, tokens = _ioi_case()
    model = case.model
    tokens = tokens[:16]
    gen = torch.Generator().manual_seed(6)
    delta = torch.randn(len(tokens), tokens.shape[1], model.cfg.d_model, generator=gen)
    for layer, which, head, position in ((2, "q", 0, POS_END), (1, "k", 1, POS_Z)):
        name = f"blocks.{layer}.attn.hook_{which}"
        weight = {"q": model.W_Q, "k": model.W_K}[which][layer, head].detach()
        hook = fn(delta.clone(), weight.clone(), head, position)
        if not callable(hook):
            raise ExerciseFailed("add_to_input_hook should return a hook (a function)")
        got = hooked_activation(model, tokens, name, hook, "add_to_input_hook(...)")
        with torch.no_grad():
            _, cache = model.run_with_cache(tokens, names_filter=name)
        clean = cache[name]
        want = add_to_input_hook(delta, weight, head, position)(clean, None)
        everywhere = clean.clone()
        everywhere[:, :, head] += delta @ weight
        every_head = (
            clean
            + (delta[:, position] @ weight)[:, None, None, :]
            * (torch.arange(clean.shape[1]) == position).float()[None, :, None, None]
        )
        assert_tensor(
            got,
            want,
            f"{name} after add_to_input_hook(delta, W_{which.upper()}[{layer}, {head}], "
            f"{head}, {position})",
            dims="batch pos head d_head",
            mistakes=[
                (2 * clean - want, "you subtracted the change; add delta @ weight"),
                (everywhere, f"you changed every position; only position {position} reads it"),
                (every_head, f"you changed every head; only head {head} is the receiver"),
            ],
        )


@exercise("duplicate_token_score", reference=duplicate_token_score)
def check_duplicate_token_score(fn) -> None:
    """fn(pattern, tokens) -> [head]: mean attention from Z to S1 over the IOI prompts."""
    case = pretrained_case("toy_ioi")
    tokens = case.tokens
    for layer in range(case.model.cfg.n_layers):
        pattern = case.pattern(layer)
        want = duplicate_token_score(pattern, tokens)
        itself = pattern[ToyIOI.is_ioi(tokens)][:, :, POS_Z, POS_Z].mean(0)
        io = attention_to(pattern, tokens, "io", query=POS_Z)
        assert_per_head(
            fn(pattern.clone(), tokens.clone()),
            want,
            f"duplicate_token_score on layer {layer}'s pattern",
            "Keep the IOI rows only (Z equals X or Y; distractor rows have no earlier copy), "
            "take pattern[b, h, 3, position of S1] and average over those rows.",
            mistakes=[
                (
                    io,
                    "that is the attention from Z to the other name (the IO); a duplicate-"
                    "token head attends to the earlier copy of Z's own name (S1)",
                ),
                (itself, "that is Z attending to itself; the key is S1, before it"),
            ],
        )


@exercise("name_copy_score", reference=name_copy_score)
def check_name_copy_score(fn) -> None:
    """fn(model, layer, head, n_names) -> the names block of the full OV circuit, its
    diagonal minus the mean of the rest of each row, averaged."""
    case = pretrained_case("toy_ioi")
    model, n_names = case.model, case.task.n_names
    for layer in range(model.cfg.n_layers):
        for head in range(model.cfg.n_heads):
            want = name_copy_score(model, layer, head, n_names).item()
            number = as_number(fn(model, layer, head, n_names), "name_copy_score (one number)")
            ov = (model.W_E @ model.OV[layer, head] @ model.W_U).AB.detach()
            names = ov[:n_names, :n_names]
            wrongs = (
                (names.diagonal().mean().item(), "subtract the mean of the other names' logits"),
                (
                    (ov.diagonal()[:n_names] - ov[:n_names].mean(-1)).mean().item(),
                    f"compare with the other names only (the first {n_names} tokens), not "
                    "BOS and MID",
                ),
                (
                    (names.diagonal() - names.mean(-1)).mean().item(),
                    "the mean of the other names leaves the name itself out",
                ),
            )
            for wrong, message in wrongs:
                if abs(number - wrong) < 1e-4 and abs(wrong - want) > 1e-4:
                    raise ExerciseFailed(f"layer {layer}, head {head}: {message}")
            assert_number(number, want, f"name_copy_score of head {layer}.{head}", tol=1e-4)
