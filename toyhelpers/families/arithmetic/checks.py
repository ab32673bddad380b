"""Checks for 12_digit_addition and 13_multiplication: each compares the learner's function
with a reference."""

from __future__ import annotations

from collections.abc import Callable

import einops
import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from toyhelpers.checks import ExerciseFailed, as_number, as_tensor, assert_tensor, exercise
from toyhelpers.families.arithmetic.tasks import chain_per_digit, column_sums, mul_digits

# -- references ------------------------------------------------------------------------


def _carry_chains(
    a: Int[Tensor, "batch digit"], b: Int[Tensor, "batch digit"]
) -> Int[Tensor, "batch digit"]:
    return chain_per_digit(a + b >= 10, a + b == 9)


def _answer_query(n_digits: int, k: int) -> int:
    # Normal order: c_k is written at 3n + 3 - k and predicted from the position before.
    return 3 * n_digits + 2 - k


def _pair_attention(
    pattern: Float[Tensor, "batch head query key"], n_digits: int
) -> Float[Tensor, "head answer_digit pair"]:
    n = n_digits
    queries = [_answer_query(n, k) for k in range(n + 1)]
    a_keys = [n - i for i in range(n)]  # a_i sits at n - i (a_(n-1) first, after START)
    b_keys = [2 * n + 1 - i for i in range(n)]
    rows = pattern[:, :, queries]
    return (rows[..., a_keys] + rows[..., b_keys]).mean(0)


def _carry_direction(
    resid: Float[Tensor, "batch d_model"], carry: Bool[Tensor, " batch"]
) -> Float[Tensor, " d_model"]:
    carry = carry.bool()
    direction = resid[carry].mean(0) - resid[~carry].mean(0)
    return direction / direction.norm()


def _set_projection_hook(
    direction: Float[Tensor, " d_model"], position: int, values: Float[Tensor, " batch"]
) -> Callable[[Tensor, object], Tensor]:
    def hook(resid: Float[Tensor, "batch pos d_model"], hook: object) -> Tensor:
        resid = resid.clone()
        unit = direction / direction.norm()
        current = resid[:, position] @ unit
        resid[:, position] += (values.to(resid.dtype) - current)[:, None] * unit
        return resid

    return hook


# -- fixed cases -------------------------------------------------------------------------


