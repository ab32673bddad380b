"""Exercise checks of the attention lessons: 14 (previous_token) and 15 (induction).

Each compares the learner's function with a reference (the solution) and explains the
likely mistake when they differ.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import einops
import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor
from transformer_lens.model_bridge import TransformerBridge

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

# ======================================================================================
# Lesson 14 · previous_token
# ======================================================================================

HOOK_Q = "blocks.0.attn.hook_q"
HOOK_K1 = "blocks.1.attn.hook_k"

# -- references ------------------------------------------------------------------------


def _previous_token_attention(
    pattern: Float[Tensor, "batch head query key"],
) -> Float[Tensor, "head query"]:
    # Entry [i, i - 1] for the graded queries i = 2..n; query 1's previous token is BOS.
    previous = pattern.diagonal(offset=-1, dim1=-2, dim2=-1)  # batch head (queries 1..n)
    return einops.reduce(previous[..., 1:], "batch head query -> head query", "mean")


def _content_independent_qk(
    model: TransformerBridge, n_values: int
) -> tuple[Float[Tensor, " d_head"], Float[Tensor, " d_head"]]:
    # The query and key every value token shares: the mean over the value tokens (BOS
    # left out), biases included. Layer 0, head 0, before the rotation.
    q = model.W_E[:n_values] @ model.W_Q[0, 0] + model.b_Q[0, 0]
    k = model.W_E[:n_values] @ model.W_K[0, 0] + model.b_K[0, 0]
    return q.mean(0).detach(), k.mean(0).detach()


def rotary_angles(d_head: int, base: float) -> Float[Tensor, " pair"]:
    """Radians per position of each rotary pair (dimensions 2f, 2f + 1), as TransformerLens
    rotates them: base^(-2f / d_head)."""
    return base ** (-torch.arange(0, d_head, 2, dtype=torch.float32) / d_head)


def _pair_scores(
    q: Float[Tensor, " d_head"], k: Float[Tensor, " d_head"], n_distances: int, base: float
) -> Float[Tensor, "pair distance"]:
    # Pair f is the complex number x[2f] + i x[2f+1], turned by e^{i theta_f pos}; the
    # score is Re(q_f conj(k_f) e^{i theta_f (i - j)}), summed over f, over sqrt(d_head).
    d_head = q.shape[-1]
    angle = einops.einsum(
        rotary_angles(d_head, base),
        torch.arange(n_distances, dtype=torch.float32),
        "pair, distance -> pair distance",
    )
    dot = q[0::2] * k[0::2] + q[1::2] * k[1::2]  # Re(q conj k)
    cross = q[1::2] * k[0::2] - q[0::2] * k[1::2]  # Im(q conj k)
    return (dot[:, None] * angle.cos() - cross[:, None] * angle.sin()) / d_head**0.5


def _keep_pairs_hook(pairs: list[int]) -> Callable[[Tensor, Any], Tensor]:
    def keep(q: Float[Tensor, "batch pos head d_head"], hook: Any) -> Tensor:
        mask = torch.zeros(q.shape[-1], device=q.device)
        for f in pairs:
            mask[2 * f : 2 * f + 2] = 1.0
        return q * mask

    return keep


def _previous_token_mse(pattern: Float[Tensor, "batch head query key"]) -> Float[Tensor, ""]:
    # Rows 1..n (row 0 can only attend to itself); the ideal row i is one-hot on key i - 1.
    seq = pattern.shape[-1]
    ideal = torch.eye(seq, device=pattern.device)[:-1]  # row r (query r + 1) -> key r
    return ((pattern[..., 1:, :] - ideal) ** 2).mean()


# -- cases -----------------------------------------------------------------------------


def _random_patterns() -> Float[Tensor, "batch head query key"]:
    gen = torch.Generator().manual_seed(0)
    scores = torch.randn(3, 2, 7, 7, generator=gen)
    causal = torch.ones(7, 7).tril().bool()
    return scores.masked_fill(~causal, float("-inf")).softmax(-1)


def _unhalves(x: Tensor) -> Tensor:
    """The inverse of `_halves`."""
    pairs = einops.rearrange(x, "... (pair two) -> ... pair two", two=2)
    return torch.cat([pairs[..., 0], pairs[..., 1]], dim=-1)


def _halves(x: Tensor) -> Tensor:
    """`x` with its last axis reordered so that adjacent pairs become (f, f + d/2): what a
    mix-up between the two rotary layouts does."""
    half = x.shape[-1] // 2
    return einops.rearrange(
        torch.stack([x[..., :half], x[..., half:]], dim=-1), "... pair two -> ... (pair two)"
    )


# -- checks ----------------------------------------------------------------------------


@exercise("previous_token_attention", reference=_previous_token_attention)
def check_previous_token_attention(fn) -> None:
    """fn(pattern) -> [head query]: mean attention from query i to key i - 1, i = 2..n."""
    cases = [("a random causal pattern", _random_patterns())]
    cases.append(("the shipped model's pattern", pretrained_case("prev_token").pattern()))
    for what, pattern in cases:
        got = fn(pattern.clone())
        want = _previous_token_attention(pattern)
        itself = pattern.diagonal(dim1=-2, dim2=-1)[..., 2:].mean(0)
        with_query_1 = pattern.diagonal(offset=-1, dim1=-2, dim2=-1).mean(0)
        if isinstance(got, Tensor) and got.shape == with_query_1.shape:
            raise ExerciseFailed(
                f"on {what} you returned {got.shape[-1]} queries; keep the graded ones, 2..n "
                f"({want.shape[-1]}): query 1's previous token is BOS, never a target"
            )
        assert_tensor(
            got,
            want,
            f"previous_token_attention on {what}",
            dims="head query",
            mistakes=[
                (itself, "you measured attention to the query itself (key = query)"),
            ],
        )


@exercise("content_independent_qk", reference=_content_independent_qk)
def check_content_independent_qk(fn) -> None:
    """fn(model, n_values) -> (q, k): the mean query and key over the value tokens."""
    case = pretrained_case("prev_token")
    model, n_values = case.model, case.task.n_values
    got = fn(model, n_values)
    want = _content_independent_qk(model, n_values)
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise ExerciseFailed("return a pair (q, k) of [d_head] tensors")
    with torch.no_grad():
        embed_q = model.W_E[:n_values].mean(0) @ model.W_Q[0, 0]
        embed_k = model.W_E[:n_values].mean(0) @ model.W_K[0, 0]
        all_q = (model.W_E @ model.W_Q[0, 0] + model.b_Q[0, 0]).mean(0)
        all_k = (model.W_E @ model.W_K[0, 0] + model.b_K[0, 0]).mean(0)
    for name, answer, right, no_bias, with_bos, bias in (
        ("q", got[0], want[0], embed_q, all_q, model.b_Q[0, 0]),
        ("k", got[1], want[1], embed_k, all_k, model.b_K[0, 0]),
    ):
        assert_tensor(
            answer,
            right,
            f"the mean {name}",
            dims="d_head",
            mistakes=[
                (no_bias, f"the bias b_{name.upper()} is part of every {name}: add it"),
                (
                    with_bos,
                    f"you averaged over BOS too; the value tokens are ids 0..{n_values - 1}",
                ),
                (
                    bias.detach(),
                    "the bias alone misses the part of the embeddings every token shares",
                ),
            ],
        )


@exercise("pair_scores", reference=_pair_scores)
def check_pair_scores(fn) -> None:
    """fn(q, k, n_distances, base) -> [pair distance]: each rotary pair's score."""
    case = pretrained_case("prev_token")
    q, k = _content_independent_qk(case.model, case.task.n_values)
    gen = torch.Generator().manual_seed(1)
    cases = [
        ("the shipped model's mean q and k", q, k, case.task.seq_len, case.model.cfg.rotary_base),
        ("random q, k with d_head 8 and base 100", *torch.randn(2, 8, generator=gen), 6, 100.0),
    ]
    for what, q, k, n, base in cases:
        want = _pair_scores(q, k, n, base)
        assert_tensor(
            fn(q.clone(), k.clone(), n, base),
            want,
            f"pair_scores on {what}",
            dims="pair distance",
            mistakes=[
                (
                    _pair_scores(_halves(q), _halves(k), n, base),
                    "you paired dimension f with f + d_head/2 (the GPT-NeoX layout); "
                    "TransformerLens's native rotary turns adjacent dimensions 2f, 2f + 1",
                ),
                (
                    _pair_scores(k, q, n, base),
                    "the sign of the angle is reversed: the query at i and the key at j = i - d "
                    "differ by the rotation e^{+i theta d} (query turned further than key)",
                ),
                (
                    want * q.shape[-1] ** 0.5,
                    "divide by sqrt(d_head), as the model scales its scores",
                ),
            ],
        )


