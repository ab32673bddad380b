"""Exercise checks of the sorting lessons: 00 (getting started, which tours the course on
sort_fixed), 01 (sort_fixed) and 02 (sort_variable).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import einops
import torch
from jaxtyping import Float, Int
from torch import Tensor
from transformer_lens.model_bridge import TransformerBridge

from toyhelpers.checks import (
    ExerciseFailed,
    as_tensor,
    assert_per_head,
    assert_tensor,
    exercise,
    pretrained_case,
)
from toyhelpers.tasks import Batch, get_task

# ======================================================================================
# Lesson 00 · getting_started
# ======================================================================================

HOOK_Z = "blocks.0.attn.hook_z"

# -- reference implementations ----------------------------------------------------------


def _scored_targets(batch: Batch) -> Int[Tensor, "batch n_scored"]:
    # Boolean indexing reads row by row, so each sequence's targets stay together.
    flat = batch.tokens[batch.scored]
    return einops.rearrange(flat, "(batch n_scored) -> batch n_scored", batch=len(batch))


def _attention_to_previous(
    pattern: Float[Tensor, "batch head query key"],
) -> Float[Tensor, " head"]:
    # Entries [q, q - 1] for q = 1..seq-1: query 0 has no previous token.
    previous = pattern.diagonal(offset=-1, dim1=-2, dim2=-1)
    return einops.reduce(previous, "batch head query -> head", "mean")


def _zero_ablate_head_hook(head: int) -> Callable[[Tensor, Any], Tensor]:
    def zero_head(z: Float[Tensor, "batch pos head d_head"], hook: Any) -> Tensor:
        z = z.clone()
        z[:, :, head] = 0.0
        return z

    return zero_head


# -- exercise 1: the targets at the scored positions ------------------------------------


def _scored_cases() -> list[tuple[str, Batch]]:
    # The hand-made batch is scored away from the end, so fixed slices give wrong answers.
    tokens = torch.tensor([[7, 3, 9, 1, 8, 2], [5, 0, 6, 4, 2, 9]])
    scored = torch.zeros_like(tokens, dtype=torch.bool)
    scored[:, [1, 3, 4]] = True
    short = get_task("sort_fixed", length=3, n_values=10)
    longer = get_task("sort_fixed", length=6, n_values=20)
    return [
        ("a sort_fixed(length=3) batch", short.generate(5, seed=11)),
        ("a sort_fixed(length=6) batch", longer.generate(4, seed=12)),
        ("a hand-made batch scored at positions 1, 3 and 4", Batch(tokens, scored)),
    ]


def _scored_positions(batch: Batch) -> Int[Tensor, "batch n_scored"]:
    positions = torch.arange(batch.tokens.shape[1]).expand_as(batch.tokens)
    return einops.rearrange(positions[batch.scored], "(batch n) -> batch n", batch=len(batch))


def _diagnose_targets(got: Any, want: Tensor, batch: Batch, what: str) -> None:
    if not isinstance(got, Tensor):
        return  # assert_tensor says what was returned
    if got.dtype == torch.bool:
        raise ExerciseFailed(
            f"on {what} you returned a bool tensor, a mask: use batch.scored to pick the "
            "token ids out of batch.tokens"
        )
    if got.is_floating_point():
        raise ExerciseFailed(f"token ids should be an integer tensor, got dtype {got.dtype}")
    if got.shape != want.shape:
        if got.numel() == want.numel():
            raise ExerciseFailed(
                f"on {what} you returned shape {tuple(got.shape)}: the right number of ids, "
                f"but they should be arranged as [batch n_scored] = {tuple(want.shape)}, "
                "one row per sequence"
            )
        if got.ndim == 2 and got.shape[0] == want.shape[0]:
            raise ExerciseFailed(
                f"on {what} you returned {got.shape[1]} ids per row, but each row has "
                f"{want.shape[1]} scored positions: count them from batch.scored rather than "
                "slicing a fixed number"
            )
        return
    got = got.cpu()
    if torch.equal(got, want):
        return
    positions = _scored_positions(batch)
    if torch.equal(got, positions):
        raise ExerciseFailed(
            f"on {what} you returned the scored positions; return the token ids at them"
        )
    if torch.equal(got, batch.tokens.gather(1, positions - 1)):
        raise ExerciseFailed(
            f"on {what} you returned the token just before each target (off by one): "
            "batch.scored[b, i] marks token i itself as a target"
        )
    if torch.equal(got, batch.tokens[:, -want.shape[1] :]):
        at = ", ".join(str(p) for p in positions[0].tolist())
        raise ExerciseFailed(
            f"on {what} you returned the last {want.shape[1]} tokens of each row, but the "
            f"scored positions there are {at}: read them from batch.scored"
        )


@exercise("scored targets", reference=_scored_targets)
def check_scored_targets(scored_targets: Callable[[Batch], Tensor]) -> None:
    """`scored_targets(batch)` gives the token ids at the scored positions, [batch n_scored]."""
    for what, batch in _scored_cases():
        got, want = scored_targets(batch), _scored_targets(batch)
        _diagnose_targets(got, want, batch, what)
        assert_tensor(got, want, f"scored_targets on {what}", dims="batch n_scored")


# -- exercise 2: attention to the previous token ----------------------------------------


def _pattern_cases() -> list[tuple[str, Float[Tensor, "batch head query key"]]]:
    seq = 5
    causal = torch.ones(seq, seq).tril()
    previous = torch.diag(torch.ones(seq - 1), -1)
    previous[0, 0] = 1.0  # query 0 can only attend to itself
    itself = torch.eye(seq)
    evenly = causal / causal.sum(-1, keepdim=True)
    first = torch.zeros(seq, seq)
    first[:, 0] = 1.0
    made = einops.repeat(
        torch.stack([previous, itself, evenly, first]), "head q k -> batch head q k", batch=2
    )

    gen = torch.Generator().manual_seed(0)
    scores = torch.randn(3, 4, 6, 6, generator=gen)
    random = scores.masked_fill(torch.ones(6, 6).tril() == 0, float("-inf")).softmax(-1)
    return [
        (
            "a hand-made pattern (head 0 looks at the previous token, 1 at itself, "
            "2 evenly, 3 at the first token)",
            made,
        ),
        ("a random causal pattern of shape (3, 4, 6, 6)", random),
    ]


def _close(got: Tensor, want: Tensor) -> bool:
    return got.shape == want.shape and torch.allclose(
        got.detach().cpu().float(), want.float(), rtol=1e-4, atol=1e-5
    )


def _diagnose_previous(got: Any, pattern: Tensor, what: str) -> None:
    if not isinstance(got, Tensor):
        return
    batch, n_heads, seq, _ = pattern.shape
    if tuple(got.shape) != (n_heads,):
        if tuple(got.shape) == (batch, n_heads):
            advice = "average over the batch as well"
        elif got.ndim >= 2 and got.shape[-1] in (seq - 1, seq):
            advice = "average over the batch and the query positions"
        else:
            advice = "one number per head"
        raise ExerciseFailed(
            f"on {what} you returned shape {tuple(got.shape)}, expected ({n_heads},): {advice}"
        )
    diagonal = pattern.diagonal(offset=0, dim1=-2, dim2=-1).mean(dim=(0, -1))
    nxt = pattern.diagonal(offset=1, dim1=-2, dim2=-1).mean(dim=(0, -1))
    with_query_0 = pattern.diagonal(offset=-1, dim1=-2, dim2=-1).sum(-1).mean(0) / seq
    if _close(got, _attention_to_previous(pattern)):
        return
    if _close(got, diagonal):
        raise ExerciseFailed(
            f"on {what} you measured each token's attention to itself (key = query); "
            "the previous token is key = query - 1"
        )
    if _close(got, nxt):
        raise ExerciseFailed(
            f"on {what} you measured attention to the next token (key = query + 1), which a "
            "causal head never sees, so it is 0; the previous token is key = query - 1"
        )
    if _close(got, with_query_0):
        raise ExerciseFailed(
            f"on {what} your average counts query 0, which has no previous token; "
            f"average over the {seq - 1} queries 1..{seq - 1} only"
        )


@exercise("attention to previous", reference=_attention_to_previous)
def check_attention_to_previous(
    attention_to_previous: Callable[[Tensor], Tensor],
) -> None:
    """`attention_to_previous(pattern)` gives each head's mean attention to key = query - 1."""
    for what, pattern in _pattern_cases():
        got = attention_to_previous(pattern.clone())
        _diagnose_previous(got, pattern, what)
        assert_tensor(got, _attention_to_previous(pattern), f"on {what}, the result", dims="head")


