"""Multi-digit addition and subtraction written digit by digit (seed problem 3.8), with the
hard cases oversampled. Used in lesson 12 (digit_addition). Multiplication (`mul`, lesson
13) shares the layout and the vocabulary; it is at the end of this module.

Layout (n = n_digits; the digits are the tokens "0".."9", ids 0..9):

    add5: START a(n-1) .. a0 + b(n-1) .. b0 = c(n) .. c0       c = a + b, n + 1 digits
    sub5: START a(n-1) .. a0 - b(n-1) .. b0 = s c(n-1) .. c0   s "+" if a >= b else "-",
                                                                c = |a - b|, n digits

Operands are zero-padded to n digits. With `reverse=True` every number (both operands and
the answer) is written least-significant digit first; the sign of a difference stays just
after "=". The n + 1 answer tokens are scored, so both tasks have `seq_len = 3n + 4`.

**Carry chains.** A digit *generates* a carry when a_i + b_i >= 10 and *propagates* one
when a_i + b_i = 9 (it carries only if a carry comes in). A carry chain is a generating
digit followed by the propagating digits its carry runs through: 99999 + 00001 has one
chain of 5, 15 + 17 one of 1. For x - y (x = max(a, b), y = min(a, b)) a digit generates
a borrow when x_i < y_i and propagates one when x_i = y_i: 10000 - 00001 has a chain of 4.
`chain_lengths` gives the longest chain of each example (0..n for addition, 0..n-1 for
subtraction, whose top digit never borrows). A chain of 3 or more is a *cascade*.

**Why the mix.** On uniform operands the cases that break a model are rare: a cascade of
3+ carries is 1.4% of add5 examples, a borrow cascade 0.8% of sub5's, a == b 1e-5, and
a *decoy* (3+ digits that would propagate a carry, but none comes in: 34500 + 65412)
0.2%. A model trained on uniform data gets the uniform test right and fails these
(lesson 12's 1-layer model gets 97% of cascades and about 60% of decoys right). So
`mix="train"` puts a uniform example at every even row and a hard one at every odd row,
the hard kind drawn uniformly from:

    add5: a chain of exactly L = 1, 2, .., n digits (one kind per L), a decoy run, small
          operands (only the low k digits nonzero, k uniform in 0..n-1: answers with
          leading zeros)
    sub5: a borrow chain of L = 1, .., n - 1, a decoy run, small operands, and near-equal
          operands (b shares a's top 1..n digits; all n: a == b)

Measured on 100,000 examples of the default tasks (tests/families/test_arithmetic.py
holds the bounds): add5 `mix="train"` has 22.2% cascades (longest chain >= 3), 5.7%
decoys and 7.3% answers with two or more leading zeros; sub5 `mix="train"` has 14.5%
borrow cascades, 12.4% decoys, 2.2% a == b and 48.7% negative answers.

Knowing which rows are uniform lets `metrics` report `accuracy_uniform` (the even rows)
beside `accuracy` on the whole mix and `accuracy_cascade` (rows with a cascade), so the
training history and meta.json record the lesson's targets directly. `mix="uniform"`,
`"cascade"` (a chain of 3..max_chain digits) and `"decoy"` (a decoy run of 3..max_chain)
give evaluation sets.

A chain of length L at digit p is built from digit pairs: at p a generating pair, at
p+1..p+L-1 propagating pairs, at p+L (below the top) a pair that stops a carry
(a + b <= 8; x > y), and at p-1 (above the bottom) another stopping pair so that no carry
comes in. A decoy run has propagating pairs at p..p+L-1 and a stopping pair at p-1. The
other digits are uniform, so other chains may appear there: an example built with chain
L has a longest chain of at least L. Subtraction pairs are built with x >= y, then written
as a - b or b - a with equal odds.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cache
from typing import ClassVar

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from toyhelpers.tasks import (
    Batch,
    Task,
    bool_setting,
    choice_setting,
    float_setting,
    int_setting,
    register,
    sequence_metrics,
)

MAX_DIGITS = 16
MIXES = ("train", "uniform", "cascade", "decoy")
CASCADE = 3  # a chain at least this long is a cascade, the hard case of the literature

# The family vocabulary: "*" is there for the multiplication task of lesson 13.
VOCAB = [str(d) for d in range(10)] + ["+", "-", "*", "=", "START"]
PLUS, MINUS, TIMES, EQUALS, START = range(10, 15)

# Digit-pair classes of the chain construction.
FREE, GENERATE, PROPAGATE, STOP = range(4)


# -- digit arithmetic (all digits least significant first) ---------------------------------


def add_digits(
    a: Int[Tensor, "batch digit"], b: Int[Tensor, "batch digit"]
) -> tuple[Int[Tensor, "batch digit_1"], Bool[Tensor, "batch digit"]]:
    """a + b as n + 1 digits, and whether each digit carries out."""
    out, carries = [], []
    carry = torch.zeros_like(a[:, 0])
    for i in range(a.shape[1]):
        total = a[:, i] + b[:, i] + carry
        out.append(total % 10)
        carry = total // 10
        carries.append(carry.bool())
    out.append(carry)
    return torch.stack(out, dim=1), torch.stack(carries, dim=1)


def sub_digits(
    x: Int[Tensor, "batch digit"], y: Int[Tensor, "batch digit"]
) -> tuple[Int[Tensor, "batch digit"], Bool[Tensor, "batch digit"]]:
    """x - y (x >= y) as n digits, and whether each digit borrows."""
    out, borrows = [], []
    borrow = torch.zeros_like(x[:, 0])
    for i in range(x.shape[1]):
        diff = x[:, i] - y[:, i] - borrow
        borrow = (diff < 0).long()
        out.append(diff + 10 * borrow)
        borrows.append(borrow.bool())
    return torch.stack(out, dim=1), torch.stack(borrows, dim=1)


def greater_equal(
    x: Int[Tensor, "batch digit"], y: Int[Tensor, "batch digit"]
) -> Bool[Tensor, " batch"]:
    """x >= y as numbers, compared digit by digit from the top (no overflow at 16 digits)."""
    result = torch.ones(x.shape[0], dtype=torch.bool, device=x.device)
    decided = torch.zeros_like(result)
    for i in reversed(range(x.shape[1])):
        differ = (x[:, i] != y[:, i]) & ~decided
        result = torch.where(differ, x[:, i] > y[:, i], result)
        decided |= differ
    return result


def chain_per_digit(
    generate: Bool[Tensor, "batch digit"], propagate: Bool[Tensor, "batch digit"]
) -> Int[Tensor, "batch digit"]:
    """For each digit, the length of the carry chain that carries out of it (0: no carry).

    A generating digit starts a chain of 1; a propagating digit with a carry coming in
    extends the chain below it by one.
    """
    out = []
    below = torch.zeros(generate.shape[0], dtype=torch.long, device=generate.device)
    for i in range(generate.shape[1]):
        extended = torch.where(propagate[:, i] & (below > 0), below + 1, 0)
        below = torch.where(generate[:, i], 1, extended)
        out.append(below)
    return torch.stack(out, dim=1)


@cache
def _pair_tables(kind: str) -> tuple[Int[Tensor, "4 100 2"], Int[Tensor, " 4"]]:
    """For each pair class, its (a_i, b_i) digit pairs (padded to 100) and how many there are.

    Addition: GENERATE a + b >= 10, PROPAGATE a + b = 9, STOP a + b <= 8.
    Subtraction (x - y): GENERATE x < y, PROPAGATE x = y, STOP x > y.
    """
    pairs = [(x, y) for x in range(10) for y in range(10)]
    if kind == "add":
        tests = [lambda x, y: True, lambda x, y: x + y >= 10]
        tests += [lambda x, y: x + y == 9, lambda x, y: x + y <= 8]
    else:
        tests = [lambda x, y: True, lambda x, y: x < y]
        tests += [lambda x, y: x == y, lambda x, y: x > y]
    table = torch.zeros(4, 100, 2, dtype=torch.long)
    counts = torch.zeros(4, dtype=torch.long)
    for c, test in enumerate(tests):
        chosen = [p for p in pairs if test(*p)]
        table[c, : len(chosen)] = torch.tensor(chosen)
        counts[c] = len(chosen)
    return table, counts


def _randint(high: Int[Tensor, "..."], gen: torch.Generator) -> Int[Tensor, "..."]:
    """A uniform int in 0..high-1 for every entry of `high` (entries >= 1)."""
    u = torch.rand(high.shape, generator=gen, device=high.device)
    return (u * high).long().clamp_(max=high - 1)


def _run_pairs(
    n_digits: int,
    room: int,
    lengths: Int[Tensor, " batch"],
    fire: Bool[Tensor, " batch"],
    kind: str,
    gen: torch.Generator,
) -> tuple[Int[Tensor, "batch digit"], Int[Tensor, "batch digit"], Int[Tensor, " batch"]]:
    """Digits with a run of `lengths` digits at a random place in the low `room` digits.

    Where `fire` the run is a chain (a generating pair, then propagating ones, then a
    stop); elsewhere a decoy (propagating pairs only). A stopping pair below the run keeps
    carries out. Returns both operands' digits and the first digit above the run's stop,
    from which on the digits are uniform.
    """
    n, device = lengths.shape[0], lengths.device
    start = _randint(room - lengths + 1, gen)  # p in 0..room-L
    pos = torch.arange(n_digits, device=device)[None, :]
    p, top, f = start[:, None], (start + lengths)[:, None], fire[:, None]
    cls = torch.full((n, n_digits), FREE, dtype=torch.long, device=device)
    cls[(pos >= p) & (pos < top)] = PROPAGATE
    cls[(pos == p) & f] = GENERATE
    cls[((pos == top) & f) | (pos == p - 1)] = STOP
    table, counts = (t.to(device) for t in _pair_tables(kind))
    pairs = table[cls, _randint(counts[cls], gen)]
    return pairs[..., 0], pairs[..., 1], start + lengths + fire.long()


def _small(digits: Int[Tensor, "batch digit"], gen: torch.Generator) -> Int[Tensor, "batch digit"]:
    """Keep only the low k digits of each number, k uniform in 0..n_digits-1 (0: zero)."""
    n, n_digits = digits.shape
    keep = _randint(torch.full((n, 1), n_digits, device=digits.device), gen)
    pos = torch.arange(n_digits, device=digits.device)[None, :]
    return torch.where(pos < keep, digits, 0)


def per_example_correct(
    logits: Float[Tensor, "batch seq d_vocab"], batch: Batch
) -> Bool[Tensor, " batch"]:
    """Whether every scored token of each example is the argmax prediction."""
    pred = logits[:, :-1].argmax(-1)
    target, mask = batch.tokens[:, 1:], batch.scored[:, 1:]
    return ((pred == target) | ~mask).all(dim=-1)


# -- the tasks ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DigitTask(Task):
    """What every task of the family shares: two n-digit operands written digit by digit,
    an operator between them, then `=` and the scored answer. Used in lessons 12 and 13."""

    op_token: ClassVar[int] = PLUS

    n_digits: int = int_setting(5, 1, MAX_DIGITS)
    reverse: bool = bool_setting(False)

    # -- layout ------------------------------------------------------------------------
    @property
    def vocab(self) -> list[str]:
        return list(VOCAB)

    @property
    def answer_start(self) -> int:
        """Position of the first answer token, just after `=`."""
        return 2 * self.n_digits + 3

    @property
    def answer_positions(self) -> range:
        """Positions of the answer tokens, in written order."""
        return range(self.answer_start, self.seq_len)

    def written(self, digits: Int[Tensor, "batch k"]) -> Int[Tensor, "batch k"]:
        """Least-significant-first digits in the order they are written."""
        return digits if self.reverse else digits.flip(1)

    def unwritten(self, written: Int[Tensor, "batch k"]) -> Int[Tensor, "batch k"]:
        """Written digits back to least significant first."""
        return written if self.reverse else written.flip(1)

    def operand_positions(self, operand: int) -> list[int]:
        """Positions of operand 0 (a) or 1 (b)'s digits, least significant digit first."""
        n = self.n_digits
        first = 1 if operand == 0 else n + 2
        positions = list(range(first, first + n))
        return positions if self.reverse else positions[::-1]

    def operands(
        self, tokens: Int[Tensor, "batch seq"]
    ) -> tuple[Int[Tensor, "batch digit"], Int[Tensor, "batch digit"]]:
        """The digits of a and b, least significant first."""
        return tokens[:, self.operand_positions(0)], tokens[:, self.operand_positions(1)]

    # -- data --------------------------------------------------------------------------
    def _operands(
        self, n: int, gen: torch.Generator, device: torch.device
    ) -> tuple[Int[Tensor, "batch digit"], Int[Tensor, "batch digit"]]:
        """Operand digits (least significant first), drawn from the task's mix."""
        raise NotImplementedError

    def answer_digits(
        self, a: Int[Tensor, "batch digit"], b: Int[Tensor, "batch digit"]
    ) -> Int[Tensor, "batch answer"]:
        """The answer tokens in written order."""
        raise NotImplementedError

    def _generate(self, n: int, gen: torch.Generator, device: torch.device) -> Batch:
        a, b = self._operands(n, gen, device)

        def column(token: int) -> Int[Tensor, "batch 1"]:
            return torch.full((n, 1), token, dtype=torch.long, device=device)

        parts = [column(START), self.written(a), column(self.op_token), self.written(b)]
        tokens = torch.cat(parts + [column(EQUALS), self.answer_digits(a, b)], dim=1)
        scored = torch.zeros_like(tokens, dtype=torch.bool)
        scored[:, self.answer_start :] = True
        return Batch(tokens, scored)

    # -- training ----------------------------------------------------------------------
    def training_loss(self, model: torch.nn.Module, batch: Batch) -> Float[Tensor, ""]:
        """`loss` from the answer positions alone (`models.tail_logits`): the same value and
        gradients, without running the last MLP and the unembedding on the question."""
        from toyhelpers.models import tail_logits

        return self._answer_loss(tail_logits(model, batch.tokens, self.n_answer + 1), batch)

    @property
    def n_answer(self) -> int:
        return self.seq_len - self.answer_start

    def _answer_loss(
        self, tail: Float[Tensor, "batch answer_1 d_vocab"], batch: Batch
    ) -> Float[Tensor, ""]:
        """Cross-entropy of the answer tokens, from the logits at `=` and every answer
        position (the last position's logits predict nothing and are dropped)."""
        logits = tail[:, :-1]
        target = batch.tokens[:, self.answer_start :]
        return torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), target.reshape(-1)
        )

    def with_mix(self, mix: str) -> DigitTask:
        """The same task drawing from another mix (an evaluation set)."""
        return dataclasses.replace(self, mix=mix)


