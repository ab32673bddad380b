"""Tiny assignment programs with copy chains (seed problem 3.9). Used in lesson 18
(code_tracing).

`BOS v = e ; v = e ; ... ; ? v answer`: each line assigns a variable (`a`, `b`, ...) a
digit or the current value of a variable assigned earlier, and the query asks for the
final value of one variable. Assignment copies the value (`a = 3 ; b = a ; a = 5 ; ? b`
gives 3). The queried value comes down a **chain**: a root line `x1 = digit`, then lines
`x2 = x1`, ..., `xd = x(d-1)`, each read while the previous variable still holds the
root's digit; d is the chain's **depth**. The other lines are distractors (digits and
copies) that never overwrite a chain variable while the chain still needs it, but may
overwrite it before or after (the value-semantics trap above).

The generator draws the depth uniformly in 1..max_depth and then the root's line
uniformly among the lines that leave room for the chain, so the first line holds the root
no more often than any other line that could: "answer with the first assignment" gets no
more than its share. Importing this module needs torch only.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor

from toyhelpers.tasks import Batch, Task, int_setting, register

MAX_CONTEXT = 256  # the longest program, in tokens (BOS and the query included)
DIGITS = [str(d) for d in range(10)]
LETTERS = "abcdefghijklmnopqrstuvwxyz"
TOKENS_PER_LINE = 4  # v = e ;


@register("code_trace")
@dataclass(frozen=True)
class CodeTrace(Task):
    """`BOS v = e ; ... ; ? v answer`, `n_lines` lines over `n_vars` variables, the queried
    value reached through a copy chain of depth 1..max_depth; only the answer is scored.

    Token ids: digits `"0".."9"` are 0..9, then the variables, then `=`, `;`, `?`, `BOS`.
    Line i (from 0) sits at positions `1 + 4i` (variable), `2 + 4i` (`=`), `3 + 4i` (its
    value) and `4 + 4i` (`;`); the queried variable at `query_pos`, the answer after it.
    """

    description = "trace copies: BOS a = 3 ; b = a ; a = 5 ; ? b 3 (value semantics)"

    n_vars: int = int_setting(2, 2, len(LETTERS))
    n_lines: int = int_setting(4, 2)
    max_depth: int = int_setting(2, 2)

    def __post_init__(self) -> None:
        super().__post_init__()
        length = TOKENS_PER_LINE * self.n_lines + 4
        if length > MAX_CONTEXT:
            raise ValueError(
                f"n_lines={self.n_lines} makes a program of {length} tokens, longer than the "
                f"context of {MAX_CONTEXT}: n_lines must be at most {(MAX_CONTEXT - 4) // 4}"
            )
        if self.max_depth > self.n_lines:
            raise ValueError(
                f"max_depth must be at most n_lines={self.n_lines} (a chain of depth d takes "
                f"d lines), got {self.max_depth}"
            )
        if self.max_depth > self.n_vars:
            raise ValueError(
                f"max_depth must be at most n_vars={self.n_vars} (a chain of depth d uses d "
                f"different variables), got {self.max_depth}"
            )

    @property
    def variables(self) -> list[str]:
        return list(LETTERS[: self.n_vars])

    @property
    def vocab(self) -> list[str]:
        return DIGITS + self.variables + ["=", ";", "?", "BOS"]

    @property
    def seq_len(self) -> int:
        return TOKENS_PER_LINE * self.n_lines + 4

    @property
    def query_pos(self) -> int:
        """The position of the queried variable, whose logits give the answer."""
        return TOKENS_PER_LINE * self.n_lines + 2

    @staticmethod
    def value_pos(line: int | Tensor) -> int | Tensor:
        """The position of line `line`'s right-hand side (a digit or a variable)."""
        return TOKENS_PER_LINE * line + 3

    @staticmethod
    def target_pos(line: int | Tensor) -> int | Tensor:
        """The position of the variable line `line` assigns."""
        return TOKENS_PER_LINE * line + 1

    # -- generation ------------------------------------------------------------------------
    def _program(self, rng: random.Random) -> list[tuple[int, int]]:
        """One program as (variable, value) pairs; a value below 10 is a digit, else the
        variable `value - 10`. The query is the last chain variable (see `trace`)."""
        n, d = self.n_lines, rng.randint(1, self.max_depth)
        root = rng.randint(0, n - d)
        lines = [root] + sorted(rng.sample(range(root + 1, n), d - 1))
        chain = rng.sample(range(self.n_vars), d)
        busy = {}  # line -> the chain variable that must keep its value there
        for k, line in enumerate(lines):
            end = lines[k + 1] if k + 1 < d else n
            for i in range(line + 1, end):
                busy[i] = chain[k]
        program, assigned = [], set()
        for i in range(n):
            if i in lines:
                k = lines.index(i)
                value = rng.randint(0, 9) if k == 0 else 10 + chain[k - 1]
                program.append((chain[k], value))
            else:
                var = rng.choice([v for v in range(self.n_vars) if v != busy.get(i)])
                sources = sorted(assigned - {var})
                if sources and rng.random() < 0.5:
                    value = 10 + rng.choice(sources)
                else:
                    value = rng.randint(0, 9)
                program.append((var, value))
            assigned.add(program[-1][0])
        program.append((chain[-1], -1))  # the query
        return program

    def _generate(self, n: int, gen: torch.Generator, device: torch.device) -> Batch:
        # One draw from the torch generator seeds Python's: the batch stays a pure function
        # of the seed, and the loop below stays readable.
        rng = random.Random(int(torch.randint(0, 2**62, (1,), generator=gen).item()))
        var0, eq, semi, ask, bos = 10, *(self.vocab.index(t) for t in ("=", ";", "?", "BOS"))
        rows = []
        for _ in range(n):
            *lines, (query, _) = self._program(rng)
            row = [bos]
            for var, value in lines:
                row += [var0 + var, eq, value if value < 10 else var0 + value - 10, semi]
            row += [ask, var0 + query, 0]
            rows.append(row)
        tokens = torch.tensor(rows, dtype=torch.long)
        tokens[:, -1] = trace(tokens, self.n_vars)[0]
        scored = torch.zeros_like(tokens, dtype=torch.bool)
        scored[:, -1] = True
        return Batch(tokens.to(device), scored.to(device))

    # -- scoring: only the answer, read at the query position -------------------------------
    def loss(self, logits: Float[Tensor, "batch seq d_vocab"], batch: Batch) -> Float[Tensor, ""]:
        return torch.nn.functional.cross_entropy(
            logits[:, self.query_pos].float(), batch.tokens[:, -1]
        )

    @torch.no_grad()
    def metrics(self, logits: Float[Tensor, "batch seq d_vocab"], batch: Batch) -> dict[str, float]:
        """Loss, accuracy, and accuracy on the chains of each depth (`accuracy_depth_d`)
        and with the root on each line (`accuracy_root_line_i`)."""
        correct = (logits[:, self.query_pos].argmax(-1) == batch.tokens[:, -1]).cpu()
        _, depth, root = trace(batch.tokens.cpu(), self.n_vars)
        result = {
            "loss": self.loss(logits, batch).item(),
            "accuracy": correct.float().mean().item(),
        }
        for d in range(1, self.max_depth + 1):
            if (depth == d).any():
                result[f"accuracy_depth_{d}"] = correct[depth == d].float().mean().item()
        for line in range(self.n_lines):
            if (root == line).any():
                result[f"accuracy_root_line_{line}"] = correct[root == line].float().mean().item()
        return result