@exercise("keep_pairs_hook", reference=_keep_pairs_hook)
def check_keep_pairs_hook(fn) -> None:
    """fn(pairs) -> a hook on blocks.0.attn.hook_q keeping only those rotary pairs."""
    case = pretrained_case("prev_token")
    model, tokens = case.model, case.tokens[:16]
    for pairs in ([0], [0, 1], [2, 5, 7]):
        hook = fn(list(pairs))
        if not callable(hook):
            raise ExerciseFailed(f"keep_pairs_hook({pairs}) should return a hook (a function)")
        got = hooked_activation(model, tokens, HOOK_Q, hook, f"keep_pairs_hook({pairs})")
        with torch.no_grad():
            _, cache = model.run_with_cache(tokens, names_filter=HOOK_Q)
        clean = cache[HOOK_Q]
        want = _keep_pairs_hook(pairs)(clean, None)
        assert_tensor(
            got,
            want,
            f"the query after keep_pairs_hook({pairs})",
            dims="batch pos head d_head",
            mistakes=[
                (
                    clean - want,
                    "you zeroed the pairs you were asked to keep: keep them, zero the others",
                ),
                (
                    _unhalves(_keep_pairs_hook(pairs)(_halves(clean), None)),
                    "pair f is dimensions 2f and 2f + 1 (adjacent), not f and f + d_head/2",
                ),
            ],
        )