@dataclass(frozen=True)
class Arithmetic(DigitTask):
    """What addition and subtraction share: layout, settings, the mix of hard cases."""

    kind: ClassVar[str] = ""  # "add" or "sub"

    mix: str = choice_setting("train", MIXES)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.mix in ("cascade", "decoy") and self.max_chain < CASCADE:
            raise ValueError(
                f"mix={self.mix!r} needs runs of {CASCADE}+ digits, which {self.name} cannot "
                f"have with n_digits={self.n_digits} (at most {self.max_chain}); use "
                f"n_digits >= {CASCADE + self.n_digits - self.max_chain}"
            )

    @property
    def seq_len(self) -> int:
        return 3 * self.n_digits + 4

    @property
    def max_chain(self) -> int:
        """The longest carry (borrow) chain an example can have."""
        return self.n_digits if self.kind == "add" else self.n_digits - 1

    @property
    def hard_kinds(self) -> list[str]:
        """The hard kinds that share the odd rows of `mix="train"`."""
        chains = [f"chain{length}" for length in range(1, self.max_chain + 1)]
        decoy = ["decoy"] if self.max_chain >= 1 else []
        return chains + decoy + ["small"] + (["near_equal"] if self.kind == "sub" else [])

    # -- data --------------------------------------------------------------------------
    def _kinds(self, n: int, gen: torch.Generator, device: torch.device) -> Int[Tensor, " batch"]:
        """Per example: -1 for uniform, else an index into `hard_kinds`."""
        if self.mix == "uniform":
            return torch.full((n,), -1, dtype=torch.long, device=device)
        if self.mix == "cascade":
            span = torch.full((n,), self.max_chain - CASCADE + 1, device=device)
            return CASCADE - 1 + _randint(span, gen)
        if self.mix == "decoy":
            return torch.full((n,), self.hard_kinds.index("decoy"), device=device)
        hard = _randint(torch.full((n,), len(self.hard_kinds), device=device), gen)
        odd = torch.arange(n, device=device) % 2 == 1
        return torch.where(odd, hard, -1)

    def _operands(
        self, n: int, gen: torch.Generator, device: torch.device
    ) -> tuple[Int[Tensor, "batch digit"], Int[Tensor, "batch digit"]]:
        """Operand digits drawn from the mix (least significant first)."""
        nd, names = self.n_digits, self.hard_kinds
        kinds = self._kinds(n, gen, device)
        # Every construction is drawn for every row and the right one picked, so the data
        # depend on n and the seed only, never on which kinds came up.
        a = torch.randint(0, 10, (n, nd), generator=gen, device=device)
        b = torch.randint(0, 10, (n, nd), generator=gen, device=device)

        def is_kind(name: str) -> Bool[Tensor, " batch"]:
            return kinds == (names.index(name) if name in names else -2)

        longest = max(self.max_chain, 1)
        low = CASCADE if self.mix == "decoy" else 2  # decoys of 2+ digits in training
        span = torch.full((n,), max(longest - low + 1, 1), device=device)
        decoy = is_kind("decoy")
        lengths = torch.where(
            decoy, (low + _randint(span, gen)).clamp(max=longest), (kinds + 1).clamp(1, longest)
        )
        ca, cb, free_from = _run_pairs(nd, longest, lengths, ~decoy, self.kind, gen)
        sa, sb = _small(a, gen), _small(b, gen)
        swap = torch.rand(n, generator=gen, device=device) < 0.5
        prefix = 1 + _randint(torch.full((n, 1), nd, device=device), gen)
        if self.kind == "sub":
            # Make x >= y: where the uniform digits above the run say otherwise, swap the
            # operands there (the run and its stops keep x >= y below them)...
            above = torch.arange(nd, device=device)[None, :] >= free_from[:, None]
            fix = above & ~greater_equal(ca, cb)[:, None]
            ca, cb = torch.where(fix, cb, ca), torch.where(fix, ca, cb)
            # ...then write it as a - b or b - a with equal odds.
            ca, cb = torch.where(swap[:, None], cb, ca), torch.where(swap[:, None], ca, cb)
        chain = ((kinds >= 0) & (kinds < self.max_chain)) | decoy
        small = is_kind("small")
        a = torch.where(chain[:, None], ca, torch.where(small[:, None], sa, a))
        b = torch.where(chain[:, None], cb, torch.where(small[:, None], sb, b))
        if self.kind == "sub":
            shared = torch.arange(nd, device=device)[None, :] >= nd - prefix
            b = torch.where(is_kind("near_equal")[:, None] & shared, a, b)
        return a, b

    # -- analysis ----------------------------------------------------------------------
    def pair_classes(
        self, tokens: Int[Tensor, "batch seq"]
    ) -> tuple[Bool[Tensor, "batch digit"], Bool[Tensor, "batch digit"]]:
        """Whether each digit (least significant first) generates and propagates a carry
        (a borrow, for subtraction)."""
        raise NotImplementedError

    def carries(self, tokens: Int[Tensor, "batch seq"]) -> Bool[Tensor, "batch digit"]:
        """Whether each digit (least significant first) carries (borrows) out."""
        return self.chain_per_digit(tokens) > 0

    def chain_per_digit(self, tokens: Int[Tensor, "batch seq"]) -> Int[Tensor, "batch digit"]:
        """The length of the chain carrying out of each digit (0 where none does)."""
        return chain_per_digit(*self.pair_classes(tokens))

    def chain_lengths(self, tokens: Int[Tensor, "batch seq"]) -> Int[Tensor, " batch"]:
        """The longest carry (borrow) chain of each example."""
        return self.chain_per_digit(tokens).max(dim=1).values

    def decoy_lengths(self, tokens: Int[Tensor, "batch seq"]) -> Int[Tensor, " batch"]:
        """The longest run of propagating digits that no carry reaches, per example."""
        _, propagate = self.pair_classes(tokens)
        carry_in = torch.cat(
            [torch.zeros_like(propagate[:, :1]), self.carries(tokens)[:, :-1]], dim=1
        )
        run = torch.zeros(tokens.shape[0], dtype=torch.long, device=tokens.device)
        best = torch.zeros_like(run)
        for i in range(propagate.shape[1]):
            run = (run + 1) * (propagate[:, i] & ~carry_in[:, i])
            best = torch.maximum(best, run)
        return best

    # -- scoring -------------------------------------------------------------------------
    def metrics(self, logits: Float[Tensor, "batch seq d_vocab"], batch: Batch) -> dict[str, float]:
        """Loss and accuracies; whole answers on every row (`accuracy`), on the rows with a
        cascade of 3+ (`accuracy_cascade`, NaN if none) and, for the train and uniform
        mixes, on the uniform rows (`accuracy_uniform`: the even rows of `mix="train"`)."""
        result = sequence_metrics(logits, batch)
        right = per_example_correct(logits, batch)
        cascade = self.chain_lengths(batch.tokens) >= CASCADE
        result["accuracy_cascade"] = (
            right[cascade].float().mean().item() if cascade.any() else float("nan")
        )
        if self.mix in ("train", "uniform"):
            step = 2 if self.mix == "train" else 1
            result["accuracy_uniform"] = right[::step].float().mean().item()
        return result