# -- exercise 3: a hook that zero-ablates one head --------------------------------------


def _hook_case() -> tuple[Any, Int[Tensor, "batch pos"]]:
    # Imported here: building a model needs TransformerLens, which is slow to import.
    from toyhelpers.models import ModelConfig, make_transformer

    task = get_task("sort_fixed", length=3, n_values=10)
    config = ModelConfig.for_task(task, n_layers=1, d_model=32, n_heads=4, attn_only=True)
    return make_transformer(config, seed=1), task.generate(16, seed=13).tokens


def _diagnose_z(z: Tensor, clean: Tensor, head: int) -> None:
    """Say how the z the model saw after the learner's hook differs from zeroing `head`."""
    if z.shape != clean.shape:
        raise ExerciseFailed(
            f"zero_ablate_head_hook({head}) returned shape {tuple(z.shape)}; a hook on "
            f"{HOOK_Z} must keep its shape [batch pos head d_head] = {tuple(clean.shape)}"
        )
    n_heads = clean.shape[2]
    changed = [h for h in range(n_heads) if not torch.equal(z[:, :, h], clean[:, :, h])]
    if not changed:
        raise ExerciseFailed(
            f"zero_ablate_head_hook({head}) changed nothing: return the edited tensor (or "
            "edit z in place); an edited copy that is not returned is thrown away"
        )
    by_position = clean.clone()
    by_position[:, head] = 0.0
    if torch.equal(z, by_position):
        raise ExerciseFailed(
            f"zero_ablate_head_hook({head}) zeroed position {head} of every head: hook_z is "
            "[batch pos head d_head], so the head is the third axis"
        )
    if not torch.all(z[:, :, head] == 0):
        if head not in changed:
            raise ExerciseFailed(
                f"zero_ablate_head_hook({head}) changed head(s) {changed} but not head {head}"
            )
        raise ExerciseFailed(
            f"zero_ablate_head_hook({head}) changed head {head} but did not set it to zero"
        )
    others = [h for h in changed if h != head]
    if others:
        raise ExerciseFailed(
            f"zero_ablate_head_hook({head}) changed the other head(s) {others} too; only "
            f"head {head} should change"
        )