@exercise("previous_token_mse", reference=_previous_token_mse)
def check_previous_token_mse(fn) -> None:
    """fn(pattern) -> the mean squared distance of rows 1..n from one-hot on key i - 1."""
    seq = 6
    perfect = torch.zeros(2, 1, seq, seq)
    perfect[:, :, 0, 0] = 1.0
    perfect[:, :, torch.arange(1, seq), torch.arange(seq - 1)] = 1.0
    cases = [
        ("a pattern that attends exactly to the previous token", perfect),
        ("a random causal pattern", _random_patterns()),
        ("the shipped model's pattern", pretrained_case("prev_token").pattern()),
    ]
    for what, pattern in cases:
        got = fn(pattern.clone())
        want = _previous_token_mse(pattern).item()
        seq = pattern.shape[-1]
        itself = ((pattern[..., 1:, :] - torch.eye(seq)[1:]) ** 2).mean().item()
        all_rows = ((pattern - torch.diag(torch.ones(seq - 1), -1)) ** 2).mean().item()
        number = as_number(got, f"previous_token_mse on {what} (the loss, one number)")
        for wrong, message in (
            (itself, "your ideal pattern is one-hot on the query itself; it should be key i - 1"),
            (all_rows, "row 0 has no previous token: leave it out (average over rows 1..n)"),
        ):
            if abs(number - wrong) < 1e-6 and abs(wrong - want) > 1e-6:
                raise ExerciseFailed(f"on {what}: {message}")
        assert_number(number, want, f"previous_token_mse on {what}", tol=1e-5)


# ======================================================================================
# Lesson 15 · induction
# ======================================================================================

# -- references ------------------------------------------------------------------------


def _induction_key(tokens: Int[Tensor, "batch seq"]) -> Int[Tensor, "batch seq"]:
    # The position after the most recent earlier occurrence of the same token; -1 if none.
    seq = tokens.shape[1]
    keys = torch.arange(seq, device=tokens.device)
    earlier = keys[None, :] < keys[:, None]  # [query key]
    match = (tokens[:, :, None] == tokens[:, None, :]) & earlier
    last = torch.where(match, keys, -1).amax(dim=-1)
    return torch.where(last >= 0, last + 1, -1)


def _induction_score(
    pattern: Float[Tensor, "batch head query key"], tokens: Int[Tensor, "batch seq"]
) -> Float[Tensor, " head"]:
    key = _induction_key(tokens)
    has_key = key >= 0  # batch query
    heads = pattern.shape[1]
    index = einops.repeat(key.clamp(min=0), "batch query -> batch head query 1", head=heads)
    on_key = pattern.gather(-1, index).squeeze(-1)  # batch head query
    kept = einops.rearrange(has_key, "batch query -> batch 1 query")
    return (on_key * kept).sum(dim=(0, 2)) / has_key.sum()