@register("add5")
@dataclass(frozen=True)
class Addition(Arithmetic):
    """n-digit addition: `START a + b = c`, c = a + b in n_digits + 1 digits.

    Settings: `n_digits` (1..16), `reverse` (every number least-significant digit first),
    `mix` ("train": uniform and hard rows alternating; "uniform"; "cascade": a carry
    chain of 3..n_digits; "decoy"). The module docstring describes the mix.
    """

    description = "n-digit addition: START a + b = c (hard carry cases oversampled)"
    kind: ClassVar[str] = "add"
    op_token: ClassVar[int] = PLUS

    def answer_digits(self, a, b):
        return self.written(add_digits(a, b)[0])

    def pair_classes(self, tokens):
        a, b = self.operands(tokens)
        return a + b >= 10, a + b == 9


@register("sub5")
@dataclass(frozen=True)
class Subtraction(Arithmetic):
    """n-digit subtraction: `START a - b = s c`, s "+" when a >= b else "-", c = |a - b|.

    Settings as for `add5`; `mix="cascade"` gives a borrow chain of 3..n_digits-1, and the
    train mix also holds near-equal operands (a == b among them).
    """

    description = "n-digit subtraction: START a - b = s |a-b| (hard borrow cases oversampled)"
    kind: ClassVar[str] = "sub"
    op_token: ClassVar[int] = MINUS

    def ordered(
        self, a: Int[Tensor, "batch digit"], b: Int[Tensor, "batch digit"]
    ) -> tuple[Bool[Tensor, " batch"], Int[Tensor, "batch digit"], Int[Tensor, "batch digit"]]:
        """a >= b, and x = max(a, b), y = min(a, b)."""
        ge = greater_equal(a, b)
        return ge, torch.where(ge[:, None], a, b), torch.where(ge[:, None], b, a)

    def answer_digits(self, a, b):
        ge, x, y = self.ordered(a, b)
        sign = torch.where(ge, PLUS, MINUS)[:, None]
        return torch.cat([sign, self.written(sub_digits(x, y)[0])], dim=1)

    def pair_classes(self, tokens):
        _, x, y = self.ordered(*self.operands(tokens))
        return x < y, x == y