@exercise("zero ablate head hook", reference=_zero_ablate_head_hook)
def check_zero_ablate_head_hook(
    zero_ablate_head_hook: Callable[[int], Callable[[Tensor, Any], Tensor | None]],
) -> None:
    """`zero_ablate_head_hook(head)` is a hook on blocks.0.attn.hook_z that zeroes `head`.

    Compared with `toyhelpers.analysis.run_with_ablation` on a 4-head model.
    """
    from toyhelpers.analysis import run_with_ablation

    model, tokens = _hook_case()
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens, names_filter=HOOK_Z)
    clean = cache[HOOK_Z]
    # Runs after the learner's hook: the z the rest of the model actually sees.
    seen: dict[str, Tensor] = {}

    def record(z: Tensor, hook: Any) -> None:
        seen["z"] = z.detach().clone()

    for head in range(model.cfg.n_heads):
        seen.clear()
        hook_fn = zero_ablate_head_hook(head)
        if not callable(hook_fn):
            raise ExerciseFailed(
                f"zero_ablate_head_hook({head}) should return a function (the hook), "
                f"got {type(hook_fn).__name__}"
            )
        try:
            with torch.no_grad():
                logits = model.run_with_hooks(
                    tokens, fwd_hooks=[(HOOK_Z, hook_fn), (HOOK_Z, record)]
                )
        except (NotImplementedError, AssertionError):
            raise
        except TypeError as err:
            if "hook" in str(err):
                raise ExerciseFailed(
                    "TransformerLens calls a hook as fn(activation, hook=hook_point): give the "
                    f"function you return a second parameter named `hook` ({err})"
                ) from None
            raise ExerciseFailed(
                f"running the model with your hook raised TypeError: {err}"
            ) from None
        except Exception as err:
            if "z" in seen:
                _diagnose_z(seen["z"], clean, head)
            raise ExerciseFailed(
                f"running the model with zero_ablate_head_hook({head}) raised "
                f"{type(err).__name__}: {err}"
            ) from None
        _diagnose_z(seen["z"], clean, head)
        want = run_with_ablation(model, tokens, [(0, head)])
        assert_tensor(logits, want, f"the logits with head {head} zeroed", dims="batch pos d_vocab")


# ======================================================================================
# Lesson 01 · sort_fixed
# ======================================================================================


def _output_attention(
    pattern: Float[Tensor, "batch head seq seq"], length: int
) -> Float[Tensor, "batch head n_out n_in"]:
    # Position length+1+i (MID, then y1..) predicts y_{i+1}; inputs sit at 1..length.
    queries = slice(length + 1, 2 * length + 1)
    return pattern[:, :, queries, 1 : length + 1]