def _digits(numbers: list[int], n: int) -> Int[Tensor, "batch digit"]:
    return torch.tensor([[x // 10**i % 10 for i in range(n)] for x in numbers])


def _consecutive_carries(
    a: Int[Tensor, "batch digit"], b: Int[Tensor, "batch digit"]
) -> Int[Tensor, "batch digit"]:
    """The mistake of counting every run of carries as one chain."""
    out, run = [], torch.zeros(a.shape[0], dtype=torch.long)
    carry = torch.zeros_like(run)
    for i in range(a.shape[1]):
        carry = (a[:, i] + b[:, i] + carry >= 10).long()
        run = (run + 1) * carry
        out.append(run)
    return torch.stack(out, dim=1)


# -- checks ----------------------------------------------------------------------------


@exercise("carry_chains", reference=_carry_chains)
def check_carry_chains(fn) -> None:
    """fn(a, b) -> for each digit, the length of the carry chain carrying out of it."""
    # 99999 + 00001: one chain of 5; 15 + 17: a chain of 1 (digit 0), none above.
    # 58 + 67: two chains of 1 (8 + 7 and 5 + 6 + 1 each carry on their own).
    # 45 + 54: no carry at all, though each digit would pass one on.
    a = _digits([99999, 15, 58, 45, 19999], 5)
    b = _digits([1, 17, 67, 54, 80001], 5)
    gen = torch.Generator().manual_seed(0)
    cases = [(a, b), tuple(torch.randint(0, 10, (64, 7), generator=gen) for _ in range(2))]
    for x, y in cases:
        got = fn(x, y)
        want = _carry_chains(x, y)
        assert_tensor(
            got,
            want,
            "carry_chains(a, b)",
            dims="example digit",
            mistakes=[
                (
                    _consecutive_carries(x, y),
                    "you counted runs of consecutive carries; a digit whose own sum is 10 or "
                    "more starts a new chain (58 + 67 has two chains of 1, not one of 2)",
                ),
                (
                    (x + y >= 10).long(),
                    "you marked only the digits that carry on their own (a + b >= 10); a digit "
                    "with a + b = 9 and a carry coming in carries too, extending the chain",
                ),
            ],
        )


@exercise("pair_attention", reference=_pair_attention)
def check_pair_attention(fn) -> None:
    """fn(pattern, n_digits) -> per head, the attention from the position predicting each
    answer digit c_k onto each digit pair (a_i plus b_i), averaged over the batch."""
    gen = torch.Generator().manual_seed(1)
    for n in (5, 3):
        seq = 3 * n + 4
        pattern = torch.rand(3, 2, seq, seq, generator=gen)
        holding = [_answer_query(n, k) + 1 for k in range(n + 1)]
        a_keys = [n - i for i in range(n)]
        b_keys = [2 * n + 1 - i for i in range(n)]
        rows = pattern[:, :, holding]
        a_only = pattern[:, :, [_answer_query(n, k) for k in range(n + 1)]][..., a_keys].mean(0)
        assert_tensor(
            fn(pattern, n),
            _pair_attention(pattern, n),
            f"pair_attention(pattern, {n})",
            dims="head answer_digit pair",
            mistakes=[
                (
                    (rows[..., a_keys] + rows[..., b_keys]).mean(0),
                    "you took the rows of the positions holding c_k; the logits for c_k come "
                    "from the position just before it",
                ),
                (a_only, "you counted the attention on a_i only; add the attention on b_i"),
            ],
        )


@exercise("carry_direction", reference=_carry_direction)
def check_carry_direction(fn) -> None:
    """fn(resid, carry) -> the unit vector from the mean of the no-carry rows to the mean of
    the carry rows."""
    gen = torch.Generator().manual_seed(2)
    resid = torch.randn(200, 16, generator=gen)
    carry = torch.rand(200, generator=gen) < 0.3
    resid[carry] += 2.0
    want = _carry_direction(resid, carry)
    got = as_tensor(fn(resid, carry), "carry_direction(resid, carry)")
    if got.shape == want.shape:
        if torch.allclose(got, -want, atol=1e-4):
            raise ExerciseFailed("the direction points from carry to no carry; flip its sign")
        raw = resid[carry].mean(0) - resid[~carry].mean(0)
        if torch.allclose(got, raw, atol=1e-4):
            raise ExerciseFailed("divide the difference of the means by its norm: a unit vector")
    assert_tensor(got, want, "carry_direction(resid, carry)", dims="d_model")


@exercise("set_projection_hook", reference=_set_projection_hook)
def check_set_projection_hook(fn) -> None:
    """fn(direction, position, values) -> a hook setting the residual's component along
    `direction` at `position` to `values` (one per example), leaving the rest as it was."""
    gen = torch.Generator().manual_seed(3)
    resid = torch.randn(4, 6, 8, generator=gen)
    direction = 3 * torch.randn(8, generator=gen)  # not unit length on purpose
    values = torch.randn(4, generator=gen)
    want = _set_projection_hook(direction, 2, values)(resid.clone(), None)
    got = as_tensor(fn(direction, 2, values)(resid.clone(), None), "the hook's output")
    if got.shape == want.shape and not torch.allclose(got, want, atol=1e-4):
        unit = direction / direction.norm()
        added = resid.clone()
        added[:, 2] += values[:, None] * unit
        if torch.allclose(got, added, atol=1e-4):
            raise ExerciseFailed(
                "you added `values` along the direction; set the component to `values` "
                "(subtract the current projection first)"
            )
        if not torch.allclose(got[:, [0, 1, 3, 4, 5]], resid[:, [0, 1, 3, 4, 5]], atol=1e-4):
            raise ExerciseFailed("the hook changed other positions; edit `position` only")
        if torch.allclose((got[:, 2] - resid[:, 2]) @ direction, torch.zeros(4), atol=1e-4):
            raise ExerciseFailed("the change at `position` is not along `direction`")
    assert_tensor(got, want, "the hook's output", dims="batch pos d_model")
    projection = got[:, 2] @ (direction / direction.norm())
    if not torch.allclose(projection, values, atol=1e-4):
        raise ExerciseFailed("after the hook the projection on the unit direction is not `values`")


# -- lesson 13: multiplication -----------------------------------------------------------


def _column_carries(
    a: Int[Tensor, "batch digit"], b: Int[Tensor, "batch digit"]
) -> Int[Tensor, "batch answer"]:
    return mul_digits(a, b)[1]


def _mul_positions(n_digits: int, reverse: bool) -> tuple[list[int], list[int], list[int]]:
    """Positions of a_i and b_j (i, j least significant first) and the query predicting
    each c_k (k least significant first) in `START a * b = c`."""
    n = n_digits
    a_keys = [1 + i if reverse else n - i for i in range(n)]
    b_keys = [n + 2 + j if reverse else 2 * n + 1 - j for j in range(n)]
    queries = [2 * n + 2 + (k if reverse else 2 * n - 1 - k) for k in range(2 * n)]
    return a_keys, b_keys, queries


def _digit_accuracy(
    logits: Float[Tensor, "batch seq d_vocab"],
    tokens: Int[Tensor, "batch seq"],
    n_digits: int,
    reverse: bool,
) -> Float[Tensor, " answer"]:
    _, _, queries = _mul_positions(n_digits, reverse)
    queries = torch.tensor(queries)
    right = logits[:, queries].argmax(-1) == tokens[:, queries + 1]
    return right.float().mean(0)


def _pair_gather(
    pattern: Float[Tensor, "batch head query key"], n_digits: int, reverse: bool
) -> Float[Tensor, "head answer_digit i j"]:
    a_keys, b_keys, queries = _mul_positions(n_digits, reverse)
    rows = pattern[:, :, queries]
    on_a, on_b = rows[..., a_keys], rows[..., b_keys]
    return einops.einsum(on_a, on_b, "batch head k i, batch head k j -> head k i j") / len(pattern)


def _probe_scores(
    features: Float[Tensor, "row d_model"], target: Float[Tensor, " row"]
) -> tuple[Tensor, Tensor]:
    """R² of a least-squares probe with a bias, fitted on the first half of the rows: on
    the second half (the answer) and on the first (what an unheld-out probe reports)."""
    x = torch.cat([features.double(), torch.ones_like(features[:, :1]).double()], dim=1)
    y = target.double()
    half = len(y) // 2
    weights = torch.linalg.lstsq(x[:half], y[:half, None]).solution[:, 0]

    def r2(rows: slice) -> Tensor:
        missed = (y[rows] - x[rows] @ weights).pow(2).sum()
        return 1 - missed / (y[rows] - y[rows].mean()).pow(2).sum()

    return r2(slice(half, None)), r2(slice(0, half))


def _probe_r2(features: Float[Tensor, "row d_model"], target: Float[Tensor, " row"]) -> Tensor:
    return _probe_scores(features, target)[0]


def _knockout_hook(query: int, keys: list[int]) -> Callable[[Tensor, object], Tensor]:
    def hook(pattern: Float[Tensor, "batch head query key"], hook: object) -> Tensor:
        pattern = pattern.clone()
        pattern[:, :, query, keys] = 0.0
        return pattern

    return hook


# -- checks ----------------------------------------------------------------------------


@exercise("column_carries", reference=_column_carries)
def check_column_carries(fn) -> None:
    """fn(a, b) -> the carry into each of the 2n product digits (least significant first)."""
    # 999 * 999 = 998001: columns 81, 162, 243, 162, 81 and carries 0, 8, 17, 26, 18, 9.
    a = _digits([999, 123, 500, 0, 77], 3)
    b = _digits([999, 456, 200, 999, 13], 3)
    gen = torch.Generator().manual_seed(4)
    cases = [(a, b), tuple(torch.randint(0, 10, (64, 4), generator=gen) for _ in range(2))]
    for x, y in cases:
        sums = column_sums(x, y)
        alone = torch.cat([torch.zeros_like(sums[:, :1]), sums // 10], dim=1)
        carry_out = torch.cat([_column_carries(x, y)[:, 1:], torch.zeros_like(x[:, :1])], dim=1)
        assert_tensor(
            fn(x, y),
            _column_carries(x, y),
            "column_carries(a, b)",
            dims="example digit",
            mistakes=[
                (
                    alone,
                    "you carried only the column's own tens (s_(k-1) // 10); the carry that "
                    "came into column k - 1 adds to its sum before dividing by 10 (999 * 999 "
                    "carries 17 into c_2, not 16)",
                ),
                (
                    carry_out,
                    "you gave the carry leaving each column; the question asks for the carry "
                    "coming into it (c_0 has none)",
                ),
            ],
        )


@exercise("digit_accuracy", reference=_digit_accuracy)
def check_digit_accuracy(fn) -> None:
    """fn(logits, tokens, n_digits, reverse) -> the accuracy of each answer digit c_k, least
    significant first, reading each digit's prediction from the position before it."""
    gen = torch.Generator().manual_seed(5)
    for n, reverse in ((3, False), (2, True)):
        seq = 4 * n + 3
        tokens = torch.randint(0, 10, (40, seq), generator=gen)
        logits = torch.randn(40, seq, 15, generator=gen)
        # Make the predictions right with odds that differ per position.
        odds = torch.linspace(0.1, 0.95, seq)
        right = torch.rand(40, seq, generator=gen) < odds
        targets = tokens.roll(-1, dims=1)
        logits[right] += 20 * torch.nn.functional.one_hot(targets[right], 15)
        want = _digit_accuracy(logits, tokens, n, reverse)
        _, _, queries = _mul_positions(n, reverse)
        held = torch.tensor(queries) + 1
        no_shift = (logits[:, held].argmax(-1) == tokens[:, held]).float().mean(0)
        assert_tensor(
            fn(logits, tokens, n, reverse),
            want,
            f"digit_accuracy(logits, tokens, {n}, {reverse})",
            dims="answer_digit",
            mistakes=[
                (
                    want.flip(0),
                    "your digits come in written order; give c_0 (the least significant "
                    "digit) first",
                ),
                (
                    no_shift,
                    "you read the logits at the position holding c_k; the prediction of c_k "
                    "comes from the position just before it",
                ),
            ],
        )


@exercise("pair_gather", reference=_pair_gather)
def check_pair_gather(fn) -> None:
    """fn(pattern, n_digits, reverse) -> per head, answer digit c_k and digit pair (a_i, b_j):
    the attention from c_k's query on a_i times that on b_j, averaged over the batch."""
    gen = torch.Generator().manual_seed(6)
    for n, reverse in ((3, False), (2, True)):
        seq = 4 * n + 3
        pattern = torch.rand(5, 2, seq, seq, generator=gen).softmax(-1)
        want = _pair_gather(pattern, n, reverse)
        a_keys, b_keys, queries = _mul_positions(n, reverse)
        rows = pattern[:, :, queries]
        summed = (rows[..., a_keys, None] + rows[..., None, b_keys]).mean(0)
        held = [q + 1 for q in queries[:-1]] + [queries[-1]]
        shifted = pattern[:, :, held]
        wrong_query = einops.einsum(
            shifted[..., a_keys],
            shifted[..., b_keys],
            "batch head k i, batch head k j -> head k i j",
        ) / len(pattern)
        assert_tensor(
            fn(pattern, n, reverse),
            want,
            f"pair_gather(pattern, {n}, {reverse})",
            dims="head answer_digit i j",
            mistakes=[
                (
                    summed,
                    "you added the attention on a_i and on b_j; a pair is gathered only when "
                    "the head reads both digits, so multiply them",
                ),
                (
                    wrong_query,
                    "you took the rows of the positions holding c_k; the logits for c_k come "
                    "from the position just before it",
                ),
            ],
        )


@exercise("probe_r2", reference=_probe_r2)
def check_probe_r2(fn) -> None:
    """fn(features, target) -> R² of a least-squares probe (with a bias) fitted on the
    first half of the rows and scored on the second half."""
    gen = torch.Generator().manual_seed(8)
    # A target that the features explain in part, far from zero mean; and pure noise read
    # by 500 features from 2,000 rows, which a probe fits well on the rows it saw (R² 0.5)
    # and not at all on the others (R² about -1).
    features = torch.randn(2_000, 12, generator=gen)
    partly = 40 + features @ torch.randn(12, generator=gen) + 2 * torch.randn(2_000, generator=gen)
    wide = torch.randn(2_000, 500, generator=gen)
    noise = torch.randint(0, 50, (2_000,), generator=gen)  # integers, like running sums
    for x, y, what in ((features, partly, "a partly linear target"), (wide, noise, "noise")):
        want, in_sample = (r2.item() for r2 in _probe_scores(x, y))
        got = as_number(fn(x, y), f"probe_r2 on {what}")
        wrong = abs(got - want) > 0.02 * max(1.0, abs(want))
        if wrong and abs(got - in_sample) < 0.01:
            raise ExerciseFailed(
                f"on {what} you got R² {got:.3f}, the score on the rows the probe was fitted "
                f"on; score it on the held-out half (expected {want:.3f})"
            )
        if wrong:
            hint = (
                " Did you fit a bias? The target's mean is far from 0."
                if what.startswith("a partly") and got < want - 0.1
                else ""
            )
            raise ExerciseFailed(
                f"on {what}: R² = {got:.3f}, expected {want:.3f} (1 - squared error / "
                f"variance on the held-out half; it can be negative).{hint}"
            )


@exercise("knockout_hook", reference=_knockout_hook)
def check_knockout_hook(fn) -> None:
    """fn(query, keys) -> a hook on `hook_pattern` that zeroes the attention from position
    `query` to the positions `keys` (every head, every example), nothing else."""
    gen = torch.Generator().manual_seed(7)
    pattern = torch.rand(3, 2, 9, 9, generator=gen).softmax(-1)
    query, keys = 6, [1, 4]
    want = _knockout_hook(query, keys)(pattern.clone(), None)
    got = as_tensor(fn(query, keys)(pattern.clone(), None), "the hook's output")
    if got.shape == want.shape and not torch.allclose(got, want, atol=1e-5):
        swapped = pattern.clone()
        swapped[:, :, keys, query] = 0.0
        if torch.allclose(got, swapped, atol=1e-5):
            raise ExerciseFailed(
                "you zeroed pattern[..., keys, query]: the query is the third axis and the "
                "keys the last ([batch head query key])"
            )
        renormed = want / want.sum(-1, keepdim=True)
        if torch.allclose(got, renormed, atol=1e-5):
            raise ExerciseFailed(
                "you renormalised the row; leave the other weights as they were, so the "
                "knocked-out digits' share is simply removed"
            )
        other = [q for q in range(9) if q != query]
        if not torch.allclose(got[:, :, other], pattern[:, :, other], atol=1e-5):
            raise ExerciseFailed("the hook changed rows of other queries; edit row `query` only")
    assert_tensor(got, want, "the hook's output", dims="batch head query key")