# -- multiplication (lesson 13) -----------------------------------------------------------

MUL_MAX_DIGITS = 12  # 4n + 3 = 51 tokens; the schoolbook tables below stay small
MUL_MIXES = ("train", "uniform", "hard")
MUL_HARD_KINDS = ("large", "nines", "zeros", "small")


def column_sums(
    a: Int[Tensor, "batch digit"], b: Int[Tensor, "batch digit"]
) -> Int[Tensor, "batch column"]:
    """The schoolbook columns: s_k = sum of a_i * b_j over i + j = k, for k in 0..2n-2."""
    n = a.shape[1]
    products = a[:, :, None] * b[:, None, :]  # [batch, i, j]
    sums = torch.zeros(a.shape[0], 2 * n - 1, dtype=torch.long, device=a.device)
    for i in range(n):
        sums[:, i : i + n] += products[:, i]
    return sums


def mul_digits(
    a: Int[Tensor, "batch digit"], b: Int[Tensor, "batch digit"]
) -> tuple[Int[Tensor, "batch answer"], Int[Tensor, "batch answer"]]:
    """a * b as 2n digits (least significant first), and the carry into each of them.

    Digit k is (s_k + carry_k) mod 10 with s_k the column sum (`column_sums`), and the carry
    into k + 1 is (s_k + carry_k) // 10: a carry can be any number, not just 0 or 1. The top
    digit is the last carry alone.
    """
    sums = column_sums(a, b)
    out, carries = [], []
    carry = torch.zeros_like(a[:, 0])
    for k in range(sums.shape[1]):
        carries.append(carry)
        total = sums[:, k] + carry
        out.append(total % 10)
        carry = total // 10
    carries.append(carry)
    out.append(carry)
    return torch.stack(out, dim=1), torch.stack(carries, dim=1)