def trace(
    tokens: Int[Tensor, "batch seq"], n_vars: int
) -> tuple[Int[Tensor, " batch"], Int[Tensor, " batch"], Int[Tensor, " batch"]]:
    """Run each program: its answer, the depth of the queried value's chain and the line of
    its root (the line that wrote the digit). Reads the tokens only, any program length."""
    answers, lines = chains(tokens)
    depths = torch.tensor([len(chain) for chain in lines])
    roots = torch.tensor([chain[0] for chain in lines])
    return answers, depths, roots


def chains(tokens: Int[Tensor, "batch seq"]) -> tuple[Int[Tensor, " batch"], list[list[int]]]:
    """Each program's answer and the lines of its chain, root first, the line that assigns
    the queried variable last."""
    n_lines = (tokens.shape[1] - 4) // TOKENS_PER_LINE
    answers, found = [], []
    for row in tokens.tolist():
        # Each variable's current digit and the lines that brought it there.
        state: dict[int, tuple[int, list[int]]] = {}
        for i in range(n_lines):
            var, value = row[1 + 4 * i], row[3 + 4 * i]
            if value < 10:
                state[var] = (value, [i])
            else:
                digit, lines = state[value]
                state[var] = (digit, lines + [i])
        digit, lines = state[row[-2]]
        answers.append(digit)
        found.append(lines)
    return torch.tensor(answers), found