def _copy_rate(
    attention: Float[Tensor, "batch head n_out n_in"], tokens: Int[Tensor, "batch seq"], length: int
) -> Float[Tensor, " head"]:
    inputs = tokens[:, 1 : length + 1]
    emitted = tokens[:, length + 2 :]
    top = attention.argmax(dim=-1)  # batch head n_out
    landed_on = inputs.gather(1, top.flatten(1)).view_as(top)
    return (landed_on == emitted[:, None, :]).float().mean(dim=(0, 2))


def _number_ov(model: TransformerBridge, head: int, n_values: int) -> Float[Tensor, "n_in n_out"]:
    full = model.W_E @ model.OV[0, head] @ model.W_U
    return full.AB[:n_values, :n_values].detach()


def _qk_by_value(
    model: TransformerBridge, head: int, length: int, n_values: int
) -> Float[Tensor, "q_value k_value"]:
    out_pos = model.W_pos[length + 2 : 2 * length + 1].mean(0)
    in_pos = model.W_pos[1 : length + 1].mean(0)
    q = (model.W_E[:n_values] + out_pos) @ model.W_Q[0, head] + model.b_Q[0, head]
    k = (model.W_E[:n_values] + in_pos) @ model.W_K[0, head] + model.b_K[0, head]
    return (q @ k.T / model.cfg.d_head**0.5).detach()


# -- fixed cases -------------------------------------------------------------------------


# -- checks ----------------------------------------------------------------------------


@exercise("output_attention", reference=_output_attention)
def check_output_attention(fn) -> None:
    """fn(pattern, length) -> attention from the positions that predict y1..yn to x1..xn."""
    # A random pattern with a different length catches hard-coded positions.
    gen = torch.Generator().manual_seed(0)
    for length in (5, 3):
        pattern = torch.rand(2, 3, 2 * length + 2, 2 * length + 2, generator=gen)
        got = fn(pattern, length)
        assert_tensor(
            got,
            _output_attention(pattern, length),
            f"output_attention(pattern, {length})",
            dims="batch head n_out n_in",
        )


@exercise("copy_rate", reference=_copy_rate)
def check_copy_rate(fn) -> None:
    """fn(attention, tokens, length) -> per head, how often the top input holds the output."""
    case = pretrained_case("sort_fixed")
    task, tokens, pattern = case.task, case.tokens, case.pattern()
    attention = _output_attention(pattern, task.length)
    assert_per_head(
        fn(attention, tokens, task.length),
        _copy_rate(attention, tokens, task.length),
        "copy_rate(...)",
        "Compare the token at the most-attended input position with the token emitted at "
        "that output position (y1 is predicted from MID, y2 from y1, ...).",
    )


@exercise("number_ov", reference=_number_ov)
def check_number_ov(fn) -> None:
    """fn(model, head, n_values) -> the full OV circuit between number tokens."""
    case = pretrained_case("sort_fixed")
    model, task = case.model, case.task
    for head in range(model.cfg.n_heads):
        got = fn(model, head, task.n_values)
        assert_tensor(
            got,
            _number_ov(model, head, task.n_values),
            f"number_ov(model, {head})",
            dims="input_value output_value",
        )


@exercise("qk_by_value", reference=_qk_by_value)
def check_qk_by_value(fn) -> None:
    """fn(model, head, length, n_values) -> QK scores, output-token value vs input value."""
    case = pretrained_case("sort_fixed")
    model, task = case.model, case.task
    for head in range(model.cfg.n_heads):
        got = fn(model, head, task.length, task.n_values)
        want = _qk_by_value(model, head, task.length, task.n_values)
        if isinstance(got, Tensor) and got.shape == want.shape:
            if torch.allclose(got, want.T, rtol=1e-4, atol=1e-4):
                raise ExerciseFailed("rows and columns are swapped: rows are query values")
        assert_tensor(got, want, f"qk_by_value(model, {head}, ...)", dims="query_value key_value")


# ======================================================================================
# Lesson 02 · sort_variable
# ======================================================================================


def _rule_next_value(
    tokens: Int[Tensor, "batch seq"], length: int, n_values: int
) -> Int[Tensor, "batch n_query"]:
    # Queries MID, y1..yk sit at length+1 .. 2*length+1; MID counts as "nothing written".
    inputs = tokens[:, 1 : length + 1]
    last = tokens[:, length + 1 : 2 * length + 2]
    last = torch.where(last >= n_values, -1, last)
    bigger = inputs[:, None, :] > last[:, :, None]
    candidates = torch.where(bigger, inputs[:, None, :], n_values)
    return candidates.min(dim=-1).values