def _composition_scores(model: TransformerBridge, kind: str) -> Float[Tensor, "head0 head1"]:
    # How much of what each layer-1 head reads through its queries (Q), keys (K) or
    # values (V) can come from each layer-0 head's output: ||W_OV W|| / (||W_OV|| ||W||).
    if kind not in ("Q", "K", "V"):
        raise ValueError(f"kind must be 'Q', 'K' or 'V', got {kind!r}")
    reader = {"Q": model.QK[1], "K": model.QK[1].T, "V": model.OV[1]}[kind]
    scores = torch.zeros(model.cfg.n_heads, model.cfg.n_heads)
    for g in range(model.cfg.n_heads):
        for h in range(model.cfg.n_heads):
            writer, read = model.OV[0, g], reader[h]
            scores[g, h] = ((writer @ read).norm() / (writer.norm() * read.norm())).item()
    return scores


def _k_composition_circuit(
    model: TransformerBridge, writer: int, reader: int, n_values: int
) -> Float[Tensor, "query_token previous_token"]:
    # Token parts only: the query of layer-1 head `reader` on token a, against the key that
    # layer-0 head `writer` builds at a position whose *previous* token is b, by moving b
    # there (its OV circuit). Biases and positions left out; scaled as the model scales.
    embed = model.W_E[:n_values]
    q = embed @ model.W_Q[1, reader]
    k = embed @ model.W_V[0, writer] @ model.W_O[0, writer] @ model.W_K[1, reader]
    return (q @ k.T / model.cfg.d_head**0.5).detach()


def _k_path_ablation_hook(
    model: TransformerBridge, head_out: Float[Tensor, "batch pos d_model"], head: int
) -> Callable[[Tensor, Any], Tensor]:
    # What `head_out` adds to the keys of layer-1 head `head` (keys are linear in the
    # residual stream), taken away from those keys only.
    contribution = (head_out @ model.W_K[1, head]).detach()  # batch pos d_head

    def remove(k: Float[Tensor, "batch pos head d_head"], hook: Any) -> Tensor:
        k = k.clone()
        k[:, :, head] -= contribution.to(k.device)
        return k

    return remove


def _icl_score(
    logits: Float[Tensor, "batch seq d_vocab"],
    tokens: Int[Tensor, "batch seq"],
    first: Bool[Tensor, "batch seq"],
    second: Bool[Tensor, "batch seq"],
) -> Float[Tensor, ""]:
    # Token i is predicted by the logits at i - 1; per-token cross-entropy, then the mean
    # over the second copy minus the mean over the first.
    losses = torch.nn.functional.cross_entropy(
        einops.rearrange(logits[:, :-1], "batch pos vocab -> batch vocab pos"),
        tokens[:, 1:],
        reduction="none",
    )
    return losses[second[:, 1:]].mean() - losses[first[:, 1:]].mean()


# -- cases -----------------------------------------------------------------------------


def _induction_cases() -> list[tuple[str, Int[Tensor, "batch seq"]]]:
    from toyhelpers.tasks import get_task

    # Small vocabularies make tokens repeat several times: "most recent" matters there.
    gen = torch.Generator().manual_seed(2)
    return [
        ("a repeat_tokens batch", get_task("repeat_tokens").generate(8, seed=5).tokens),
        ("random tokens from 4 values", torch.randint(0, 4, (6, 12), generator=gen)),
        ("a hand-made row", torch.tensor([[9, 1, 2, 3, 1, 2, 3, 1, 5]])),
    ]


# -- checks ----------------------------------------------------------------------------