def running_sums(
    a: Int[Tensor, "batch digit"], b: Int[Tensor, "batch digit"]
) -> Int[Tensor, "batch answer"]:
    """The running sum behind each answer digit: column sum plus incoming carry,
    s_k + carry_k, so that c_k = running_k mod 10 and carry_(k+1) = running_k // 10. The
    top digit has no column of its own: its running sum is its incoming carry."""
    digits, carries = mul_digits(a, b)
    # running_k = c_k + 10 carry_(k+1): read off mul_digits instead of summing columns again.
    return torch.cat([digits[:, :-1] + 10 * carries[:, 1:], carries[:, -1:]], dim=1)


def readout_error(
    features: Float[Tensor, "row *group d_model"],
    target: Float[Tensor, " row *group"],
    ridge: float = 1e-3,
) -> Float[Tensor, ""]:
    """The share of `target`'s variance that a linear readout of `features` misses, held
    out: least squares (and a little ridge, `ridge` times the mean diagonal of the Gram
    matrix) fitted on the first half of the rows, scored on the second half. 0: a linear
    probe reads the target exactly; about 1: it reads nothing. Differentiable in
    `features`, so as a training loss it asks the model to write the target linearly.

    With group axes (`[row answer d_model]`: one group per answer digit), every group gets
    its own bias and the error is measured against the spread within each group, so that
    what differs between groups (the running sum of the middle digit is larger than the
    units digit's, and the position alone says so) counts for nothing; the weights are
    shared by all groups.
    """
    if features.shape[:-1] != target.shape or features.shape[0] < 4:
        raise ValueError(
            f"need one target per row (and group) and at least 4 rows, got features of shape "
            f"{tuple(features.shape)} and targets of shape {tuple(target.shape)}"
        )
    y = target.to(features.dtype)
    half = features.shape[0] // 2
    # Biases come from centring on the fitted half's means (per group), so the ridge never
    # shrinks them.
    x_mean, y_mean = features[:half].mean(0), y[:half].mean(0)
    width = features.shape[-1]
    fit_x = (features[:half] - x_mean).reshape(-1, width)
    test_x = (features[half:] - x_mean).reshape(-1, width)
    fit_y, test_y = (y[:half] - y_mean).reshape(-1), (y[half:] - y_mean).reshape(-1)
    spread = (y[half:] - y[half:].mean(0)).pow(2).mean().clamp_min(1e-12)
    gram = fit_x.T @ fit_x
    energy = gram.diagonal().mean().clamp_min(1e-12)  # features constant within groups: 0
    damping = ridge * energy * torch.eye(width, device=gram.device)
    weights = torch.linalg.solve(gram + damping, fit_x.T @ fit_y)
    return ((test_x @ weights - test_y) ** 2).mean() / spread