def _top_attended_token(
    pattern: Float[Tensor, "batch head seq seq"], tokens: Int[Tensor, "batch seq"], length: int
) -> Int[Tensor, "batch head n_query"]:
    top = pattern[:, :, length + 1 : 2 * length + 2].argmax(dim=-1)
    per_head = tokens[:, None, :].expand(-1, pattern.shape[1], -1)
    return per_head.gather(2, top)


def _accuracy_by_length(
    model: TransformerBridge, lengths: list[int], n: int = 1_000, seed: int = 0
) -> Float[Tensor, " n_lengths"]:
    from toyhelpers.evaluation import evaluate

    trained = model.task
    accs = []
    for k in lengths:
        task = get_task(
            "sort_variable",
            n_values=trained.n_values,
            min_length=k,
            max_length=k,
            pad_length=trained.room,
        )
        accs.append(evaluate(model, task, n=n, seed=seed)["accuracy"])
    return torch.tensor(accs)


# -- fixed cases -------------------------------------------------------------------------


def _tokens(length: int, n: int = 64, seed: int = 99) -> Tensor:
    task = get_task("sort_variable", min_length=length, max_length=length, pad_length=8)
    return task.generate(n, seed=seed).tokens


# -- checks ----------------------------------------------------------------------------


@exercise("rule_next_value", reference=_rule_next_value)
def check_rule_next_value(fn) -> None:
    """fn(tokens, length, n_values) -> the value the rule predicts after MID, y1..yk."""
    n_values = 20
    for length in (4, 2, 1):
        tokens = _tokens(length)
        got = fn(tokens, length, n_values)
        want = _rule_next_value(tokens, length, n_values)
        if isinstance(got, Tensor) and got.shape == want.shape and not torch.equal(got, want):
            row, query = (int(i) for i in (got != want).nonzero()[0])
            task = get_task("sort_variable", max_length=length, pad_length=8)
            raise ExerciseFailed(
                f"for length {length}, list {task.decode(tokens[row])!r}: after the "
                f"{'MID' if query == 0 else f'output y{query}'} you give {int(got[row, query])}, "
                f"the rule gives {int(want[row, query])}. The rule: the smallest input value "
                f"strictly greater than the last output (any input after MID), and n_values "
                "when there is none."
            )
        assert_tensor(got, want, f"rule_next_value(tokens, {length}, 20)", dims="batch query")


@exercise("top_attended_token", reference=_top_attended_token)
def check_top_attended_token(fn) -> None:
    """fn(pattern, tokens, length) -> the token at the most-attended key of each query."""
    gen = torch.Generator().manual_seed(0)
    for length in (4, 2):
        tokens = _tokens(length, n=8)
        seq = tokens.shape[1]
        pattern = torch.rand(8, 2, seq, seq, generator=gen).tril()
        pattern = pattern / pattern.sum(-1, keepdim=True)
        got = fn(pattern, tokens, length)
        want = _top_attended_token(pattern, tokens, length)
        if isinstance(got, Tensor) and got.shape == (8, 2, length):
            raise ExerciseFailed(
                f"shape {tuple(got.shape)}: there are length + 1 = {length + 1} queries "
                "(MID, y1..yk: the last output predicts EOS)"
            )
        assert_tensor(
            got, want, f"top_attended_token(pattern, tokens, {length})", dims="batch head query"
        )


@exercise("accuracy_by_length", reference=_accuracy_by_length)
def check_accuracy_by_length(fn) -> None:
    """fn(model, lengths) -> whole-list accuracy for lists of exactly each length."""
    model = pretrained_case("sort_variable").model
    lengths = [1, 3, 6]
    got = as_tensor(fn(model, lengths), "accuracy_by_length(model, [1, 3, 6])")
    want = _accuracy_by_length(model, lengths)
    if got.shape != want.shape:
        assert_tensor(got, want, "accuracy_by_length(model, [1, 3, 6])", dims="length")
    far = (got - want).abs() > 0.05
    if far.any():
        i = int(far.nonzero()[0])
        raise ExerciseFailed(
            f"length {lengths[i]}: got accuracy {got[i]:.3f}, expected about {want[i]:.3f}. "
            "Build the task with min_length = max_length = k and the model's pad_length, so "
            "every list has length k and the sequence fits the model's n_ctx."
        )