@exercise("induction_key", reference=_induction_key)
def check_induction_key(fn) -> None:
    """fn(tokens) -> [batch seq]: one after the last earlier occurrence, -1 if none."""
    for what, tokens in _induction_cases():
        want = _induction_key(tokens)
        seq = tokens.shape[1]
        keys = torch.arange(seq)
        match = (tokens[:, :, None] == tokens[:, None, :]) & (keys[None, :] < keys[:, None])
        earliest = torch.where(match, keys, seq).amin(dim=-1)
        first_after = torch.where(earliest < seq, earliest + 1, -1)
        assert_tensor(
            fn(tokens.clone()),
            want,
            f"induction_key on {what}",
            dims="batch query",
            mistakes=[
                (
                    torch.where(want >= 0, want - 1, -1),
                    "that is the earlier occurrence of the current token itself; the head "
                    "attends to the token just after it (+1), the one that came next last time",
                ),
                (
                    first_after,
                    "you used the first earlier occurrence; take the most recent one",
                ),
            ],
        )


@exercise("induction_score", reference=_induction_score)
def check_induction_score(fn) -> None:
    """fn(pattern, tokens) -> [head]: mean attention on the induction key, where one exists."""
    case = pretrained_case("repeat_tokens")
    for layer in range(case.model.cfg.n_layers):
        pattern = case.pattern(layer)
        want = _induction_score(pattern, case.tokens)
        key = _induction_key(case.tokens)
        index = einops.repeat(key.clamp(min=0), "b q -> b h q 1", h=pattern.shape[1])
        everywhere = pattern.gather(-1, index).squeeze(-1).mean(dim=(0, 2))
        assert_per_head(
            fn(pattern.clone(), case.tokens.clone()),
            want,
            f"induction_score on layer {layer}'s pattern",
            "Take pattern[b, h, i, key[b, i]] for the queries with key[b, i] >= 0 and average "
            "over all of them (batch and query together).",
            mistakes=[
                (
                    everywhere,
                    "you averaged over every query; only queries whose token occurred before "
                    "(induction_key >= 0) have an induction key",
                )
            ],
        )


@exercise("composition_scores", reference=_composition_scores)
def check_composition_scores(fn) -> None:
    """fn(model, kind) -> [head0 head1]: Q-, K- or V-composition scores."""
    model = pretrained_case("repeat_tokens").model
    scores = {kind: _composition_scores(model, kind) for kind in ("Q", "K", "V")}
    for kind in ("K", "Q", "V"):
        got = fn(model, kind)
        others = [(scores[o], f"those are the {o}-composition scores") for o in "QKV" if o != kind]
        hint = {
            "K": "the earlier head's output enters the keys: W_OV[0, g] @ W_QK[1, h].T",
            "Q": "the earlier head's output enters the queries: W_OV[0, g] @ W_QK[1, h]",
            "V": "the earlier head's output enters the values: W_OV[0, g] @ W_OV[1, h]",
        }[kind]
        if isinstance(got, Tensor) and got.numel() and got.max() > 1.0 + 1e-4:
            raise ExerciseFailed(
                f"composition_scores(model, {kind!r}) has a score of {got.max():.3g}: scores "
                "are at most 1, divide ||W_OV W|| by the norms of both matrices"
            )
        assert_tensor(
            got,
            scores[kind],
            f"composition_scores(model, {kind!r})",
            dims="head0 head1",
            mistakes=[(wrong, f"{message}; for {kind}, {hint}") for wrong, message in others],
        )


@exercise("k_composition_circuit", reference=_k_composition_circuit)
def check_k_composition_circuit(fn) -> None:
    """fn(model, writer, reader, n_values) -> [query_token previous_token]: the score of the
    layer-1 head on a key whose previous token was moved there by the layer-0 head."""
    case = pretrained_case("repeat_tokens")
    model, n = case.model, case.task.n_values
    for writer in range(model.cfg.n_heads):
        for reader in range(model.cfg.n_heads):
            want = _k_composition_circuit(model, writer, reader, n)
            with torch.no_grad():
                embed = model.W_E[:n]
                q = embed @ model.W_Q[1, reader]
                direct = q @ (embed @ model.W_K[1, reader]).T / model.cfg.d_head**0.5
                ov = embed @ model.W_V[0, writer] @ model.W_O[0, writer]
                with_q = q @ (ov @ model.W_Q[1, reader]).T / model.cfg.d_head**0.5
            assert_tensor(
                fn(model, writer, reader, n),
                want,
                f"k_composition_circuit(model, writer={writer}, reader={reader}, {n})",
                dims="query_token previous_token",
                mistakes=[
                    (want.T, "rows are the query's token, columns the key's previous token"),
                    (
                        direct,
                        "that is the key's own token (the direct path); the previous token "
                        "reaches the key through the writer's OV circuit, W_V[0] @ W_O[0]",
                    ),
                    (with_q, "the keys are read with W_K[1, reader], not W_Q"),
                    (want * model.cfg.d_head**0.5, "divide by sqrt(d_head), as the model does"),
                ],
            )