def digit_correct(
    logits: Float[Tensor, "batch seq d_vocab"],
    task: Multiplication,
    tokens: Int[Tensor, "batch seq"],
) -> Bool[Tensor, "batch answer"]:
    """Whether each answer digit c_k (least significant first) is the argmax prediction."""
    positions = torch.tensor(list(task.answer_positions), device=tokens.device)
    pred = logits[:, positions - 1].argmax(-1)
    return task.unwritten(pred == tokens[:, positions])


@register("mul")
@dataclass(frozen=True)
class Multiplication(DigitTask):
    """n-digit multiplication: `START a * b = c`, c = a * b zero-padded to 2 n_digits digits.

    Layout (n = n_digits): `START a(n-1) .. a0 * b(n-1) .. b0 = c(2n-1) .. c0`, so
    `seq_len = 4n + 3` and the 2n answer tokens are scored. `reverse=True` writes every
    number least-significant digit first.

    **Why the mix.** Digit c_k needs every partial product a_i * b_j with i + j <= k (those
    with i + j = k directly, the lower ones through the carry), and the carry can be large:
    in 999 * 999 the carry into c_3 is 21. Uniform operands rarely push these to their
    extremes, so `mix="train"` puts a uniform example at every even row and a hard one at
    every odd row, drawn uniformly from: `large` (every digit 5..9: big column sums and
    carries), `nines` (one operand 99..9, the other uniform), `zeros` (each digit zero with
    odds 1/2: zeros inside the answer, a zero operand now and then) and `small` (only the
    low k digits of each operand nonzero, k uniform in 0..n-1: answers with leading zeros).
    `mix="uniform"` and `mix="hard"` (every row hard) give evaluation sets; `metrics`
    reports `accuracy_uniform`, `accuracy_hard` and the accuracy of each answer digit
    (`accuracy_c0` for the least significant one). Used in lesson 13 (multiplication).
    """

    description = "n-digit multiplication: START a * b = c (hard carry cases oversampled)"
    op_token: ClassVar[int] = TIMES

    n_digits: int = int_setting(3, 1, MUL_MAX_DIGITS)
    reverse: bool = bool_setting(False)
    mix: str = choice_setting("train", MUL_MIXES)
    # Weight of the running-sum loss in training (0: plain next-token training).
    running_sum_loss: float = float_setting(0.0, 0.0, 100.0, lo_allowed=True)

    @property
    def seq_len(self) -> int:
        return 4 * self.n_digits + 3

    def encode(self, text):
        """Token ids for a space-separated string; an operand with the wrong number of
        digits is refused (the model reads exactly n_digits per operand)."""
        ids = super().encode(text)
        words = text.split() if isinstance(text, str) else list(text)
        if "*" in words:
            star = words.index("*")
            a_len = star - (1 if words[0] == "START" else 0)
            b_len = (words.index("=") if "=" in words else len(words)) - star - 1
            for name, length in (("a", a_len), ("b", b_len)):
                if length != self.n_digits:
                    raise ValueError(
                        f"operand {name} has {length} digit(s); mul with n_digits="
                        f"{self.n_digits} writes each operand as exactly {self.n_digits} "
                        f"digits (zero-padded)"
                    )
        return ids

    def example(self, a: int, b: int) -> Int[Tensor, " seq"]:
        """The whole sequence for a * b (answer included), from two Python ints."""
        limit = 10**self.n_digits
        for name, value in (("a", a), ("b", b)):
            if not isinstance(value, int) or not 0 <= value < limit:
                raise ValueError(
                    f"{name}={value!r}: mul with n_digits={self.n_digits} takes ints in "
                    f"0..{limit - 1}"
                )
        digits = [torch.tensor([[x // 10**i % 10 for i in range(self.n_digits)]]) for x in (a, b)]
        parts = [torch.tensor([[START]]), self.written(digits[0]), torch.tensor([[TIMES]])]
        parts += [self.written(digits[1]), torch.tensor([[EQUALS]])]
        return torch.cat(parts + [self.answer_digits(*digits)], dim=1)[0]

    def answer_digits(self, a, b):
        return self.written(mul_digits(a, b)[0])

    def _operands(self, n, gen, device):
        nd = self.n_digits
        if self.mix == "uniform":
            kinds = torch.full((n,), -1, dtype=torch.long, device=device)
        else:
            kinds = _randint(torch.full((n,), len(MUL_HARD_KINDS), device=device), gen)
            if self.mix == "train":
                kinds = torch.where(torch.arange(n, device=device) % 2 == 1, kinds, -1)
        # Every construction is drawn for every row and the right one picked, so the data
        # depend on n and the seed only.
        a = torch.randint(0, 10, (n, nd), generator=gen, device=device)
        b = torch.randint(0, 10, (n, nd), generator=gen, device=device)
        large = [torch.randint(5, 10, (n, nd), generator=gen, device=device) for _ in range(2)]
        zero = [torch.rand(n, nd, generator=gen, device=device) < 0.5 for _ in range(2)]
        swap = (torch.rand(n, generator=gen, device=device) < 0.5)[:, None]
        small = _small(a, gen), _small(b, gen)
        nines = torch.where(swap, 9, a), torch.where(swap, b, 9)
        choices = {
            "large": large,
            "nines": nines,
            "zeros": (a.masked_fill(zero[0], 0), b.masked_fill(zero[1], 0)),
            "small": small,
        }
        out_a, out_b = a, b
        for index, name in enumerate(MUL_HARD_KINDS):
            here = (kinds == index)[:, None]
            out_a = torch.where(here, choices[name][0], out_a)
            out_b = torch.where(here, choices[name][1], out_b)
        return out_a, out_b

    # -- training ----------------------------------------------------------------------
    def training_loss(self, model: torch.nn.Module, batch: Batch) -> Float[Tensor, ""]:
        """The answer's cross-entropy, plus `running_sum_loss` times the running-sum loss:
        the share of the running sums' variance (`running_sums`, one per answer digit, at
        the position predicting that digit; the spread within each digit, not between
        digits) that no linear readout of the residual stream entering the last block
        explains (`readout_error`). The remedy of Bai et al. (arXiv 2510.00184), who fit
        a linear regression probe to the running sum beside the model; here the probe is
        refitted on each batch in closed form, so it has no weights to train or save and
        the loss does not depend on the residual's scale."""
        if self.running_sum_loss == 0:
            return super().training_loss(model, batch)
        from toyhelpers.models import tail_logits_and_residual

        logits, resid = tail_logits_and_residual(model, batch.tokens, self.n_answer + 1)
        loss = self._answer_loss(logits, batch)
        queries = [self.answer_query(k) for k in range(self.n_answer)]
        sums = running_sums(*self.operands(batch.tokens)).float()
        return loss + self.running_sum_loss * readout_error(resid[:, queries], sums)

    # -- analysis ----------------------------------------------------------------------
    def product_digits(self, tokens: Int[Tensor, "batch seq"]) -> Int[Tensor, "batch answer"]:
        """The written answer's digits, least significant first."""
        return self.unwritten(tokens[:, self.answer_start :])

    def carries(self, tokens: Int[Tensor, "batch seq"]) -> Int[Tensor, "batch answer"]:
        """The carry into each answer digit (least significant first)."""
        return mul_digits(*self.operands(tokens))[1]

    def answer_query(self, k: int) -> int:
        """The position whose logits predict c_k (the one just before c_k is written)."""
        n = self.n_digits
        written = k if self.reverse else 2 * n - 1 - k
        return self.answer_start + written - 1

    # -- scoring -------------------------------------------------------------------------
    def metrics(self, logits: Float[Tensor, "batch seq d_vocab"], batch: Batch) -> dict[str, float]:
        """Loss and whole-answer accuracy (`accuracy`), on the uniform rows
        (`accuracy_uniform`: even rows of the train mix) and the hard ones
        (`accuracy_hard`), and per answer digit (`accuracy_c{k}`, c_0 least significant)."""
        result = sequence_metrics(logits, batch)
        right = per_example_correct(logits, batch).float()
        if self.mix == "train":
            result["accuracy_uniform"] = right[::2].mean().item()
            result["accuracy_hard"] = right[1::2].mean().item() if len(right) > 1 else float("nan")
        else:
            result[f"accuracy_{self.mix}"] = right.mean().item()
        per_digit = digit_correct(logits, self, batch.tokens).float().mean(0)
        for k, value in enumerate(per_digit.tolist()):
            result[f"accuracy_c{k}"] = value
        return result