@exercise("k_path_ablation_hook", reference=_k_path_ablation_hook)
def check_k_path_ablation_hook(fn) -> None:
    """fn(model, head_out, head) -> a hook on blocks.1.attn.hook_k removing head_out from
    the keys of layer-1 head `head`."""
    case = pretrained_case("repeat_tokens")
    model, tokens = case.model, case.tokens[:16]
    z = case.cache["blocks.0.attn.hook_z"][:16]
    for writer in range(model.cfg.n_heads):
        head_out = (z[:, :, writer] @ model.W_O[0, writer]).detach()
        for reader in range(model.cfg.n_heads):
            hook = fn(model, head_out.clone(), reader)
            if not callable(hook):
                raise ExerciseFailed("k_path_ablation_hook should return a hook (a function)")
            got = hooked_activation(model, tokens, HOOK_K1, hook, "k_path_ablation_hook(...)")
            clean = case.cache[HOOK_K1][:16]
            want = _k_path_ablation_hook(model, head_out, reader)(clean, None)
            wrong_sign = 2 * clean - want
            every_head = (
                clean
                - einops.einsum(
                    head_out,
                    model.W_K[1],
                    "batch pos d_model, head d_model d_head -> batch pos head d_head",
                ).detach()
            )
            assert_tensor(
                got,
                want,
                f"the keys after k_path_ablation_hook(model, head {writer}'s output, {reader})",
                dims="batch pos head d_head",
                mistakes=[
                    (wrong_sign, "you added the contribution instead of subtracting it"),
                    (
                        every_head,
                        f"you changed the keys of every head; only head {reader} should change",
                    ),
                    (
                        clean - (head_out @ model.W_Q[1, reader]).detach()[:, :, None],
                        "that is the contribution to the queries (W_Q); the keys read W_K",
                    ),
                ],
            )


@exercise("icl_score", reference=_icl_score)
def check_icl_score(fn) -> None:
    """fn(logits, tokens, first, second) -> mean loss on `second` minus mean loss on `first`."""
    case = pretrained_case("repeat_tokens")
    tokens = case.tokens
    first, second = case.task.copy_masks(tokens)
    gen = torch.Generator().manual_seed(3)
    random_logits = torch.randn(len(tokens), tokens.shape[1], case.task.d_vocab, generator=gen)
    with torch.no_grad():
        model_logits = case.model(tokens)
    for what, logits in (
        ("random logits", random_logits),
        ("the shipped model's logits", model_logits),
    ):
        want = _icl_score(logits, tokens, first, second).item()
        number = as_number(
            fn(logits.clone(), tokens.clone(), first, second), f"icl_score on {what}"
        )
        unshifted = torch.nn.functional.cross_entropy(
            einops.rearrange(logits, "batch pos vocab -> batch vocab pos"), tokens, reduction="none"
        )
        no_shift = (unshifted[second].mean() - unshifted[first].mean()).item()
        for wrong, message in (
            (-want, "the sign is reversed: the score is loss(second copy) - loss(first copy)"),
            (no_shift, "token i is predicted by the logits at i - 1: shift by one"),
        ):
            if abs(number - wrong) < 1e-4 and abs(wrong - want) > 1e-4:
                raise ExerciseFailed(f"on {what}: {message}")
        assert_number(number, want, f"icl_score on {what}", tol=1e-4)


# ======================================================================================
# Lessons 16 and 17 (their checks live in ioi_checks.py and dla_checks.py, beside the
# tools in ioi.py and dla.py)
# ======================================================================================

from toyhelpers.families.attention.dla_checks import (  # noqa: E402, F401  (re-exported)
    check_ablation_effect,
    check_direct_logprob_effect,
    check_head_dla,
    check_redirect_attention_hook,
)
from toyhelpers.families.attention.ioi_checks import (  # noqa: E402, F401  (re-exported)
    check_add_to_input_hook,
    check_duplicate_token_score,
    check_logit_diff,
    check_name_copy_score,
    check_patch_head_hook,
)
